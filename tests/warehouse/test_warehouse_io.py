"""The warehouse's I/O seam reads and writes the same values on both backends: PostgreSQL reads by
COPY (CSV parsed by Arrow), deletes keys in one statement and stores rows in the order asked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.warehouse.io import delete_keys, insert_rows, read_columns
from vcpipeline.warehouse.load import start_batch
from vcpipeline.warehouse.schema import case_events, obligations

from .conftest import NIGHT_END, NIGHT_START

KINDS = {"occurred_at": "instant", "in_need": "boolean", "outcome_code": "integer"}
AWKWARD_TEXT = ['a "quoted", comma', "", None, "two\nlines", "naïve, £5"]


def _events() -> pd.DataFrame:
    return pd.DataFrame({
        "event_id": [f"E{i}" for i in range(5)],
        "crime_ref": "C1",
        "victim_id": ["V1", "", None, "V2", "V3"],
        "event_type": "VICTIM_UPDATE",
        "occurred_at": pd.to_datetime(["2026-06-05T09:00:00Z", "2026-06-05T09:00:00.000001Z",
                                       "2026-03-29T00:59:59.5Z", "2026-03-29T01:00:00Z",
                                       "1999-12-31T23:59:59.999999Z"], utc=True, format="ISO8601"),
        "in_need": pd.array([True, False, None, None, True], dtype="boolean"),
        "outcome_code": pd.array([None, 0, 14, None, 22], dtype="Int64"),
        "court_result": AWKWARD_TEXT,
        "channel": None,
        "source_system": "cms", "source_row_id": [f"r{i}" for i in range(5)],
        "extracted_at": pd.Timestamp("2026-06-05T23:05:00Z"),
    })


def test_read_columns_gives_the_stored_values_typed_the_same_on_both_backends(engine):
    with engine.begin() as conn:
        batch = start_batch(conn, "cms", NIGHT_START, NIGHT_END)  # written as given: '' is not NULL
        insert_rows(conn, case_events, _events().assign(load_batch_id=batch))
        frame = read_columns(conn, "SELECT event_id, victim_id, occurred_at, in_need, outcome_code, "
                                   "court_result FROM case_events ORDER BY event_id", KINDS)
        empty = read_columns(conn, "SELECT event_id, occurred_at, in_need, outcome_code "
                                   "FROM case_events WHERE event_id = 'none'", KINDS)
    expected = _events()
    assert list(frame.columns) == ["event_id", "victim_id", "occurred_at", "in_need", "outcome_code",
                                   "court_result"]
    assert str(frame["occurred_at"].dtype) == "datetime64[us, UTC]"
    assert (frame["occurred_at"] == expected["occurred_at"]).all()
    assert frame["in_need"].dtype == "boolean" and frame["outcome_code"].dtype == "Int64"
    pd.testing.assert_series_equal(frame["in_need"], expected["in_need"], check_names=False)
    pd.testing.assert_series_equal(frame["outcome_code"], expected["outcome_code"], check_names=False)
    # Empty text and NULL stay apart; quotes, commas, newlines and non-ASCII text as written.
    for column in ("court_result", "victim_id"):
        assert frame[column].isna().tolist() == expected[column].isna().tolist()
        assert frame[column].dropna().tolist() == expected[column].dropna().tolist()
    assert len(empty) == 0 and list(empty.columns) == ["event_id", "occurred_at", "in_need", "outcome_code"]
    assert str(empty["occurred_at"].dtype) == "datetime64[us, UTC]" and empty["outcome_code"].dtype == "Int64"


def _obligations(n: int) -> pd.DataFrame:
    due = pd.Timestamp("2026-06-05T23:00:00Z")
    return pd.DataFrame({
        "crime_ref": [f"C{i % 7}" for i in range(n)], "victim_id": "V1",
        "rule": [f"rule{i}" for i in range(n)], "trigger_event_id": "",
        "trigger_at": due - pd.Timedelta(days=3), "due_at": due,
        "met_at": pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]"),
        "status": "PENDING", "enhanced": False, "rule_set": "vcop-2020", "department": "IIT",
        "owner": "IIT", "met_channel": None, "channel_as_agreed": pd.array([None] * n, dtype="boolean"),
    })


def test_delete_keys_deletes_exactly_the_rows_with_those_keys(engine):
    rows = _obligations(40)
    with engine.begin() as conn:
        insert_rows(conn, obligations, rows)
        assert delete_keys(conn, obligations, rows.iloc[5:30]) == 25
        assert delete_keys(conn, obligations, rows.iloc[:0]) == 0
        left = conn.execute(sa.select(obligations.c.rule).order_by(obligations.c.rule)).scalars().all()
    assert left == sorted(rows["rule"].iloc[list(range(5)) + list(range(30, 40))])


def test_insert_rows_in_order_writes_the_same_rows_and_postgresql_keeps_that_order(engine):
    rows = _obligations(30)
    order = np.random.default_rng(3).permutation(len(rows))
    with engine.begin() as conn:
        assert insert_rows(conn, obligations, rows, order=order) == 30
        stored = conn.execute(sa.select(obligations.c.rule).order_by(obligations.c.rule)).scalars().all()
        if conn.dialect.name == "postgresql":
            physical = conn.exec_driver_sql("SELECT rule FROM obligations ORDER BY ctid").scalars().all()
            assert physical == rows["rule"].iloc[order].tolist()
    assert stored == sorted(rows["rule"])
