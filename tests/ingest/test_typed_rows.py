"""Validated canonical rows as the warehouse stores them: values read as RULES.md reads them."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from vcpipeline.ingest.typed import typed_canonical


def _events(event_types: list[str], outcome_codes: list[str]) -> pd.DataFrame:
    count = len(event_types)
    return pd.DataFrame({
        "event_id": [f"E{i}" for i in range(count)], "crime_ref": "C1", "victim_id": "",
        "event_type": event_types, "occurred_at": "2026-03-03T09:00:00Z", "in_need": "",
        "outcome_code": outcome_codes, "court_result": "", "channel": "",
        "source_modified_at": "2026-03-03T09:00:00Z",
    }, dtype="string")


def test_an_outcome_code_is_stored_as_its_number_on_crime_finalised_only():
    """`014` is 14 (RULES.md v2); another event's outcome_code is not read, so not stored."""
    typed = typed_canonical("events", _events(["CRIME_FINALISED", "CRIME_FINALISED", "VICTIM_UPDATE"],
                                              ["014", "0", "99"]),
                            datetime(2026, 6, 1, tzinfo=UTC))
    stored = typed["outcome_code"]
    assert stored.iloc[:2].tolist() == [14, 0]
    assert stored.isna().tolist() == [False, False, True]
