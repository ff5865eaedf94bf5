"""Fuzzing canonical events: whatever arrives, validation never raises and every row is accounted for."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcpipeline.canonical import EVENT_COLUMNS, EVENT_TYPES
from vcpipeline.validation.validate import validate_batch

from .test_validation_rows import NOW, REPORTED

ODD_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
INSTANTS = st.one_of(
    st.just(""), st.just("2026-03-05T10:00:00Z"), st.just("2026-03-01T00:00:00Z"),  # before report
    st.just("2099-12-31T23:59:59Z"), st.just("31/02/2026 10:00"), st.just("2026-02-30T10:00:00Z"),
    st.just("2026-03-29 01:30:00"), st.just("0001-01-01T00:00:00Z"), st.just("9999-12-31T23:59:59+14:00"),
    st.datetimes().map(lambda d: d.isoformat()), ODD_TEXT,
)
CELL = {
    "event_id": st.one_of(st.sampled_from(["E1", "E2", "E3", ""]), ODD_TEXT),
    "crime_ref": st.one_of(st.sampled_from(["EX1", "EX2", "EX404", ""]), ODD_TEXT),
    "victim_id": st.one_of(st.sampled_from(["V1", ""]), ODD_TEXT),
    "event_type": st.one_of(st.sampled_from(sorted(EVENT_TYPES)), st.just("WNT"), ODD_TEXT),
    "occurred_at": INSTANTS,
    "in_need": st.sampled_from(["", "true", "No", "maybe", "é"]),
    "outcome_code": st.one_of(st.sampled_from(["", "0", "22", "23", "-1", "9.0", "١٢"]), ODD_TEXT),
    "court_result": st.sampled_from(["", "SENTENCED", "sentenced", "HUNG"]),
    "channel": st.sampled_from(["", "email", "fax", "📠"]),
}


@st.composite
def event_frames(draw) -> pd.DataFrame:
    rows = draw(st.lists(st.fixed_dictionaries(CELL), min_size=1, max_size=25))
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    dropped = draw(st.sets(st.sampled_from(["in_need", "channel", "outcome_code"]), max_size=1))
    frame = frame.drop(columns=sorted(dropped))
    if draw(st.booleans()):  # wrong types: a column of numbers or mixed objects
        column = draw(st.sampled_from(["outcome_code", "occurred_at", "event_type"]))
        if column in frame.columns:
            frame[column] = draw(st.sampled_from([pd.Series(range(len(frame))),
                                                  pd.Series([1.5, None] * len(frame))[:len(frame)]]))
    frame["source_row_id"] = [f"r{i}" for i in range(len(frame))]
    return frame


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=event_frames())
def test_every_fuzzed_event_row_either_passes_or_has_a_reason(frame):
    validation = validate_batch(frame, "canonical_events", row_id="source_row_id", now=NOW,
                                crime_reported_at=REPORTED)
    failed = validation.row_failures
    assert failed["source_row_id"].is_unique
    assert (failed["reasons"].str.len() > 0).all()
    assert len(validation.passed_rows(frame)) + len(failed) == len(frame)
    if validation.loadable:
        passed = validation.passed_rows(frame)
        assert passed["event_type"].isin(EVENT_TYPES).all()
        assert passed["crime_ref"].isin(["EX1", "EX2"]).all()
