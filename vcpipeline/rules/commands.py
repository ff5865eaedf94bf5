"""`vcp sla`: evaluate every obligation of every victim in a canonical folder as of an instant."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sla", help="obligations.csv for a canonical folder as of an instant",
        description="Evaluate every Victims Code obligation of every victim in DIR as of "
                    "TIMESTAMP (see shared/domain/CONTRACT.md).")
    parser.add_argument("--input", required=True, type=Path, metavar="DIR",
                        help="canonical folder: crimes.csv, victims.csv, events.csv")
    parser.add_argument("--as-of", required=True, metavar="TIMESTAMP",
                        help="ISO 8601 instant; without an offset it is Europe/London time")
    parser.add_argument("--out", type=Path, metavar="FILE", help="obligations.csv (default: stdout)")
    parser.add_argument("--quarantine", type=Path, metavar="FILE",
                        help="write the rows that could not be used here, with a reason column")
    parser.add_argument("--rulesets", type=Path, metavar="FILE",
                        help="rule-set file (default: the packaged rulesets.toml)")
    parser.set_defaults(func=run_sla)


def parse_as_of(text: str):
    """The --as-of instant in UTC; a one-line UsageError when it is not an ISO 8601 instant."""
    import pandas as pd

    from vcpipeline.cli import UsageError
    from vcpipeline.parsing import parse_instants

    parsed = parse_instants(pd.Series([text], dtype="string")).iloc[0]
    if pd.isna(parsed):
        raise UsageError(f"--as-of {text!r} is not an ISO 8601 instant (e.g. 2026-03-31T12:00:00Z)")
    return parsed


def run_sla(args: argparse.Namespace) -> int:
    from vcpipeline.parsing import read_canonical_folder
    from vcpipeline.rules.engine import evaluate, write_obligations_csv
    from vcpipeline.rules.prepare import prepare
    from vcpipeline.rules.ruleset import load_rulesets

    as_of = parse_as_of(args.as_of)
    rulesets = load_rulesets(args.rulesets)
    raw = read_canonical_folder(args.input)
    prepared = prepare(raw, as_of)
    obligations = evaluate(prepared.crimes, prepared.victims, prepared.events, as_of, rulesets)
    if args.out is None:
        write_obligations_csv(obligations, sys.stdout)
    else:
        write_obligations_csv(obligations, args.out)
    if args.quarantine is not None:
        prepared.quarantine.to_csv(args.quarantine, index=False, lineterminator="\n")
    print(f"vcp sla: {summary_line(prepared.counts, obligations)}", file=sys.stderr)
    return 0


def summary_line(counts: dict[str, int], obligations) -> str:
    """One line of counts for stderr and logs (no identifiers, no personal data)."""
    from vcpipeline.canonical import STATUSES

    read = ", ".join(f"{counts[f'{n}_read']} {n}" for n in ("crimes", "victims", "events"))
    statuses = obligations["status"].value_counts()
    by_status = ", ".join(f"{int(statuses.get(s, 0))} {s}" for s in STATUSES)
    return (f"read {read}; quarantined {counts['quarantined']}, superseded {counts['superseded']}; "
            f"{len(obligations)} obligations ({by_status})")
