"""The data rules: the latest extract wins, unusable rows are quarantined with a stable reason."""

from __future__ import annotations

import pandas as pd
import pytest

from vcpipeline.parsing import InputError
from vcpipeline.rules.prepare import prepare


def reasons(ready) -> list[tuple[str, int, str]]:
    q = ready.quarantine
    return list(zip(q["file"], q["row_number"], q["reason"], strict=True))


def test_later_row_of_a_repeated_event_id_wins_and_the_earlier_is_superseded_not_quarantined(vc) -> None:
    ready = vc.prepared(events=[
        vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z", victim_id="V1", channel="email"),
        vc.event("E1", "VICTIM_UPDATE", "2026-03-04T10:00:00Z", victim_id="V1", channel="phone")])
    assert ready.quarantine.empty
    assert ready.counts["events_superseded"] == 1 and ready.counts["superseded"] == 1
    assert list(ready.events["channel"]) == ["phone"]


def test_latest_extract_that_is_unusable_is_quarantined_and_the_older_one_not_used(vc) -> None:
    ready = vc.prepared(events=[
        vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z"),
        vc.event("E1", "VICTIM_UPDATE", "not a date")])
    assert ready.events.empty
    assert reasons(ready) == [("events.csv", 2, "occurred_at missing or unparseable")]


@pytest.mark.parametrize(("fields", "reason"), [
    ({"event_id": ""}, "event_id missing"),
    ({"crime_ref": "NOPE"}, "unknown crime_ref"),
    ({"event_type": "TEA_AND_SYMPATHY"}, "unknown event_type"),
    ({"occurred_at": ""}, "occurred_at missing or unparseable"),
    ({"occurred_at": "yesterday"}, "occurred_at missing or unparseable"),
    ({"occurred_at": "2026-04-01T00:00:00Z"}, "occurred_at after as-of"),
    ({"occurred_at": "2026-03-02T09:29:59Z"}, "occurred_at before the crime was reported"),
    ({"victim_id": "V9"}, "victim_id is not a victim of the crime"),
    ({"event_type": "NEEDS_ASSESSMENT", "in_need": "perhaps"}, "in_need not a boolean"),
    ({"event_type": "CRIME_FINALISED", "outcome_code": "23"}, "outcome_code not 0-22"),
    ({"event_type": "CRIME_FINALISED", "outcome_code": ""}, "outcome_code not 0-22"),
    ({"event_type": "COURT_OUTCOME", "court_result": "HUNG"}, "court_result unknown"),
])
def test_unusable_event_is_quarantined_with_its_reason(vc, fields, reason) -> None:
    row = {**vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z"), **fields}
    ready = vc.prepared(events=[vc.event("E0", "VICTIM_UPDATE", "2026-03-03T10:00:00Z"), row])
    assert reasons(ready) == [("events.csv", 2, reason)]
    assert list(ready.events["event_id"]) == ["E0"]
    assert ready.counts["events_quarantined"] == 1 and ready.counts["events_used"] == 1


def test_fields_that_do_not_apply_to_the_event_type_are_not_checked(vc) -> None:
    ready = vc.prepared(events=[vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z",
                                         in_need="perhaps", outcome_code="99", court_result="HUNG")])
    assert ready.quarantine.empty


def test_naive_times_are_london_local_and_a_blank_in_need_is_false(vc) -> None:
    ready = vc.prepared(
        crimes=[vc.crime(reported_at="2026-06-01T09:00:00")],
        events=[vc.event("N", "NEEDS_ASSESSMENT", "2026-06-01T10:00:00", victim_id="V1")],
        as_of="2026-06-30T00:00:00Z")
    assert vc.utc(ready.crimes["reported_at"]) == ["2026-06-01T08:00:00Z"]
    assert vc.utc(ready.events["occurred_at"]) == ["2026-06-01T09:00:00Z"]
    assert ready.events["in_need"].tolist() == [False]


@pytest.mark.parametrize(("fields", "reason"), [
    ({"crime_ref": ""}, "crime_ref missing"),
    ({"reported_at": "31/03/2026"}, "reported_at missing or unparseable"),
    ({"reported_at": "2026-04-02T00:00:00Z"}, "reported_at after as-of"),
    ({"domestic_abuse": "maybe"}, "domestic_abuse not a boolean"),
    ({"hate_crime": "2"}, "hate_crime not a boolean"),
])
def test_unusable_crime_is_quarantined_and_so_are_its_victims_and_events(vc, fields, reason) -> None:
    ready = vc.prepared(
        crimes=[vc.crime(**fields)],
        events=[vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z")])
    got = reasons(ready)
    assert got[0] == ("crimes.csv", 1, reason)
    if fields.get("crime_ref") == "":
        assert got[1:] == [("victims.csv", 1, "unknown crime_ref"), ("events.csv", 1, "unknown crime_ref")]
    else:
        assert got[1:] == [("victims.csv", 1, "crime quarantined"), ("events.csv", 1, "crime quarantined")]


@pytest.mark.parametrize(("fields", "reason"), [
    ({"crime_ref": "NOPE"}, "unknown crime_ref"),
    ({"victim_id": ""}, "victim_id missing"),
    ({"age_at_report": "forty"}, "age_at_report not a whole number"),
    ({"age_at_report": "-1"}, "age_at_report not a whole number"),
    ({"vulnerable": "sometimes"}, "vulnerable not a boolean"),
])
def test_unusable_victim_is_quarantined_and_its_events_too(vc, fields, reason) -> None:
    ready = vc.prepared(
        victims=[vc.victim(victim_id="V0"), vc.victim(**fields)],
        events=[vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z", victim_id="V1")])
    got = reasons(ready)
    assert got[0] == ("victims.csv", 2, reason)
    if fields.get("victim_id") != "" and fields.get("crime_ref") is None:
        assert got[1] == ("events.csv", 1, "victim quarantined")


def test_quarantine_keeps_the_original_text_of_every_column_and_a_reason(vc) -> None:
    ready = vc.prepared(events=[
        vc.event("E1", "TEA", " 2026-03-03T10:00:00Z ", victim_id="V1", team_note="extra column")])
    row = ready.quarantine.iloc[0]
    assert list(ready.quarantine.columns[:2]) == ["file", "row_number"]
    assert ready.quarantine.columns[-1] == "reason"
    assert (row["event_type"], row["occurred_at"], row["team_note"]) == ("TEA", " 2026-03-03T10:00:00Z ",
                                                                        "extra column")


def test_missing_column_is_an_input_error_naming_file_and_column(vc) -> None:
    raw = vc.raw_frames([vc.crime()], [vc.victim()], [])
    raw["events"] = raw["events"].drop(columns="occurred_at")
    with pytest.raises(InputError, match=r"events\.csv: missing required column\(s\): occurred_at"):
        prepare(raw, pd.Timestamp("2026-03-31T00:00:00Z"))


def test_counts_add_up(vc) -> None:
    ready = vc.prepared(events=[
        vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z"),
        vc.event("E1", "VICTIM_UPDATE", "2026-03-03T11:00:00Z"),
        vc.event("E2", "NOPE", "2026-03-03T10:00:00Z")])
    c = ready.counts
    assert (c["events_read"], c["events_used"], c["events_quarantined"], c["events_superseded"]) == (3, 1, 1, 1)
    assert (c["crimes_used"], c["victims_used"], c["quarantined"]) == (1, 1, 1)
