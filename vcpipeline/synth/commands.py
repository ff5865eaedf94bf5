"""`vcp generate`: build the synthetic force's four source systems on disk.

    vcp generate [--out DIR] [--crimes N] [--start DATE --days N | --quarter 2026Q3]
                 [--seed 42] [--tail-days 14] [--attrition-effect 0.08] [--summary] [--summary-csv FILE]

Writes DIR/sources/*.db and DIR/landing/{victim_support,witness_care}/ (DIR defaults to the
var folder), exactly where `sources.toml` looks. `--summary` prints the on-time rates measured
in what was generated, per owning department and rule, with the shares WAIVED and met by the
victim's agreed method.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

DEFAULT_CRIMES = 80_000   # one quarter of a force the size of West Midlands Police
DEFAULT_START = date(2026, 7, 1)
DEFAULT_DAYS = 92


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate", help="generate the synthetic force's source systems",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--out", type=Path, default=None,
                        help="root folder for sources/ and landing/ (default: the var folder)")
    parser.add_argument("--crimes", type=int, default=DEFAULT_CRIMES, help="crimes to generate")
    parser.add_argument("--start", type=date.fromisoformat, default=None,
                        help="first local report date, YYYY-MM-DD (default 2026-07-01)")
    parser.add_argument("--days", type=int, default=None, help="days of reports (default 92)")
    parser.add_argument("--quarter", default=None, help="a calendar quarter instead, e.g. 2026Q3")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same bytes)")
    parser.add_argument("--tail-days", type=int, default=14,
                        help="days after the last report day at which the extract is taken")
    parser.add_argument("--attrition-effect", type=float, default=None,
                        help="share of crimes whose victim got an update late or never that end in outcome "
                             "14/16 instead (0: no link; default the calibration's)")
    parser.add_argument("--summary", action="store_true",
                        help="print the measured on-time rates per department and rule")
    parser.add_argument("--summary-csv", type=Path, default=None,
                        help="also write the measured rates as CSV")
    parser.set_defaults(func=run)


def quarter_window(quarter: str) -> tuple[date, int]:
    """`2026Q3` (also `2026-Q3`, `2026 q3`) → (first day, number of days)."""
    from vcpipeline.errors import UsageError
    from vcpipeline.periods import PeriodError, parse_quarter

    try:
        period = parse_quarter(quarter, spelling="dashed")
    except PeriodError:
        raise UsageError(f"--quarter must look like 2026Q3, got {quarter!r}") from None
    return period.first, (period.after - period.first).days


def run(args: argparse.Namespace) -> int:
    from vcpipeline.errors import UsageError

    if args.quarter and (args.start or args.days):
        raise UsageError("give either --quarter or --start/--days, not both")
    if args.quarter:
        start, days = quarter_window(args.quarter)
    else:
        start, days = args.start or DEFAULT_START, args.days or DEFAULT_DAYS
    if args.crimes < 1 or days < 1 or args.tail_days < 0:
        raise UsageError("--crimes and --days must be positive and --tail-days not negative")

    from vcpipeline.settings import var_dir
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.synth.force import ForceSpec, generate_force
    from vcpipeline.synth.write import write_force

    root = args.out if args.out is not None else var_dir()
    configs = load_source_config(var=root)
    spec = ForceSpec(crimes=args.crimes, start=start, days=days, seed=args.seed, tail_days=args.tail_days,
                     **({} if args.attrition_effect is None else {"attrition_effect": args.attrition_effect}))
    force = generate_force(spec, configs)
    write_force(force.native, configs)
    bad = force.bad_rows.groupby("kind").size()
    print(f"vcp generate: {spec.crimes} crimes reported {spec.start}..+{spec.days}d, seed {spec.seed}, "
          f"extract taken at {spec.extracted_at.strftime('%Y-%m-%dT%H:%M:%SZ')}, into {root}; bad rows: "
          + ", ".join(f"{kind} {count}" for kind, count in bad.items()), file=sys.stderr)

    if args.summary or args.summary_csv:
        from vcpipeline.synth.summary import (
            canonical_rows,
            force_figures,
            measured_rates,
            rates_table,
        )

        rates = measured_rates(canonical_rows(force.native, configs), spec.extracted_at)
        if args.summary_csv:
            args.summary_csv.parent.mkdir(parents=True, exist_ok=True)
            rates.to_csv(args.summary_csv, index=False, lineterminator="\n")
        if args.summary:
            print(f"On-time rates (%) measured in the generated rows by owning department, as of "
                  f"{spec.extracted_at:%Y-%m-%d %H:%M} UTC; waived: share of obligations WAIVED; "
                  "agreed method: share of met updates by the victim's agreed method")
            print(rates_table(rates).to_string())
            figures = force_figures(rates)
            print(f"Force-wide: {figures['waived']}% of obligations waived; "
                  f"{figures['agreed method']}% of met updates by the victim's agreed method")
    return 0
