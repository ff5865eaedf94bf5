"""Extract, validate and load ~1M source rows (a generated force) into a fresh warehouse.

    .venv/bin/python benchmarks/bench_ingest.py [--crimes 111000] [--postgres URL] [--keep DIR]

Generates the force's four systems once (not timed) into a temporary folder, then runs one
`--all-until` batch per source (`vcpipeline.ingest.run.run_source_batch`) into a fresh SQLite
warehouse and, with `--postgres`, into a fresh PostgreSQL database. Prints rows, wall and CPU
time per stage (read, map to canonical, validate, load) and the process's peak RSS. ~9 source
rows per crime: 111,000 crimes ≈ 1M rows. Figures go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from vcpipeline.ingest import run as ingest_run
from vcpipeline.ingest.windows import EPOCH
from vcpipeline.sources.config import load_source_config
from vcpipeline.synth.force import ForceSpec, generate_force
from vcpipeline.synth.write import write_force
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.migrate import upgrade

STAGES = {"read_native": "read", "canonical_by_origin": "map", "validate_source": "validate",
          "load_validated": "load (one transaction)"}


ORIGINALS = {name: getattr(ingest_run, name) for name in STAGES}


def instrument(timings: dict[str, list[float]]) -> None:
    """Wrap the batch's stages in `run` with wall/CPU timers."""
    for name, label in STAGES.items():
        original = ORIGINALS[name]

        def timed(*args, __original=original, __label=label, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return __original(*args, **kwargs)
            finally:
                timings[__label][0] += time.perf_counter() - wall
                timings[__label][1] += time.process_time() - cpu

        setattr(ingest_run, name, timed)


@contextmanager
def postgres_database(base: str):
    name = f"vcp_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def ingest(url: str, configs, until) -> None:
    upgrade(url)
    engine = make_engine(url)
    timings: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    instrument(timings)
    wall, cpu = time.perf_counter(), time.process_time()
    rows = 0
    try:
        for config in configs:
            started = time.perf_counter()
            result = ingest_run.run_source_batch(config, EPOCH, until, engine, configs=configs)
            rows += result.rows_extracted
            print(f"  {config.name:16} {result.status:9} {result.rows_extracted:>9,} rows "
                  f"({result.rows_loaded:,} loaded, {result.rows_quarantined:,} quarantined) "
                  f"{time.perf_counter() - started:6.1f} s")
    finally:
        engine.dispose()
        for name, original in ORIGINALS.items():  # unwrap for the next backend
            setattr(ingest_run, name, original)
    total_wall, total_cpu = time.perf_counter() - wall, time.process_time() - cpu
    for label, (w, c) in timings.items():
        print(f"  stage {label:24} wall {w:6.1f} s  CPU {c:6.1f} s")
    print(f"  TOTAL {rows:,} source rows: wall {total_wall:.1f} s, CPU {total_cpu:.1f} s, "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crimes", type=int, default=111_000)
    parser.add_argument("--postgres", help="a PostgreSQL server URL; a throw-away database is used")
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="vcp-bench-ingest-"))
    configs = load_source_config(var=root)
    spec = ForceSpec(crimes=args.crimes, start=date(2026, 7, 1), days=92, seed=42)
    if not (root / "sources" / "crime_recording.db").exists():
        started = time.perf_counter()
        write_force(generate_force(spec, configs).native, configs)
        print(f"generated {args.crimes:,} crimes in {time.perf_counter() - started:.0f} s (not timed)")
    until = spec.extracted_at.to_pydatetime() + timedelta(days=2)
    try:
        print("SQLite")
        ingest(f"sqlite:///{root / 'bench-warehouse.db'}", configs, until)
        if args.postgres:
            print("PostgreSQL")
            with postgres_database(args.postgres) as url:
                ingest(url, configs, until)
    finally:
        (root / "bench-warehouse.db").unlink(missing_ok=True)
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
