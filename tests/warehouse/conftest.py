"""Warehouse fixtures: an engine on a migrated warehouse and small canonical frames."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

NIGHT_START = datetime(2026, 6, 4, 23, 0, tzinfo=UTC)
NIGHT_END = datetime(2026, 6, 5, 23, 0, tzinfo=UTC)
EXTRACTED = pd.Timestamp("2026-06-05T23:05:00Z")


def crimes_frame(extracted_at: pd.Timestamp = EXTRACTED, department: str = "IIT") -> pd.DataFrame:
    return pd.DataFrame({
        "crime_ref": ["C1", "C2"],
        "reported_at": pd.to_datetime(
            ["2026-06-04T23:30:00Z", "2026-06-05T08:15:00+01:00"], utc=True, format="ISO8601"
        ),
        "department": [department, "PPU"],
        "offence_category": ["burglary", ""],
        "domestic_abuse": pd.array([False, True], dtype="boolean"),
        "hate_crime": pd.array([False, False], dtype="boolean"),
        "team": ["IIT-North", None],
        "officer_collar": ["1234", None],
        "source_system": "crs",
        "source_row_id": ["r1", "r2"],
        "extracted_at": extracted_at,
        "victim_name": ["Alice Example", "Bob Example"],  # PII the loader must drop
    })


def victims_frame(extracted_at: pd.Timestamp = EXTRACTED) -> pd.DataFrame:
    return pd.DataFrame({
        "crime_ref": ["C1", "C2", "C2"],
        "victim_id": ["V1", "V1", "V2"],
        "age_at_report": pd.array([34, None, 16], dtype="Int64"),
        "vulnerable": pd.array([False, True, False], dtype="boolean"),
        "intimidated": pd.array([False, False, False], dtype="boolean"),
        "persistently_targeted": pd.array([False, False, True], dtype="boolean"),
        "source_system": "crs",
        "source_row_id": ["v1", "v2", "v3"],
        "extracted_at": extracted_at,
    })


def events_frame(extracted_at: pd.Timestamp = EXTRACTED, channel: str = "letter") -> pd.DataFrame:
    return pd.DataFrame({
        "event_id": ["E1", "E2", "E3"],
        "crime_ref": ["C1", "C1", "C2"],
        "victim_id": ["V1", "", None],
        "event_type": ["WRITTEN_ACKNOWLEDGEMENT", "CRIME_FINALISED", "NEEDS_ASSESSMENT"],
        "occurred_at": pd.to_datetime(
            ["2026-06-05T09:00:00Z", "2026-06-05T10:00:00Z", "2026-06-05T11:00:00Z"], utc=True
        ),
        "in_need": pd.array([None, None, True], dtype="boolean"),
        "outcome_code": pd.array([None, 16, None], dtype="Int64"),
        "court_result": [None, None, None],
        "channel": [channel, None, "phone"],
        "source_system": "cms",
        "source_row_id": ["e1", "e2", "e3"],
        "extracted_at": extracted_at,
    })


@pytest.fixture
def make_crimes():
    return crimes_frame


@pytest.fixture
def make_victims():
    return victims_frame


@pytest.fixture
def make_events():
    return events_frame
