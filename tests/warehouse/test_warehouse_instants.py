"""Instants are stored as UTC and come back as UTC-aware on both backends; naive ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.load import start_batch, upsert_crimes
from vcpipeline.warehouse.schema import crimes, load_batches

from .conftest import NIGHT_END, NIGHT_START

LONDON = ZoneInfo("Europe/London")
BST_EVENING = datetime(2026, 6, 5, 0, 30, tzinfo=LONDON)  # = 2026-06-04T23:30:00Z


def test_a_bst_instant_round_trips_as_the_same_utc_instant(engine):
    with engine.begin() as conn:
        batch = start_batch(conn, "crs", BST_EVENING, BST_EVENING + timedelta(days=1))
        stored = conn.execute(
            sa.select(load_batches.c.interval_start).where(load_batches.c.batch_id == batch)
        ).scalar_one()
        frame = read_frame(conn, sa.select(load_batches.c.interval_start))
    assert stored == BST_EVENING
    assert stored.utcoffset() == timedelta(0)
    assert stored == datetime(2026, 6, 4, 23, 30, tzinfo=UTC)
    assert str(frame["interval_start"].dtype) == "datetime64[us, UTC]"
    assert frame["interval_start"][0] == pd.Timestamp("2026-06-04T23:30:00Z")


def test_a_naive_datetime_is_refused_on_write(engine):
    with engine.begin() as conn, pytest.raises(sa.exc.StatementError, match="naive"):
        start_batch_row = load_batches.insert().values(
            batch_id="x", source_system="crs", interval_start=datetime(2026, 6, 4, 23, 30),
            interval_end=NIGHT_END, status="running", started_at=NIGHT_START,
        )
        conn.execute(start_batch_row)


def test_a_frame_with_naive_timestamps_is_refused(engine, make_crimes):
    frame = make_crimes()
    frame["reported_at"] = frame["reported_at"].dt.tz_localize(None)
    with engine.begin() as conn:
        batch = start_batch(conn, "crs", NIGHT_START, NIGHT_END)
        with pytest.raises(ValueError, match="naive"):
            upsert_crimes(conn, frame, batch)


def test_instants_sort_in_time_order_whatever_offset_they_were_written_in(engine, make_crimes):
    frame = make_crimes()
    frame["reported_at"] = [
        datetime(2026, 6, 5, 1, 0, tzinfo=timezone(timedelta(hours=5))),  # 2026-06-04T20:00Z
        datetime(2026, 6, 4, 21, 0, tzinfo=UTC),
    ]
    with engine.begin() as conn:
        batch = start_batch(conn, "crs", NIGHT_START, NIGHT_END)
        upsert_crimes(conn, frame, batch)
        order = conn.execute(sa.select(crimes.c.crime_ref).order_by(crimes.c.reported_at)).scalars()
        later = conn.execute(
            sa.select(crimes.c.crime_ref).where(
                crimes.c.reported_at > datetime(2026, 6, 4, 20, 30, tzinfo=UTC)
            )
        ).scalars()
        assert list(order) == ["C1", "C2"]
        assert list(later) == ["C2"]


def test_read_frame_types_columns_the_same_on_both_backends(engine, make_crimes):
    with engine.begin() as conn:
        batch = start_batch(conn, "crs", NIGHT_START, NIGHT_END)
        upsert_crimes(conn, make_crimes(), batch)
        from_select = read_frame(conn, sa.select(crimes).order_by(crimes.c.crime_ref))
        from_text = read_frame(
            conn,
            "SELECT crime_ref, reported_at, domestic_abuse FROM crimes "
            "WHERE reported_at >= :since ORDER BY crime_ref",
            {"since": datetime(2026, 6, 5, 0, 30, tzinfo=LONDON)},
        )
    assert str(from_select["reported_at"].dtype) == "datetime64[us, UTC]"
    assert str(from_select["extracted_at"].dtype) == "datetime64[us, UTC]"
    assert str(from_select["domestic_abuse"].dtype) == "boolean"
    assert from_select["reported_at"].tolist() == [
        pd.Timestamp("2026-06-04T23:30:00Z"), pd.Timestamp("2026-06-05T07:15:00Z"),
    ]
    assert str(from_text["reported_at"].dtype) == "datetime64[us, UTC]"
    assert str(from_text["domestic_abuse"].dtype) == "boolean"
    assert from_text["crime_ref"].tolist() == ["C1", "C2"]


def test_read_frame_of_no_rows_still_has_typed_columns(engine):
    with engine.connect() as conn:
        frame = read_frame(conn, sa.select(crimes.c.crime_ref, crimes.c.reported_at))
    assert list(frame.columns) == ["crime_ref", "reported_at"]
    assert str(frame["reported_at"].dtype) == "datetime64[us, UTC]"
