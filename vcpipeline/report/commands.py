"""`vcp report`: write a period's compliance report (HTML, with its tables as CSV and Parquet)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="write the Victims Code compliance report for a quarter or a month",
        description="Write victims-code-<period>.html (self-contained, prints well) and its tables "
                    "as CSV and Parquet, from the warehouse's summary tables.")
    parser.add_argument("--period", required=True, help="a quarter (2026Q1) or a month (2026-03)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the report (default: out/report, or $VCP_OUT_DIR/report)")
    parser.add_argument("--url", default=None,
                        help="warehouse URL (default: $VCP_WAREHOUSE_URL or sqlite:///var/warehouse.db)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vcpipeline.errors import UsageError
    from vcpipeline.report.periods import PeriodError, parse_period

    try:
        parse_period(args.period)
    except PeriodError as exc:
        raise UsageError(str(exc)) from None
    import sqlalchemy as sa

    from vcpipeline.report.run import build_period_report
    from vcpipeline.warehouse.db import display_url

    try:
        page = build_period_report(args.url, args.period, args.out)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        from vcpipeline import settings

        url = display_url(args.url or settings.warehouse_url())
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        raise UsageError(f"cannot read the summary tables in {url} ({reason}): "
                         "run `vcp db upgrade` and the nightly run first") from None
    print(page, file=sys.stdout)
    return 0
