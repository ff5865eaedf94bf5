"""A force's synthetic history of any size, generated and bulk-loaded chunk by chunk.

`load_synthetic_history(engine, n_victims, as_of=...)` builds the same kind of history as
`bench_rules.synthetic_force` (~9.5 events per victim reported 2019-06..2026-03; only the events
that happened by `as_of`), but `chunk_victims` victims at a time: each chunk is
`synthetic_force(chunk, chunk_seed(seed, k), first_crime=.., first_victim=.., first_event=..)`,
its labels starting where the previous chunk's ended, so crime refs, victim ids and event ids
are unique over the whole history. Each chunk is written (COPY on PostgreSQL, `insert_rows`) and
committed before the next is built, so memory stays that of one chunk whatever the size: 1M
and 5M victims (47.6M events) both load at 0.94 GB peak with 250,000 victims a chunk.

All of it is one load batch (`bench`, interval the day before `as_of`), opened before the first
chunk and closed after the last; `case_events`' secondary indexes are dropped first and built
after (as `bench_incremental.load_history` does), and PostgreSQL's statistics refreshed (ANALYZE).

The relation to the in-memory force: with one chunk (`chunk_victims >= n_victims`) the rows
loaded are exactly `synthetic_force(n_victims, seed)`'s (events by `as_of`, no `channel`); with
several, chunk k's are `synthetic_force`'s with the seed and first numbers `chunks` gives.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import sqlalchemy as sa

from vcpipeline.warehouse.io import insert_rows
from vcpipeline.warehouse.load import finish_batch, start_batch
from vcpipeline.warehouse.schema import case_events, crimes, victims

CHUNK_VICTIMS = 250_000


def bench_rules() -> ModuleType:
    """`benchmarks/bench_rules.py` as a module (benchmarks/ is not a package)."""
    if "bench_rules" in sys.modules:
        return sys.modules["bench_rules"]
    path = Path(__file__).with_name("bench_rules.py")
    spec = importlib.util.spec_from_file_location("bench_rules", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_rules"] = module
    spec.loader.exec_module(module)
    return module


def chunk_seed(seed: int, chunk: int) -> int | list[int]:
    """Chunk k's seed: `seed` itself for the first (so one chunk is the in-memory force), else
    the pair (seed, k), a stream numpy keeps apart from every other seed's."""
    return seed if chunk == 0 else [seed, chunk]


def chunks(n_victims: int, *, as_of: pd.Timestamp, seed: int = 7,
           chunk_victims: int = CHUNK_VICTIMS) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """The history's chunks in order: (crimes, victims, events) typed as `prepare` returns them,
    events only those that happened by `as_of`, without `channel` (the synthetic force has none)."""
    if n_victims < 1 or chunk_victims < 1:
        raise ValueError("n_victims and chunk_victims must be at least 1")
    rules = bench_rules()
    as_of = pd.Timestamp(as_of).tz_convert("UTC")
    made = {"crimes": 0, "victims": 0, "events": 0}
    chunk = 0
    while made["victims"] < n_victims:
        crimes_frame, victims_frame, events = rules.synthetic_force(
            min(chunk_victims, n_victims - made["victims"]), chunk_seed(seed, chunk),
            first_crime=made["crimes"], first_victim=made["victims"], first_event=made["events"])
        made["crimes"] += len(crimes_frame)
        made["victims"] += len(victims_frame)
        made["events"] += len(events)
        chunk += 1
        events = events[events["occurred_at"] <= as_of].reset_index(drop=True)
        yield crimes_frame, victims_frame, events.drop(columns=["channel"])


def _lineage(frame: pd.DataFrame, batch: str, extracted: pd.Timestamp) -> pd.DataFrame:
    return frame.assign(source_system="bench", source_row_id="r", load_batch_id=batch,
                        extracted_at=extracted)


def load_synthetic_history(engine: sa.Engine, n_victims: int, *, as_of: pd.Timestamp, seed: int = 7,
                           chunk_victims: int = CHUNK_VICTIMS, progress: Any = None) -> dict[str, int]:
    """Load the history into an empty migrated warehouse as one batch, chunk by chunk (one
    transaction each); the rows loaded per table. `progress`, if given, is called after each
    chunk with the running counts and the seconds so far."""
    as_of = pd.Timestamp(as_of).tz_convert("UTC")
    extracted = as_of - pd.Timedelta(minutes=30)
    began = time.perf_counter()
    with engine.begin() as conn:
        batch = start_batch(conn, "bench", (as_of - pd.Timedelta(days=1)).to_pydatetime(),
                            as_of.to_pydatetime())
        for index in case_events.indexes:
            index.drop(conn)
    loaded = {"crimes": 0, "victims": 0, "events": 0}
    for crimes_frame, victims_frame, events in chunks(n_victims, as_of=as_of, seed=seed,
                                                      chunk_victims=chunk_victims):
        with engine.begin() as conn:
            loaded["crimes"] += insert_rows(conn, crimes, _lineage(crimes_frame, batch, extracted))
            loaded["victims"] += insert_rows(conn, victims, _lineage(victims_frame, batch, extracted))
            loaded["events"] += insert_rows(conn, case_events, _lineage(events, batch, extracted))
        del crimes_frame, victims_frame, events
        if progress is not None:
            progress(dict(loaded), time.perf_counter() - began)
    with engine.begin() as conn:
        for index in case_events.indexes:
            index.create(conn)
        rows = sum(loaded.values())
        finish_batch(conn, batch, status="succeeded", rows_extracted=rows, rows_loaded=rows,
                     rows_quarantined=0)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE crimes, victims, case_events")
    return loaded


__all__ = ["CHUNK_VICTIMS", "bench_rules", "chunk_seed", "chunks", "load_synthetic_history"]
