"""Benchmark the nightly rule step: one day's changes over histories of two sizes.

    .venv/bin/python benchmarks/bench_incremental.py [--victims 250000 1000000] [--postgres URL]

For each history size: build a synthetic force (`bench_rules.synthetic_force`, ~9.5 events per
victim over 2019-06..2026-03, only what has happened by the first as-of), bulk-load it into a
fresh warehouse (one batch, plain INSERT/COPY with the event indexes built afterwards), run the
first (full) evaluation and summaries, then one night: the same day's changes at every size
(2,000 new crimes with their victims and first events, and about 30,000 events on the 15,000
most recent existing crimes, 5 % of them corrections of earlier events), loaded through the
real upsert path, then the incremental evaluation (the rule step) and the summaries.
The target: the rule step <= 5 s, and about the same at both sizes. Run it once.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from vcpipeline.rules.store import refresh_obligations
from vcpipeline.rules.summaries import load_summaries
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.io import insert_rows
from vcpipeline.warehouse.load import (
    finish_batch,
    start_batch,
    upsert_crimes,
    upsert_events,
    upsert_victims,
)
from vcpipeline.warehouse.migrate import upgrade
from vcpipeline.warehouse.schema import case_events, crimes, load_batches, victims

AS_OF = pd.Timestamp("2026-03-31T01:00:00Z")
NIGHT = AS_OF + pd.Timedelta(days=1)
NEW_CRIMES = 2_000
TOUCHED_CRIMES = 15_000
DAY_EVENTS = 30_000
_DAY_TYPES = ("VICTIM_UPDATE", "SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED", "WRITTEN_ACKNOWLEDGEMENT",
              "NEEDS_ASSESSMENT", "SUPPORT_REFERRAL", "CRIME_FINALISED", "OUTCOME_COMMUNICATED",
              "VPS_OFFERED", "SUSPECT_CHARGED")


def _bench_rules():
    path = Path(__file__).with_name("bench_rules.py")
    spec = importlib.util.spec_from_file_location("bench_rules", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_rules"] = module
    spec.loader.exec_module(module)
    return module


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def _lineage(frame: pd.DataFrame, batch: str, extracted: pd.Timestamp) -> pd.DataFrame:
    return frame.assign(source_system="bench", source_row_id="r", load_batch_id=batch,
                        extracted_at=extracted)


def load_history(engine, n_victims: int) -> dict[str, int]:
    """The synthetic history as one batch, bulk-inserted; events' secondary indexes built after."""
    rules = _bench_rules()
    crimes_frame, victims_frame, events = rules.synthetic_force(n_victims)
    events = events[events["occurred_at"] <= AS_OF].reset_index(drop=True)
    events = events.drop(columns=["channel"])
    start = AS_OF - pd.Timedelta(days=1)
    extracted = AS_OF - pd.Timedelta(minutes=30)
    with engine.begin() as conn:
        batch = start_batch(conn, "bench", start.to_pydatetime(), AS_OF.to_pydatetime())
        for index in case_events.indexes:
            index.drop(conn)
        insert_rows(conn, crimes, _lineage(crimes_frame, batch, extracted))
        insert_rows(conn, victims, _lineage(victims_frame, batch, extracted))
        insert_rows(conn, case_events, _lineage(events, batch, extracted))
        for index in case_events.indexes:
            index.create(conn)
        rows = len(crimes_frame) + len(victims_frame) + len(events)
        finish_batch(conn, batch, status="succeeded", rows_extracted=rows, rows_loaded=rows,
                     rows_quarantined=0)
    return {"crimes": len(crimes_frame), "victims": len(victims_frame), "events": len(events)}


def _labels(prefix: str, numbers: np.ndarray) -> np.ndarray:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "").to_numpy(
        zero_copy_only=False)


def day_changes(engine, seed: int = 99) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The same day's changes whatever the history: new crimes, events on recent ones, corrections."""
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        recent = [r[0] for r in conn.execute(
            sa.select(crimes.c.crime_ref).order_by(crimes.c.reported_at.desc()).limit(TOUCHED_CRIMES))]
        corrected = pd.DataFrame(conn.execute(
            sa.select(case_events.c.event_id, case_events.c.crime_ref, case_events.c.victim_id,
                      case_events.c.event_type)
            .where(case_events.c.crime_ref.in_(recent[:3_000]))
            .limit(int(DAY_EVENTS * 0.05))).all(), columns=["event_id", "crime_ref", "victim_id", "event_type"])
    day = AS_OF + pd.to_timedelta(rng.integers(0, 86_400, DAY_EVENTS), unit="s")
    new_refs = _labels("NEW", np.arange(NEW_CRIMES))
    new_crimes = pd.DataFrame({
        "crime_ref": new_refs, "reported_at": day[:NEW_CRIMES] - pd.Timedelta(hours=1),
        "department": rng.choice(["IIT", "PPU", "VVA", "FORCE_RESPONSE"], NEW_CRIMES),
        "offence_category": "theft", "domestic_abuse": False, "hate_crime": False,
    })
    new_victims = pd.DataFrame({
        "crime_ref": new_refs, "victim_id": _labels("NV", np.arange(NEW_CRIMES)), "age_at_report": 40,
        "vulnerable": rng.random(NEW_CRIMES) < 0.1, "intimidated": False, "persistently_targeted": False,
    })
    n_fresh = DAY_EVENTS - len(corrected)
    on_new = n_fresh // 10
    owners = np.concatenate([rng.choice(new_refs, on_new), rng.choice(recent, n_fresh - on_new)])
    fresh = pd.DataFrame({
        "event_id": _labels("D", np.arange(n_fresh)), "crime_ref": owners, "victim_id": None,
        "event_type": rng.choice(_DAY_TYPES, n_fresh), "occurred_at": day[:n_fresh],
        "in_need": None, "outcome_code": None, "court_result": None, "channel": None,
    })
    fresh.loc[fresh["event_type"] == "NEEDS_ASSESSMENT", "in_need"] = True
    fresh.loc[fresh["event_type"] == "CRIME_FINALISED", "outcome_code"] = 16
    fixes = corrected.assign(occurred_at=day[n_fresh:], event_type="VICTIM_UPDATE", in_need=None,
                             outcome_code=None, court_result=None, channel=None)
    return new_crimes, new_victims, pd.concat([fresh, fixes], ignore_index=True)


def load_day(engine, changes) -> float:
    new_crimes, new_victims, events = changes
    extracted = NIGHT - pd.Timedelta(minutes=30)
    began = time.perf_counter()
    with engine.begin() as conn:
        batch = start_batch(conn, "bench", AS_OF.to_pydatetime(), NIGHT.to_pydatetime())
        n = 0
        for upsert, frame in ((upsert_crimes, new_crimes), (upsert_victims, new_victims),
                              (upsert_events, events)):
            n += upsert(conn, frame.assign(source_system="bench", source_row_id="r",
                                           extracted_at=extracted), batch)
        finish_batch(conn, batch, status="succeeded", rows_extracted=n, rows_loaded=n, rows_quarantined=0)
    return time.perf_counter() - began


def bench(url: str, n_victims: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    try:
        began = time.perf_counter()
        sizes = load_history(engine, n_victims)
        print(f"[{engine.dialect.name} {n_victims:,}] history {sizes} loaded in "
              f"{time.perf_counter() - began:.1f} s; peak RSS {peak_rss_gb():.2f} GB", flush=True)
        full = refresh_obligations(engine, AS_OF)
        print(f"  full evaluation: {full}; peak RSS {peak_rss_gb():.2f} GB", flush=True)
        summaries = load_summaries(engine, AS_OF)
        print(f"  full summaries: {summaries}", flush=True)
        changes = day_changes(engine)
        took = load_day(engine, changes)
        print(f"  day's changes: {len(changes[0])} crimes, {len(changes[1])} victims, "
              f"{len(changes[2])} events upserted in {took:.2f} s", flush=True)
        cpu = time.process_time()
        night = refresh_obligations(engine, NIGHT)
        print(f"  INCREMENTAL NIGHT (rule step): {night}; "
              f"CPU {time.process_time() - cpu:.2f} s", flush=True)
        summaries = load_summaries(engine, NIGHT)
        print(f"  incremental summaries: {summaries}", flush=True)
        again = refresh_obligations(engine, NIGHT)
        print(f"  rerun of the same night: {again['crimes_reevaluated']} crimes, "
              f"{again['total_seconds']} s", flush=True)
        with engine.connect() as conn:
            batches = conn.execute(sa.select(sa.func.count()).select_from(load_batches)).scalar_one()
        print(f"  batches: {batches}; peak RSS {peak_rss_gb():.2f} GB", flush=True)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victims", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--postgres", metavar="URL", help="also run on this (empty) PostgreSQL database")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the SQLite warehouses are made (default: the system temp folder)")
    args = parser.parse_args()
    print(f"as of {AS_OF.isoformat()}, night {NIGHT.isoformat()} ({UTC})")
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for n_victims in args.victims:
            if not args.skip_sqlite:
                bench(f"sqlite:///{Path(folder) / f'bench_{n_victims}.db'}", n_victims)
            if args.postgres:
                admin = sa.create_engine(args.postgres)
                with admin.begin() as conn:
                    conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                    conn.execute(sa.text("CREATE SCHEMA public"))
                admin.dispose()
                bench(args.postgres, n_victims)


if __name__ == "__main__":
    main()
