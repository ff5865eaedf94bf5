"""`vcp ingest` and `vcp quarantine list|replay`: the nightly load from the command line.

    vcp ingest --start 2026-07-01T02:00 --end 2026-07-08T02:00 [--nightly] [--source S ...]
    vcp ingest --all-until 2026-10-15T00:00 [--source S ...]
    vcp quarantine list [--source S] [--all]
    vcp quarantine replay [--source S] [--batch B]

Timestamps are ISO 8601; without an offset they are Europe/London local time. `--all-until`
loads everything the sources hold before the instant as one batch per source (what `make demo`
does before Airflow takes over). Sources run in `sources.toml` order, crimes first.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from vcpipeline.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    ingest = subparsers.add_parser(
        "ingest", help="extract, validate and load the sources into the warehouse",
        description=__doc__.splitlines()[0])
    ingest.add_argument("--start", help="data interval start (ISO 8601; naive = Europe/London)")
    ingest.add_argument("--end", help="data interval end (exclusive)")
    ingest.add_argument("--nightly", action="store_true",
                        help="one batch per local day of [start, end), as the nightly DAG runs")
    ingest.add_argument("--all-until", dest="all_until",
                        help="load everything before this instant (one batch per source)")
    ingest.add_argument("--source", action="append", default=None,
                        help="only this source (repeatable; default: every configured source)")
    ingest.add_argument("--url", help="warehouse URL (default: VCP_WAREHOUSE_URL or the SQLite file)")
    ingest.add_argument("--data-docs", dest="data_docs", default=None,
                        help="Data Docs folder (default: OUT/data_docs)")
    ingest.add_argument("--no-data-docs", dest="no_data_docs", action="store_true",
                        help="skip building Data Docs (faster)")
    ingest.set_defaults(func=run_ingest)

    quarantine = subparsers.add_parser("quarantine", help="rows that failed validation: list, replay")
    actions = quarantine.add_subparsers(dest="quarantine_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="open quarantined rows by source, entity and reason")
    listing.add_argument("--source", help="only this source (name in sources.toml)")
    listing.add_argument("--batch", help="only this batch id (one source's night, as the digest names it)")
    listing.add_argument("--all", action="store_true", help="include rows already replayed")
    listing.add_argument("--url", help="warehouse URL")
    listing.set_defaults(func=run_list)
    replay = actions.add_parser("replay", help="re-process quarantined rows after a fix")
    replay.add_argument("--source", help="only this source (name in sources.toml)")
    replay.add_argument("--batch", help="only this batch id")
    replay.add_argument("--url", help="warehouse URL")
    replay.set_defaults(func=run_replay)


def parse_instant(text: str, option: str) -> datetime:
    """ISO 8601 to an aware UTC datetime (the edge's one conversion, `instants.utc_instant`);
    without an offset, Europe/London wall time."""
    from zoneinfo import ZoneInfo

    from vcpipeline.instants import LONDON, utc_instant

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{option}: not an ISO 8601 timestamp: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(LONDON))
    return utc_instant(value, option)


def _url(args: argparse.Namespace) -> str:
    from vcpipeline import settings

    return args.url or settings.warehouse_url()


def _intervals(args: argparse.Namespace) -> list[tuple[datetime, datetime]]:
    from vcpipeline.ingest.windows import EPOCH, nightly_intervals

    if args.all_until:
        if args.start or args.end or args.nightly:
            raise UsageError("give either --all-until or --start/--end, not both")
        return [(EPOCH, parse_instant(args.all_until, "--all-until"))]
    if not (args.start and args.end):
        raise UsageError("give --start and --end (or --all-until)")
    start, end = parse_instant(args.start, "--start"), parse_instant(args.end, "--end")
    if end <= start:
        raise UsageError("--end must be after --start")
    return nightly_intervals(start, end) if args.nightly else [(start, end)]


def _engine(url: str):
    from vcpipeline.warehouse.db import display_url, make_engine
    from vcpipeline.warehouse.migrate import current

    try:
        revision = current(url)
    except Exception as exc:
        raise UsageError(f"{display_url(url)}: {str(exc).splitlines()[0]}") from None
    if revision is None:
        raise UsageError(f"warehouse {display_url(url)} has no schema: run `vcp db upgrade` first")
    return make_engine(url)


def _configs(names: list[str] | None):
    from vcpipeline.sources.config import load_source_config

    configs = load_source_config()
    if names:
        unknown = sorted(set(names) - {config.name for config in configs})
        if unknown:
            raise UsageError(f"unknown source(s): {', '.join(unknown)}")
    return configs


def run_ingest(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vcpipeline import settings
    from vcpipeline.errors import InputError
    from vcpipeline.ingest.run import run_source_batch

    intervals = _intervals(args)
    configs = _configs(args.source)
    chosen = [config for config in configs if not args.source or config.name in args.source]
    docs = None if args.no_data_docs else Path(args.data_docs or settings.out_dir() / "data_docs")
    engine = _engine(_url(args))
    failed = 0
    try:
        for start, end in intervals:
            for config in chosen:
                try:
                    result = run_source_batch(config, start, end, engine, configs=configs,
                                              data_docs=docs)
                except InputError as exc:
                    failed += 1
                    print(f"{config.name:16} {start:%Y-%m-%dT%H:%MZ}..{end:%Y-%m-%dT%H:%MZ} "
                          f"FAILED: {exc}")
                    continue
                print(_line(result))
                failed += result.status != "succeeded"
    finally:
        engine.dispose()
    if failed:
        print(f"vcp ingest: {failed} batch(es) failed", file=sys.stderr)
    return 1 if failed else 0


def _line(result) -> str:
    span = (f"..{result.interval_end:%Y-%m-%dT%H:%MZ}" if result.full and result.interval_start.year == 1970
            else f"{result.interval_start:%Y-%m-%dT%H:%MZ}..{result.interval_end:%Y-%m-%dT%H:%MZ}")
    if result.status != "succeeded":
        return f"{result.source:16} {span} FAILED: {result.message}"
    text = (f"{result.source:16} {span} extracted {result.rows_extracted:>8,}  "
            f"loaded {result.rows_loaded:>8,}  quarantined {result.rows_quarantined:>6,}  "
            f"({'full' if result.full else 'incremental'}; {result.read})")
    if result.healed:
        text += f"; replayed {result.healed:,} earlier row(s) whose crime arrived"
    return text


def run_list(args: argparse.Namespace) -> int:
    from vcpipeline.ingest.replay import quarantine_summary

    configs = _configs([args.source] if args.source else None)
    system = next((c.system for c in configs if c.name == args.source), None)
    engine = _engine(_url(args))
    try:
        with engine.connect() as conn:
            summary = quarantine_summary(conn, source_system=system, include_replayed=args.all,
                                         batch_id=args.batch)
    finally:
        engine.dispose()
    if summary.empty:
        print("quarantine is empty" if args.all else "no open quarantined rows")
        return 0
    print(summary.to_string(index=False))
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from datetime import UTC

    from vcpipeline.ingest.replay import replay_quarantined

    configs = _configs([args.source] if args.source else None)
    engine = _engine(_url(args))
    try:
        with engine.begin() as conn:
            result = replay_quarantined(conn, configs, source=args.source, batch_id=args.batch,
                                        replayed_at=datetime.now(UTC))
    finally:
        engine.dispose()
    print(f"replayed {result.replayed:,} of {result.considered:,} open quarantined row(s); "
          f"{result.still_quarantined:,} still fail"
          + (f"; {result.not_replayable:,} without a usable raw row" if result.not_replayable else ""))
    return 0
