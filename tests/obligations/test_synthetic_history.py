"""The streamed synthetic history (benchmarks/synthetic_history.py) loads what the in-memory
force gives: exactly `synthetic_force(n)` in one chunk, and chunk by chunk the concatenation of
the chunks' forces, with every crime ref, victim and event id unique, on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.rules.store import read_inputs
from vcpipeline.warehouse.schema import load_batches

ROOT = Path(__file__).resolve().parents[2]
AS_OF = pd.Timestamp("2026-03-31T01:00:00Z")
KEYS = {"crimes": ["crime_ref"], "victims": ["crime_ref", "victim_id"], "events": ["event_id"]}


@pytest.fixture(scope="module")
def history():
    path = ROOT / "benchmarks" / "synthetic_history.py"
    spec = importlib.util.spec_from_file_location("synthetic_history", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("synthetic_history", module)
    spec.loader.exec_module(module)
    return module


def comparable(frame: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    """Values as text in one order, so typed frames compare whatever their dtypes."""
    out = pd.DataFrame({name: frame[name].astype("string").fillna("<NA>").astype(str).to_numpy()
                        for name in columns})
    return out.sort_values(keys).reset_index(drop=True)


def stored_frames(engine) -> dict[str, pd.DataFrame]:
    with engine.connect() as conn:
        crimes, victims, events = read_inputs(conn, only_dirty=False)
    return {"crimes": crimes, "victims": victims, "events": events}


def assert_same(stored: dict[str, pd.DataFrame], expected: list[pd.DataFrame]) -> None:
    for (name, keys), frame in zip(KEYS.items(), expected, strict=True):
        columns = list(frame.columns)
        pd.testing.assert_frame_equal(comparable(stored[name], keys, columns),
                                      comparable(frame, keys, columns))


def test_one_chunk_is_the_in_memory_force(history, engine):
    loaded = history.load_synthetic_history(engine, 3_000, as_of=AS_OF, chunk_victims=10_000)
    crimes, victims, events = history.bench_rules().synthetic_force(3_000, 7)
    events = events[events["occurred_at"] <= AS_OF].drop(columns=["channel"])
    assert loaded == {"crimes": len(crimes), "victims": len(victims), "events": len(events)}
    assert len(events) < 3_000 * 10.5  # events after as_of are left out
    assert_same(stored_frames(engine), [crimes, victims, events])
    with engine.connect() as conn:
        batches = conn.execute(sa.select(load_batches.c.status)).scalars().all()
    assert batches == ["succeeded"]


def test_chunks_are_unique_and_loaded_as_generated(history, engine):
    parts = list(history.chunks(5_000, as_of=AS_OF, seed=3, chunk_victims=1_500))
    assert len(parts) >= 4
    loaded = history.load_synthetic_history(engine, 5_000, as_of=AS_OF, seed=3, chunk_victims=1_500)
    expected = [pd.concat([part[i] for part in parts], ignore_index=True) for i in range(3)]
    assert loaded == {name: len(frame) for name, frame in zip(KEYS, expected, strict=True)}
    assert loaded["victims"] >= 5_000
    for name, frame in zip(KEYS, expected, strict=True):
        assert not frame.duplicated(KEYS[name]).any(), name
    assert expected[1]["victim_id"].is_unique
    # The first chunk is the in-memory force of its size; the second starts where it ended.
    first = history.bench_rules().synthetic_force(1_500, 3)[0]
    assert parts[0][0]["crime_ref"].tolist() == first["crime_ref"].tolist()
    assert parts[1][0]["crime_ref"].iloc[0] == f"CR{len(first)}"
    assert_same(stored_frames(engine), expected)
