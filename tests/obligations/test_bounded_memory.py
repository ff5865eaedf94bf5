"""Bounded memory does not change results, on SQLite and PostgreSQL: a full evaluation a few
crimes at a time equals one read of every crime, at P = 1 and P = 3; the summaries read and
written a few rows at a time equal them counted at once, night after night (full rebuilds and
incremental nights); chunks of status counts never split a due quarter; a streamed read gives
what one read gives, while the same connection writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.rules import store
from vcpipeline.rules.store import full_evaluation, refresh_obligations
from vcpipeline.rules.summaries import (
    _PER_VICTIM_SQL,
    _STATUS_COUNTS_SQL,
    daily_compliance,
    due_dates_of,
    load_summaries,
    periods,
    rollup,
    victim_compliance_rows,
    whole_quarters,
)
from vcpipeline.warehouse.frames import read_frame, read_frames
from vcpipeline.warehouse.io import insert_rows
from vcpipeline.warehouse.schema import (
    compliance_daily,
    compliance_monthly,
    compliance_quarterly,
    obligations,
    victim_compliance,
)

from .conftest import canonical, load_night, night_as_of, simulate_force, stored

NIGHTS = 6


@pytest.mark.parametrize("partitions", [1, 3])
def test_a_full_evaluation_in_slices_equals_one_read_of_every_crime(engine, monkeypatch, partitions):
    force = simulate_force(23, nights=5, choices=True)
    for night in range(5):
        load_night(engine, force, night)
    monkeypatch.setattr(store, "FULL_SLICE_CRIMES", 4)
    with engine.connect() as conn:
        expected = canonical(full_evaluation(conn, night_as_of(4)))
        n_crimes = conn.execute(sa.text("SELECT COUNT(*) FROM crimes")).scalar_one()
    assert n_crimes > 4 * 3 * partitions and len(expected) > 100
    first = refresh_obligations(engine, night_as_of(4), full=True, partitions=partitions)
    pd.testing.assert_frame_equal(stored(engine), expected)
    assert (first["crimes_reevaluated"], first["obligations_written"]) == (n_crimes, len(expected))
    again = refresh_obligations(engine, night_as_of(4), full=True, partitions=partitions)
    pd.testing.assert_frame_equal(stored(engine), expected)
    assert again["obligations_replaced"] == again["obligations_written"] == len(expected)
    assert again["obligations_total"] == len(expected)


def normal(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows as text in key order (NULL and NaN alike), so frames from any query compare."""
    text = pd.DataFrame({name: frame[name].astype(object).where(frame[name].notna(), None).astype(str)
                         for name in frame.columns})
    return text.sort_values(keys).reset_index(drop=True)


def counted_at_once(conn: sa.Connection) -> dict[sa.Table, tuple[pd.DataFrame, list[str]]]:
    """Every summary table as one read of every obligation makes it, with its key."""
    counts = read_frame(conn, _STATUS_COUNTS_SQL.format(changed=""))
    counts["enhanced"] = counts["enhanced"].astype(bool)
    daily = daily_compliance(counts)
    keys = ["department", "owner", "rule", "enhanced"]
    victims = victim_compliance_rows(read_frame(conn, _PER_VICTIM_SQL.format(source="obligations o", where="")))
    return {compliance_daily: (daily, ["due_date", *keys]),
            compliance_monthly: (rollup(daily, "due_month"), ["due_month", *keys]),
            compliance_quarterly: (rollup(daily, "due_quarter"), ["due_quarter", *keys]),
            victim_compliance: (victims, ["crime_ref", "victim_id"])}


@pytest.mark.parametrize("chunk_rows", [1, 7])
def test_summaries_in_chunks_equal_them_counted_at_once(engine, chunk_rows):
    """Even nights rebuilt in full, odd nights incremental, every table after each night as
    counted at once."""
    force = simulate_force(41, nights=NIGHTS, choices=True)
    modes = []
    for night in range(NIGHTS):
        load_night(engine, force, night)
        refresh_obligations(engine, night_as_of(night))
        summary = load_summaries(engine, night_as_of(night), full_share=np.inf if night % 2 else 0.0,
                                 chunk_rows=chunk_rows)
        modes.append(summary["mode"])
        with engine.connect() as conn:
            for table, (expected, keys) in counted_at_once(conn).items():
                stored = read_frame(conn, sa.select(table))
                assert len(expected), table.name
                pd.testing.assert_frame_equal(normal(stored[expected.columns], keys), normal(expected, keys),
                                              obj=table.name)
    assert modes == ["full", "incremental"] * (NIGHTS // 2)


def test_whole_quarters_regroups_chunks_without_splitting_a_quarter():
    rng = np.random.default_rng(3)
    due_at = pd.Series(pd.to_datetime("2025-01-01", utc=True)
                       + pd.to_timedelta(np.sort(rng.integers(0, 700, 400)), unit="D")
                       - pd.Timedelta(hours=1))  # 23:00 UTC: the local day is the next one in summer
    frame = pd.DataFrame({"due_at": due_at, "n": np.arange(400)})
    edges = np.sort(rng.choice(np.arange(1, 400), 30, replace=False))
    chunks = [frame.iloc[lo:hi] for lo, hi in zip([0, *edges], [*edges, 400], strict=True)]
    regrouped = list(whole_quarters(chunks))
    pd.testing.assert_frame_equal(pd.concat(regrouped, ignore_index=True), frame)
    quarters = [set(periods(due_dates_of(chunk["due_at"]))[2]) for chunk in regrouped]
    assert len(regrouped) > 3
    assert all(a.isdisjoint(b) for i, a in enumerate(quarters) for b in quarters[i + 1:])
    assert list(whole_quarters([])) == []


def test_a_streamed_read_equals_one_read_while_the_connection_writes(engine):
    force = simulate_force(7, nights=3)
    for night in range(3):
        load_night(engine, force, night)
    refresh_obligations(engine, night_as_of(2))
    sql = "SELECT crime_ref, victim_id, rule, trigger_event_id, due_at, enhanced FROM obligations"
    keys = ["crime_ref", "victim_id", "rule", "trigger_event_id"]
    with engine.begin() as conn:
        at_once = read_frame(conn, sql)
        chunks = []
        for chunk in read_frames(conn, sql, chunk_rows=5):
            chunks.append(chunk)
            insert_rows(conn, victim_compliance, pd.DataFrame({  # another table, same connection
                "crime_ref": [f"X{len(chunks)}"], "victim_id": ["V"], "department": ["IIT"],
                "enhanced": [False], "report_date": ["2026-03-24"], "report_month": ["2026-03"],
                "report_quarter": ["2026Q1"], "obligations": [0], "met_on_time": [0], "met_late": [0],
                "breached": [0], "pending": [0], "waived": [0], "compliant": [True]}))
        assert max(map(len, chunks)) == 5 and len(at_once) > 20
        streamed = pd.concat(chunks, ignore_index=True)
        assert list(streamed.dtypes) == list(at_once.dtypes)
        pd.testing.assert_frame_equal(normal(streamed, keys), normal(at_once, keys))
        written = conn.execute(sa.select(sa.func.count()).select_from(victim_compliance)).scalar_one()
        assert written == len(chunks)
        assert conn.execute(sa.select(sa.func.count()).select_from(obligations)).scalar_one() == len(at_once)
        if conn.dialect.name == "postgresql":  # the cursor's setting is the transaction's again
            assert conn.exec_driver_sql("SHOW cursor_tuple_fraction").scalar_one() == "0.1"
        with pytest.raises(ValueError, match="at least 1 row"):
            next(read_frames(conn, sql, chunk_rows=0))
