"""`vcp return`: the force's quarterly compliance return; `vcp return combine`: regional tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "return", help="write the force's quarterly compliance return (or combine returns)",
        description="Write victims-code-return-<FORCE>-<quarter>-v<issue>: CSV, Table Schema, manifest "
                    "(SHA-256) and a one-page HTML, from the warehouse's summary tables. "
                    "`vcp return combine RETURN... --out DIR` adds verified returns up.")
    parser.add_argument("--quarter", help="the quarter, e.g. 2026Q3")
    parser.add_argument("--force", default=None, help="the force's code (default: $VCP_FORCE_CODE)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the return (default: out/returns, or $VCP_OUT_DIR/returns)")
    parser.add_argument("--url", default=None,
                        help="warehouse URL (default: $VCP_WAREHOUSE_URL or sqlite:///var/warehouse.db)")
    parser.set_defaults(func=run)
    nested = parser.add_subparsers(dest="return_command", metavar="combine")
    combine = nested.add_parser("combine", help="verify returns and build the regional or national tables",
                                description="Verify each return against its schema and checksum and write "
                                            "combined-<quarter>.csv and .html: each force side by side, "
                                            "totals from the counts, suppression kept.")
    combine.add_argument("returns", nargs="+", type=Path, metavar="RETURN",
                         help="a return's manifest (or any of its files)")
    combine.add_argument("--out", type=Path, required=True, dest="combine_out", metavar="DIR",
                         help="folder for the combined tables")
    combine.set_defaults(func=run_combine)


def run(args: argparse.Namespace) -> int:
    from vcpipeline.errors import UsageError

    if not args.quarter:
        raise UsageError("--quarter is required (or use `vcp return combine`)")
    import sqlalchemy as sa

    from vcpipeline.returns.run import build_return, force_code
    from vcpipeline.warehouse.db import display_url

    force = force_code(args.force)
    try:
        manifest = build_return(args.url, args.quarter, force, args.out)
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        from vcpipeline import settings

        url = display_url(args.url or settings.warehouse_url())
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        raise UsageError(f"cannot read the summary tables in {url} ({reason}): "
                         "run `vcp db upgrade` and the nightly run first") from None
    print(manifest, file=sys.stdout)
    return 0


def run_combine(args: argparse.Namespace) -> int:
    from vcpipeline.errors import InputError
    from vcpipeline.returns.run import combine_files
    from vcpipeline.returns.table import ReturnError

    try:
        page = combine_files(args.returns, args.combine_out)
    except ReturnError as exc:
        raise InputError(str(exc)) from None
    print(page, file=sys.stdout)
    return 0
