"""Benchmark: bulk loading canonical crimes, victims and events into the warehouse.

Generates the frames synthetically here (no generator needed): N crimes, 1.2 N victims and
10 N events, loads them in one batch (one transaction) into a fresh SQLite file and/or a fresh
PostgreSQL schema, and prints wall time, rows/s and the peak resident memory seen while each
table loads. `--rerun` loads the same night again (every row a conflict: the update path).

    .venv/bin/python benchmarks/bench_load.py --crimes 100000 1000000 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/vcp_warehouse_bench

The PostgreSQL database must exist; its `public` schema is dropped and recreated.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.canonical import DEPARTMENTS, EVENT_TYPES
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.load import (
    finish_batch,
    start_batch,
    upsert_crimes,
    upsert_events,
    upsert_victims,
)
from vcpipeline.warehouse.migrate import upgrade

NIGHT_START = datetime(2026, 6, 4, 23, 0, tzinfo=UTC)
NIGHT_END = datetime(2026, 6, 5, 23, 0, tzinfo=UTC)
EXTRACTED = pd.Timestamp("2026-06-05T23:05:00Z")
_PAGE = 4096


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


@contextmanager
def peak_rss() -> Iterator[list[int]]:
    """Samples resident memory every 20 ms while the block runs; yields [peak] when done."""
    peak = [_rss_bytes()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], _rss_bytes())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()
        peak[0] = max(peak[0], _rss_bytes())


def synthetic_night(n_crimes: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Canonical frames shaped like a force's extract: 1.2 victims and 10 events per crime."""
    rng = np.random.default_rng(seed)
    crime_no = pd.Series(np.arange(n_crimes)).astype("str")
    crime_ref = "CR" + crime_no.str.zfill(8)
    reported = pd.Timestamp("2025-01-01T00:00:00Z") + pd.to_timedelta(
        rng.integers(0, 500 * 86_400, n_crimes), unit="s"
    )
    crimes = pd.DataFrame({
        "crime_ref": crime_ref,
        "reported_at": pd.Series(reported).dt.as_unit("us"),
        "department": rng.choice(np.array(DEPARTMENTS), n_crimes),
        "offence_category": rng.choice(np.array(["burglary", "assault", "theft", "fraud"]), n_crimes),
        "domestic_abuse": pd.array(rng.random(n_crimes) < 0.15, dtype="boolean"),
        "hate_crime": pd.array(rng.random(n_crimes) < 0.03, dtype="boolean"),
        "team": rng.choice(np.array(["North", "South", "East", "West"]), n_crimes),
        "officer_collar": pd.Series(rng.integers(1000, 9999, n_crimes)).astype("str"),
        "source_system": "crs",
        "source_row_id": "crs-" + crime_no,
        "extracted_at": EXTRACTED,
    })
    # Every crime has victim V1; a fifth also have V2.
    second = np.flatnonzero(rng.random(n_crimes) < 0.2)
    victim_crime = np.concatenate([np.arange(n_crimes), second])
    n_victims = len(victim_crime)
    victims = pd.DataFrame({
        "crime_ref": crime_ref.to_numpy()[victim_crime],
        "victim_id": np.where(np.arange(n_victims) < n_crimes, "V1", "V2"),
        "age_at_report": pd.array(
            np.where(rng.random(n_victims) < 0.1, None, rng.integers(10, 90, n_victims)),
            dtype="Int64",
        ),
        "vulnerable": pd.array(rng.random(n_victims) < 0.1, dtype="boolean"),
        "intimidated": pd.array(rng.random(n_victims) < 0.05, dtype="boolean"),
        "persistently_targeted": pd.array(rng.random(n_victims) < 0.05, dtype="boolean"),
        "source_system": "crs",
        "source_row_id": "crs-v-" + pd.Series(np.arange(n_victims)).astype("str"),
        "extracted_at": EXTRACTED,
    })
    n_events = 10 * n_crimes
    event_crime = np.repeat(np.arange(n_crimes), 10)
    event_no = pd.Series(np.arange(n_events)).astype("str")
    event_type = rng.choice(np.array(sorted(EVENT_TYPES)), n_events)
    events = pd.DataFrame({
        "event_id": "EV" + event_no.str.zfill(9),
        "crime_ref": crime_ref.to_numpy()[event_crime],
        "victim_id": np.where(rng.random(n_events) < 0.3, None, "V1"),
        "event_type": event_type,
        "occurred_at": pd.DatetimeIndex(crimes["reported_at"])[event_crime]
        + pd.to_timedelta(rng.integers(0, 60 * 86_400, n_events), unit="s"),
        "in_need": pd.array(
            np.where(event_type == "NEEDS_ASSESSMENT", rng.random(n_events) < 0.5, None),
            dtype="boolean",
        ),
        "outcome_code": pd.array(
            np.where(event_type == "CRIME_FINALISED", rng.integers(0, 23, n_events), None),
            dtype="Int64",
        ),
        "court_result": np.where(event_type == "COURT_OUTCOME", "SENTENCED", None),
        "channel": rng.choice(np.array(["letter", "email", "sms", "phone", "visit"]), n_events),
        "source_system": "cms",
        "source_row_id": "cms-" + event_no,
        "extracted_at": EXTRACTED,
    })
    events["occurred_at"] = events["occurred_at"].dt.as_unit("us")
    return {"crimes": crimes, "victims": victims, "events": events}


UPSERTS: dict[str, Callable[[sa.Connection, pd.DataFrame, str], int]] = {
    "crimes": upsert_crimes, "victims": upsert_victims, "events": upsert_events,
}


def fresh_warehouse(backend: str, postgres_url: str | None, workdir: Path) -> str:
    if backend == "sqlite":
        path = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        assert postgres_url
        url = postgres_url
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    return url


def _server_cpu_seconds(conn: sa.Connection) -> Callable[[], float]:
    """CPU seconds of this connection's PostgreSQL backend (same host), else 0: on a busy
    machine wall time mostly measures the neighbours, CPU time measures us."""
    from backend_cpu import backends_cpu_seconds  # beside this script

    if conn.dialect.name != "postgresql":
        return lambda: 0.0
    pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    return lambda: backends_cpu_seconds([pid])


def load_night(url: str, night: dict[str, pd.DataFrame], label: str) -> None:
    engine = make_engine(url)
    total_rows = sum(len(frame) for frame in night.values())
    started = time.perf_counter()
    with engine.connect() as conn:
        transaction = conn.begin()
        batch = start_batch(conn, "bench", NIGHT_START, NIGHT_END)
        server_cpu = _server_cpu_seconds(conn)
        for name, frame in night.items():
            with peak_rss() as peak:
                t0, cpu0, server0 = time.perf_counter(), time.process_time(), server_cpu()
                UPSERTS[name](conn, frame, batch)
                seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                server = server_cpu() - server0
            print(
                f"  {label:<14} {name:<8} {len(frame):>11,} rows {seconds:8.1f} s wall "
                f"{len(frame) / seconds:>10,.0f} rows/s | CPU client {cpu:6.1f} s "
                f"server {server:6.1f} s | peak RSS {peak[0] / 2**20:6,.0f} MiB",
                flush=True,
            )
        finish_batch(conn, batch, status="succeeded", rows_extracted=total_rows,
                     rows_loaded=total_rows, rows_quarantined=0)
        t0 = time.perf_counter()
        transaction.commit()
        commit = time.perf_counter() - t0
    engine.dispose()
    print(
        f"  {label:<14} total    {total_rows:>11,} rows {time.perf_counter() - started:8.1f} s "
        f"(commit {commit:.1f} s)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crimes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", help="URL of an existing, disposable PostgreSQL database")
    parser.add_argument("--rerun", action="store_true", help="load each night a second time")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b != "postgres" or args.postgres]
    with tempfile.TemporaryDirectory(prefix="vcp-bench-") as tmp:
        for n in args.crimes:
            t0 = time.perf_counter()
            night = synthetic_night(n)
            print(f"{n:,} crimes: generated in {time.perf_counter() - t0:.1f} s", flush=True)
            for backend in backends:
                url = fresh_warehouse(backend, args.postgres, Path(tmp))
                load_night(url, night, f"{backend} first")
                if args.rerun:
                    load_night(url, night, f"{backend} rerun")
            del night


if __name__ == "__main__":
    main()
