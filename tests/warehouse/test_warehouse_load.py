"""Loading in batches: latest extract wins, reruns are idempotent, batches reconcile and are atomic."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.load import (
    BatchCounts,
    ReconciliationError,
    finish_batch,
    quarantine_rows,
    run_batch,
    start_batch,
    table_checksums,
    upsert_crimes,
    upsert_events,
    upsert_victims,
)
from vcpipeline.warehouse.schema import case_events, crimes, load_batches, quarantine

from .conftest import EXTRACTED, NIGHT_END, NIGHT_START

LATER = EXTRACTED + pd.Timedelta(hours=1)
EARLIER = EXTRACTED - pd.Timedelta(hours=1)


def _bad_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "source_row_id": ["e9", "e10"],
        "reasons": [["crime_ref_known", "occurred_at_not_in_future"], "event_type_known"],
        "raw_row": [
            {"event_id": "E9", "crime_ref": "C404", "victim_name": "Carol Example", "phone": "0700"},
            json.dumps({"event_id": "E10", "event_type": "TEA_BREAK"}),
        ],
    })


def _night(make_crimes, make_victims, make_events, crash_after_crimes: bool = False):
    """A night's load for `run_batch`: every extracted row loaded or quarantined."""

    def write(conn: sa.Connection, batch_id: str) -> BatchCounts:
        loaded = upsert_crimes(conn, make_crimes(), batch_id)
        if crash_after_crimes:  # an injected failure once part of the batch is written
            raise RuntimeError("source connection lost")
        loaded += upsert_victims(conn, make_victims(), batch_id)
        loaded += upsert_events(conn, make_events(), batch_id)
        bad = quarantine_rows(conn, batch_id, "cms", "events", _bad_rows())
        return BatchCounts(rows_extracted=loaded + bad, rows_loaded=loaded, rows_quarantined=bad)

    return write


def _crime(conn: sa.Connection, crime_ref: str) -> sa.Row:
    return conn.execute(sa.select(crimes).where(crimes.c.crime_ref == crime_ref)).one()


def test_a_newer_extract_overwrites_and_an_older_one_does_not(engine, make_crimes):
    with engine.begin() as conn:
        batch = start_batch(conn, "crs", NIGHT_START, NIGHT_END)
        assert upsert_crimes(conn, make_crimes(EXTRACTED, department="IIT"), batch) == 2
        upsert_crimes(conn, make_crimes(LATER, department="VVA"), batch)
        assert _crime(conn, "C1").department == "VVA"
        assert upsert_crimes(conn, make_crimes(EARLIER, department="PPU"), batch) == 2
        assert _crime(conn, "C1").department == "VVA"
        assert _crime(conn, "C1").extracted_at == LATER


def test_the_same_extract_loaded_again_changes_nothing(engine, make_events):
    with engine.begin() as conn:
        batch = start_batch(conn, "cms", NIGHT_START, NIGHT_END)
        upsert_events(conn, make_events(), batch)
        before = table_checksums(conn)
        upsert_events(conn, make_events(), batch)
        assert table_checksums(conn) == before


def test_within_one_frame_the_latest_extract_of_a_key_wins(engine, make_events):
    frame = pd.concat([make_events(LATER, channel="sms"), make_events(EXTRACTED, channel="visit")])
    with engine.begin() as conn:
        batch = start_batch(conn, "cms", NIGHT_START, NIGHT_END)
        assert upsert_events(conn, frame, batch) == 6
        channels = read_frame(conn, sa.select(case_events.c.event_id, case_events.c.channel))
    assert dict(zip(channels["event_id"], channels["channel"], strict=True))["E1"] == "sms"
    assert len(channels) == 3


def test_crime_level_events_store_no_victim_and_empty_optionals_are_null(engine, make_events):
    with engine.begin() as conn:
        batch = start_batch(conn, "cms", NIGHT_START, NIGHT_END)
        upsert_events(conn, make_events(), batch)
        rows = read_frame(conn, sa.select(case_events).order_by(case_events.c.event_id))
    assert rows["victim_id"].isna().tolist() == [False, True, True]
    assert rows["outcome_code"].tolist()[1] == 16
    assert str(rows["outcome_code"].dtype) == "Int64"
    assert rows["in_need"].tolist()[2] is True
    assert (rows["load_batch_id"] == batch).all()


def test_columns_the_warehouse_does_not_have_such_as_names_are_never_stored(engine, make_crimes):
    with engine.begin() as conn:
        batch = start_batch(conn, "crs", NIGHT_START, NIGHT_END)
        upsert_crimes(conn, make_crimes(), batch)
        quarantine_rows(conn, batch, "cms", "events", _bad_rows())
        stored = read_frame(conn, sa.select(crimes))
        raw = conn.execute(sa.select(quarantine.c.raw_row).order_by(quarantine.c.source_row_id))
        raw_rows = [json.loads(text) for text in raw.scalars()]
    assert "victim_name" not in stored.columns
    assert not any("Example" in str(value) for value in stored.to_numpy().ravel())
    assert all("victim_name" not in row and "phone" not in row for row in raw_rows)


def test_quarantine_joins_reasons_and_a_rerun_does_not_duplicate(engine):
    with engine.begin() as conn:
        batch = start_batch(conn, "cms", NIGHT_START, NIGHT_END)
        assert quarantine_rows(conn, batch, "cms", "events", _bad_rows()) == 2
        quarantine_rows(conn, batch, "cms", "events", _bad_rows())
        reasons = conn.execute(
            sa.select(quarantine.c.reasons).order_by(quarantine.c.source_row_id)
        ).scalars().all()
    assert reasons == ["event_type_known", "crime_ref_known;occurred_at_not_in_future"]


def test_a_batch_that_does_not_reconcile_cannot_succeed(engine):
    with engine.begin() as conn:
        batch = start_batch(conn, "crs", NIGHT_START, NIGHT_END)
        with pytest.raises(ReconciliationError, match="10 extracted != 7 loaded \\+ 2 quarantined"):
            finish_batch(
                conn, batch, status="succeeded", rows_extracted=10, rows_loaded=7, rows_quarantined=2
            )
        finish_batch(conn, batch, status="failed", rows_extracted=10, rows_loaded=7,
                     rows_quarantined=2, message="1 row unaccounted for")
        assert conn.execute(sa.select(load_batches.c.status)).scalar_one() == "failed"


def test_a_rerun_reuses_the_batch_and_resets_its_counts(engine):
    with engine.begin() as conn:
        first = start_batch(conn, "crs", NIGHT_START, NIGHT_END)
        finish_batch(conn, first, status="succeeded", rows_extracted=3, rows_loaded=3,
                     rows_quarantined=0)
        again = start_batch(conn, "crs", NIGHT_START, NIGHT_END)
        row = conn.execute(sa.select(load_batches)).one()
    assert again == first == "crs:20260604T230000Z-20260605T230000Z"
    assert (row.status, row.rows_extracted, row.finished_at) == ("running", 0, None)


def test_running_the_same_night_twice_leaves_an_identical_warehouse(
    engine, make_crimes, make_victims, make_events
):
    night = _night(make_crimes, make_victims, make_events)
    _, counts = run_batch(engine, "nightly", NIGHT_START, NIGHT_END, night)
    with engine.connect() as conn:
        once = table_checksums(conn)
    run_batch(engine, "nightly", NIGHT_START, NIGHT_END, night)
    with engine.connect() as conn:
        twice = table_checksums(conn)
        status = conn.execute(sa.select(load_batches.c.status)).scalar_one()
    assert counts == BatchCounts(rows_extracted=10, rows_loaded=8, rows_quarantined=2)
    assert status == "succeeded"
    assert twice == once
    assert set(once) >= {"crimes", "victims", "case_events", "quarantine", "load_batches"}


def test_a_failure_midway_leaves_none_of_the_batch_and_a_rerun_completes_it(
    engine, make_crimes, make_victims, make_events
):
    night = _night(make_crimes, make_victims, make_events)
    failing = _night(make_crimes, make_victims, make_events, crash_after_crimes=True)
    with engine.connect() as conn:
        empty = table_checksums(conn)
    with pytest.raises(RuntimeError, match="source connection lost"):
        run_batch(engine, "nightly", NIGHT_START, NIGHT_END, failing)
    with engine.connect() as conn:
        after_failure = table_checksums(conn)
        batch_row = conn.execute(sa.select(load_batches)).one()
    assert {t: after_failure[t] for t in after_failure if t != "load_batches"} == {
        t: empty[t] for t in empty if t != "load_batches"
    }
    assert batch_row.status == "failed" and "source connection lost" in batch_row.message

    run_batch(engine, "nightly", NIGHT_START, NIGHT_END, night)
    with engine.connect() as conn:
        completed = table_checksums(conn)
        assert conn.execute(sa.select(sa.func.count()).select_from(crimes)).scalar_one() == 2
        assert conn.execute(sa.select(load_batches.c.status)).scalar_one() == "succeeded"
    assert completed != after_failure
