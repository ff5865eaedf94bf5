"""`vcp sample`: draw the quarterly dip sample from a canonical input folder (CONTRACT.md).

Only `crimes.csv` and `victims.csv` are read (each must exist with all its canonical columns);
the sampler needs no events, so a folder without `events.csv` can still be sampled. Crime rows
the sample cannot place (no crime_ref, department or valid reported_at, or conflicting
duplicates) are skipped and counted in the one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample", help="draw the quarterly dip sample",
        description="Draw the quarterly stratified dip sample (CSV to stdout without --out).",
    )
    parser.add_argument("--input", required=True, type=Path, metavar="DIR",
                        help="canonical input folder (crimes.csv, victims.csv)")
    parser.add_argument("--quarter", required=True, metavar="YYYYQn", help="e.g. 2026Q1")
    parser.add_argument("--size", type=_count, default=240, metavar="N", help="sample size (default 240)")
    parser.add_argument("--min-per-stratum", type=_count, default=10, dest="minimum", metavar="M",
                        help="minimum per department (default 10)")
    parser.add_argument("--seed", metavar="TEXT", help="seed of the permanent random numbers "
                        "(default: the quarter, e.g. 2026Q1)")
    parser.add_argument("--exclude", type=Path, metavar="FILE",
                        help="CSV with a crime_ref column: crimes sampled before")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write the sample here")
    parser.set_defaults(func=run)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from vcpipeline.canonical import CRIME_COLUMNS, VICTIM_COLUMNS
    from vcpipeline.cli import UsageError
    from vcpipeline.parsing import InputError, parse_instants, read_canonical_csv
    from vcpipeline.sampling.allocation import SamplingError
    from vcpipeline.sampling.selection import draw_sample, quarter_name, sample_csv

    try:
        quarter = quarter_name(args.quarter)
        if args.seed is not None and args.seed == "":
            raise UsageError("--seed must not be empty")
        if not args.input.is_dir():
            raise InputError(f"input folder not found: {args.input}")
        crimes = read_canonical_csv(args.input / "crimes.csv", CRIME_COLUMNS)
        victims = read_canonical_csv(args.input / "victims.csv", VICTIM_COLUMNS)
        exclude = (read_canonical_csv(args.exclude, ("crime_ref",))["crime_ref"]
                   if args.exclude is not None else ())
        crimes = crimes.assign(reported_at=parse_instants(crimes["reported_at"]))
        with_victim = victims.loc[victims["victim_id"].str.strip() != "", "crime_ref"]
        sample = draw_sample(crimes, with_victim, quarter, size=args.size, minimum=args.minimum,
                             seed=args.seed, exclude=exclude)
    except (InputError, SamplingError) as exc:
        raise UsageError(str(exc)) from exc

    data = sample_csv(sample.selected).encode("utf-8")
    if args.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(data)
    skipped = len(sample.quarantine)
    print(
        f"vcp sample: {quarter}: sampled {len(sample.selected)} of {sample.population_size} crimes "
        f"in {len(sample.allocation)} strata (seed {sample.seed!r}); {sample.excluded} excluded as "
        f"sampled before; {skipped} unusable crime row(s) skipped; "
        f"population sha256 {sample.population_hash}",
        file=sys.stderr,
    )
    return 0
