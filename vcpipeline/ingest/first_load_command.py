"""`vcp first-load`: a force's history loaded in chunks without Airflow (`ingest.first_load`).

    vcp first-load --from 2021-04-01T02:00 --to 2026-04-01T02:00 [--period month|week|day]
                   [--source S ...] [--plan] [--no-evaluate] [--partitions P]

Timestamps are ISO 8601; without an offset they are Europe/London local time. Chunks load one
after another, the crime recording system's first; the first failing chunk stops the run, and
running the same command again resumes it (chunks already loaded are skipped). Then the counts
are reconciled and, unless `--no-evaluate`, the obligations are evaluated as of `--to` and the
summaries built, as the first-load DAG does.
"""

from __future__ import annotations

import argparse
import sys

from vcpipeline.errors import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "first-load", help="load a force's history in chunks (source x period), resumably",
        description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", required=True,
                        help="start of the history (ISO 8601; naive = Europe/London)")
    parser.add_argument("--to", dest="end", required=True,
                        help="end (exclusive): where the nightly DAG takes over, e.g. 02:00 local")
    parser.add_argument("--period", default="month", choices=("month", "week", "day"),
                        help="chunk length (default: month)")
    parser.add_argument("--source", action="append", default=None,
                        help="only this source (repeatable; default: every configured source)")
    parser.add_argument("--plan", action="store_true", help="list the chunks and stop")
    parser.add_argument("--no-evaluate", dest="evaluate", action="store_false",
                        help="load only: no evaluation or summaries afterwards")
    parser.add_argument("--partitions", type=int, default=None,
                        help="P for the evaluation (default: VCP_PARTITIONS or the warehouse's)")
    parser.add_argument("--url", help="warehouse URL (default: VCP_WAREHOUSE_URL or the SQLite file)")
    parser.add_argument("--data-docs", dest="data_docs", default=None,
                        help="Data Docs folder (default: OUT/data_docs)")
    parser.add_argument("--no-data-docs", dest="no_data_docs", action="store_true",
                        help="skip building Data Docs (faster)")
    parser.set_defaults(func=run_first_load)


def _chunk_line(result) -> str:
    if result.status == "skipped":
        return f"{result.chunk.label:40} already loaded: skipped"
    return (f"{result.chunk.label:40} extracted {result.rows_extracted:>9,}  loaded "
            f"{result.rows_loaded:>9,}  quarantined {result.rows_quarantined:>7,}  "
            f"({result.extract}; {result.wall_seconds:.1f} s, {result.peak_rss_mb:,.0f} MB peak)")


def run_first_load(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vcpipeline import settings
    from vcpipeline.ingest import first_load
    from vcpipeline.ingest.commands import _configs, _engine, parse_instant

    start, end = parse_instant(args.start, "--from"), parse_instant(args.end, "--to")
    if end <= start:
        raise UsageError("--to must be after --from")
    if args.partitions is not None and args.partitions < 1:
        raise UsageError("--partitions must be at least 1")
    configs = _configs(args.source)
    chunks = first_load.plan_chunks(configs, start, end, args.period, args.source)
    if args.plan:
        for chunk in chunks:
            print(f"{chunk.label:40} batch {chunk.batch_id}")
        print(f"{len(chunks)} chunk(s)")
        return 0
    docs = None if args.no_data_docs else Path(args.data_docs or settings.out_dir() / "data_docs")
    engine = _engine(args.url or settings.warehouse_url())
    try:
        try:
            first_load.run_first_load(configs, chunks, engine, data_docs=docs,
                                      on_chunk=lambda result: print(_chunk_line(result), flush=True))
        except Exception as exc:
            print(f"vcp first-load: stopped: {type(exc).__name__}: {exc}\n"
                  "run the same command again to resume (chunks already loaded are skipped)",
                  file=sys.stderr)
            return 1
        totals = first_load.reconcile(engine, chunks)
        print(f"reconciled: {totals['chunks']} chunk(s), {totals['rows_extracted']:,} extracted = "
              f"{totals['rows_loaded']:,} loaded + {totals['rows_quarantined']:,} quarantined")
        if args.evaluate:
            from vcpipeline.rules.store import refresh_obligations
            from vcpipeline.rules.summaries import load_summaries

            evaluated = refresh_obligations(engine, end, partitions=args.partitions)
            load_summaries(engine, end)
            print(f"obligations as of {end:%Y-%m-%dT%H:%MZ}: {evaluated.get('mode', '')} evaluation, "
                  f"{evaluated.get('partitions', 1)} partition(s); summaries built")
    finally:
        engine.dispose()
    return 0
