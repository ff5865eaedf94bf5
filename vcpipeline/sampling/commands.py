"""`vcp sample`: draw the quarterly dip sample from a canonical input folder (CONTRACT.md).

The warehouse commands of the same workflow follow it: `vcp sample-draw` (draw and store a
quarter's sample from the warehouse), `vcp sample-worksheets` (one XLSX per department),
`vcp review-simulate` (demo reviewers), `vcp review-ingest` (load returned worksheets) and
`vcp survey` (publish and print the quarter's survey results).

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
    _register_warehouse_commands(subparsers)


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
    from vcpipeline.errors import InputError, UsageError
    from vcpipeline.parsing import parse_instants, read_canonical_csv
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


# --- the stored sample, worksheets, reviews and survey (warehouse commands) ---------------------

def _register_warehouse_commands(subparsers: argparse._SubParsersAction) -> None:
    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--quarter", required=True, metavar="YYYYQn", help="e.g. 2026Q1")
        parser.add_argument("--url", help="warehouse URL (default: VCP_WAREHOUSE_URL or the SQLite file)")

    draw = subparsers.add_parser("sample-draw", help="draw a quarter's dip sample from the warehouse and store it",
                                 description="Draw and store the quarter's dip sample (idempotent); "
                                             "crimes sampled in earlier quarters are excluded.")
    common(draw)
    draw.add_argument("--size", type=_count, default=240, metavar="N", help="sample size (default 240)")
    draw.add_argument("--min-per-stratum", type=_count, default=10, dest="minimum", metavar="M",
                      help="minimum per department (default 10)")
    draw.add_argument("--seed", metavar="TEXT", help="seed (default: the quarter)")
    draw.add_argument("--reserve", type=_count, default=10, metavar="R", help="reserves per department (default 10)")
    draw.add_argument("--force", action="store_true", help="replace a stored sample the new draw would change")
    draw.set_defaults(func=run_draw)

    sheets = subparsers.add_parser("sample-worksheets", help="write the reviewers' worksheets (one XLSX per department)")
    common(sheets)
    sheets.add_argument("--out", type=Path, metavar="DIR", help="folder (default: out/sample)")
    sheets.add_argument("--working-days", type=_count, default=None, metavar="N",
                        help="return deadline: N working days after the draw (default 20)")
    sheets.add_argument("--deadline", type=_day, metavar="YYYY-MM-DD", help="return deadline (instead of --working-days)")
    sheets.set_defaults(func=run_worksheets)

    simulate = subparsers.add_parser("review-simulate", help="demo: fill in worksheets as reviewers would")
    simulate.add_argument("--worksheets", required=True, type=Path, metavar="DIR")
    simulate.add_argument("--returns", required=True, type=Path, metavar="DIR")
    simulate.add_argument("--seed", default="demo-reviewers", metavar="TEXT")
    simulate.add_argument("--agreement", type=float, default=0.9, metavar="P",
                          help="share of answers agreeing with the automated finding (default 0.9)")
    simulate.add_argument("--response-rate", type=float, default=1.0, metavar="P",
                          help="share of crimes reviewed (default 1.0)")
    simulate.set_defaults(func=run_simulate)

    ingest = subparsers.add_parser("review-ingest", help="load returned worksheets; report refused rows")
    common(ingest)
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE_OR_DIR",
                        help="returned .xlsx files, or folders of them")
    ingest.add_argument("--errors", type=Path, metavar="FILE", help="write the per-row error report (CSV) here")
    ingest.set_defaults(func=run_ingest)

    survey = subparsers.add_parser("survey", help="publish the quarter's survey results and print the board table")
    common(survey)
    survey.add_argument("--out", type=Path, metavar="FILE", help="write the Markdown table here (default stdout)")
    survey.set_defaults(func=run_survey)


def _engine(args: argparse.Namespace):
    from vcpipeline import settings
    from vcpipeline.warehouse.db import make_engine

    return make_engine(args.url or settings.warehouse_url())


def _quarter(text: str) -> str:
    from vcpipeline.errors import UsageError
    from vcpipeline.sampling.allocation import SamplingError
    from vcpipeline.sampling.selection import quarter_name

    try:
        return quarter_name(text)
    except SamplingError as exc:
        raise UsageError(str(exc)) from exc


def _day(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def run_draw(args: argparse.Namespace) -> int:
    from vcpipeline.errors import UsageError
    from vcpipeline.sampling.allocation import SamplingError
    from vcpipeline.sampling.store import draw_and_store_sample

    quarter = _quarter(args.quarter)
    if args.seed == "":
        raise UsageError("--seed must not be empty")
    engine = _engine(args)
    try:
        stored = draw_and_store_sample(engine, quarter, size=args.size, minimum=args.minimum, seed=args.seed,
                                       reserve_size=args.reserve, force=args.force)
    except SamplingError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        engine.dispose()
    sample = stored.sample
    print(f"vcp sample-draw: {stored.sample_id} {stored.status}: {len(sample.selected)} of "
          f"{sample.population_size} crimes in {len(sample.allocation)} strata (seed {sample.seed!r}); "
          f"{sample.excluded} excluded as sampled before; population sha256 {sample.population_hash}",
          file=sys.stderr)
    return 0


def run_worksheets(args: argparse.Namespace) -> int:
    from vcpipeline import settings
    from vcpipeline.errors import UsageError
    from vcpipeline.sampling.worksheets import REVIEW_WORKING_DAYS, write_worksheets

    quarter = _quarter(args.quarter)
    if args.deadline is not None and args.working_days is not None:
        raise UsageError("give --deadline or --working-days, not both")
    folder = args.out or settings.out_dir() / "sample"
    engine = _engine(args)
    try:
        paths = write_worksheets(engine, quarter, folder, deadline=args.deadline,
                                 working_days=REVIEW_WORKING_DAYS if args.working_days is None else args.working_days)
    except LookupError as exc:
        raise UsageError(str(exc.args[0])) from exc
    finally:
        engine.dispose()
    print(f"vcp sample-worksheets: {quarter}: {len(paths)} worksheet(s) in {folder}", file=sys.stderr)
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from vcpipeline.errors import UsageError
    from vcpipeline.sampling.simulate import simulate_returns

    if not args.worksheets.is_dir():
        raise UsageError(f"worksheet folder not found: {args.worksheets}")
    for name, value in (("--agreement", args.agreement), ("--response-rate", args.response_rate)):
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"{name} must be between 0 and 1, got {value}")
    written = simulate_returns(sorted(args.worksheets.glob("*.xlsx")), args.returns, seed=args.seed,
                               agreement_rate=args.agreement, response_rate=args.response_rate)
    print(f"vcp review-simulate: {len(written)} returned worksheet(s) in {args.returns}", file=sys.stderr)
    return 0


def run_ingest(args: argparse.Namespace) -> int:
    from vcpipeline.errors import UsageError
    from vcpipeline.sampling.reviews import ingest_returns

    quarter = _quarter(args.quarter)
    files: list[Path] = []
    for path in args.files:
        if path.is_dir():
            files.extend(sorted(path.glob("*.xlsx")))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {path}")
    engine = _engine(args)
    try:
        report = ingest_returns(engine, quarter, files)
    except LookupError as exc:
        raise UsageError(str(exc.args[0])) from exc
    finally:
        engine.dispose()
    if args.errors is not None:
        report.write_errors(args.errors)
    elif len(report.errors):
        sys.stdout.write(report.errors.to_csv(index=False, lineterminator="\n"))
    print(f"vcp review-ingest: {report.summary()}", file=sys.stderr)
    return 0


def run_survey(args: argparse.Namespace) -> int:
    from vcpipeline.errors import UsageError
    from vcpipeline.sampling.results import (
        board_table,
        publish_survey_results,
        read_survey_coverage,
        render_markdown,
    )
    from vcpipeline.sampling.reviewer_standard import read_reviewer_standard

    quarter = _quarter(args.quarter)
    engine = _engine(args)
    try:
        results = publish_survey_results(engine, quarter)
        reviewers = read_reviewer_standard(engine, quarter)
        coverage = read_survey_coverage(engine, quarter)
    except LookupError as exc:
        raise UsageError(str(exc.args[0])) from exc
    finally:
        engine.dispose()
    text = render_markdown(board_table(results), f"Latest Victims Code Survey Results, {quarter}", reviewers,
                           coverage)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    print(f"vcp survey: {quarter}: results for {results['question'].nunique()} questions in "
          f"{results['domain'].nunique()} domain(s) stored in survey_results", file=sys.stderr)
    return 0
