"""The data rules: the latest extract wins, unusable rows are quarantined with a stable reason."""

from __future__ import annotations

import pandas as pd
import pytest

from vcpipeline.errors import InputError
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
    ({"occurred_at": "2026-03-02T09:29:59Z"}, "occurred_at before the crime was reported"),
    ({"victim_id": "V9"}, "victim_id is not a victim of the crime"),
    ({"event_type": "NEEDS_ASSESSMENT", "in_need": "perhaps"}, "in_need not a boolean"),
    ({"event_type": "CRIME_FINALISED", "outcome_code": "23"}, "outcome_code not 0-22"),
    ({"event_type": "CRIME_FINALISED", "outcome_code": ""}, "outcome_code not 0-22"),
    ({"event_type": "CRIME_FINALISED", "outcome_code": "2.0"}, "outcome_code not 0-22"),
    ({"event_type": "CRIME_FINALISED", "outcome_code": "+2"}, "outcome_code not 0-22"),
    ({"event_type": "COURT_OUTCOME", "court_result": "HUNG"}, "court_result unknown"),
    ({"event_type": "COURT_OUTCOME", "court_result": " "}, "court_result missing"),
    ({"event_type": "CONTACT_AGREED", "interval_days": "+7"}, "interval_days not a whole number 0-366"),
    ({"event_type": "CONTACT_AGREED", "interval_days": "7.0"}, "interval_days not a whole number 0-366"),
    ({"event_type": "CONTACT_AGREED", "interval_days": "367"}, "interval_days not a whole number 0-366"),
    ({"event_type": "CONTACT_AGREED", "interval_days": "-1"}, "interval_days not a whole number 0-366"),
    ({"event_type": "CONTACT_AGREED", "channel": "pigeon"}, "channel not one of email/letter/phone/sms/visit"),
    ({"event_type": "OPTED_OUTT"}, "unknown event_type"),
    ({"event_type": "contact_agreed"}, "unknown event_type"),
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
    ({"domestic_abuse": "maybe"}, "domestic_abuse not a boolean"),
    ({"domestic_abuse": "truee"}, "domestic_abuse not a boolean"),
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
    ({"age_at_report": "forty"}, "age_at_report not a whole number 0-130"),
    ({"age_at_report": "-1"}, "age_at_report not a whole number 0-130"),
    ({"age_at_report": "131"}, "age_at_report not a whole number 0-130"),
    ({"age_at_report": "35.0"}, "age_at_report not a whole number 0-130"),
    ({"age_at_report": "+35"}, "age_at_report not a whole number 0-130"),
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


def test_fields_are_read_on_their_own_event_type_only(vc) -> None:
    ready = vc.prepared(events=[
        vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z", interval_days="soon", channel="Carrier pigeon"),
        vc.event("E2", "CONTACT_AGREED", "2026-03-03T10:00:00Z", interval_days="014", channel=" PHONE ",
                 in_need="perhaps", outcome_code="99")])
    assert ready.quarantine.empty
    assert ready.events["interval_days"].tolist() == [pd.NA, 14]
    assert ready.events["channel"].tolist() == ["carrier pigeon", "phone"]


@pytest.mark.parametrize(("interval_days", "channel", "read"), [
    ("", "", (pd.NA, "")), ("0", "letter", (0, "letter")), ("366", "Visit", (366, "visit")),
    (" 7 ", "sms", (7, "sms")), ("007", "EMAIL", (7, "email")),
])
def test_a_contact_agreement_reads_its_interval_and_channel(vc, interval_days, channel, read) -> None:
    ready = vc.prepared(events=[vc.event("E1", "CONTACT_AGREED", "2026-03-03T10:00:00Z", victim_id="V1",
                                         interval_days=interval_days, channel=channel)])
    assert ready.quarantine.empty
    row = ready.events.iloc[0]
    assert (row["interval_days"], row["channel"]) == read or (pd.isna(row["interval_days"]) and pd.isna(read[0])
                                                              and row["channel"] == read[1])


def test_absent_interval_days_column_reads_as_empty_and_is_a_quarantine_column(vc) -> None:
    ready = vc.prepared(events=[vc.event("E1", "CONTACT_AGREED", "2026-03-03T10:00:00Z"),
                                vc.event("E2", "NOPE", "2026-03-03T10:00:00Z")])
    assert "interval_days" not in vc.raw_frames([vc.crime()], [vc.victim()], [vc.event("E", "X", "")])["events"]
    assert ready.events["interval_days"].isna().all()
    assert ready.quarantine["interval_days"].tolist() == [""]


def test_the_v2_event_types_are_valid(vc) -> None:
    ready = vc.prepared(events=[vc.event(f"E{i}", kind, "2026-03-03T10:00:00Z", victim_id="V1")
                                for i, kind in enumerate(("CONTACT_AGREED", "OPTED_OUT", "OPTED_IN"))])
    assert ready.quarantine.empty and len(ready.events) == 3


def test_events_after_the_as_of_instant_are_left_out_and_counted_not_quarantined(vc) -> None:
    ready = vc.prepared(events=[
        vc.event("E1", "VICTIM_UPDATE", "2026-03-31T12:00:00Z"),  # at the instant: it exists
        vc.event("E2", "VICTIM_UPDATE", "2026-03-31T12:00:00.000001Z"),
        vc.event("E3", "MYSTERY", "2026-04-01T00:00:00Z", victim_id="V9")])  # not yet: no checks
    assert ready.quarantine.empty
    assert list(ready.events["event_id"]) == ["E1"]
    c = ready.counts
    assert (c["events_after_as_of"], c["after_as_of"], c["events_used"], c["events_quarantined"]) == (2, 2, 1, 0)


def test_crime_reported_after_the_as_of_instant_is_left_out_with_its_victims_and_events(vc) -> None:
    ready = vc.prepared(
        crimes=[vc.crime(), vc.crime(crime_ref="C2", reported_at="2026-04-02T00:00:00Z", hate_crime="maybe")],
        victims=[vc.victim(), vc.victim(crime_ref="C2", age_at_report="old")],
        events=[vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z"),
                vc.event("E2", "VICTIM_UPDATE", "2026-03-03T10:00:00Z", crime_ref="C2")])
    assert ready.quarantine.empty
    assert list(ready.crimes["crime_ref"]) == ["C1"] and list(ready.victims["crime_ref"]) == ["C1"]
    assert list(ready.events["event_id"]) == ["E1"]
    c = ready.counts
    assert (c["crimes_after_as_of"], c["victims_after_as_of"], c["events_after_as_of"]) == (1, 1, 1)
    assert (c["crimes_used"], c["victims_used"], c["events_used"]) == (1, 1, 1)


def test_a_date_alone_is_the_local_midnight_starting_it_not_an_offset(vc) -> None:
    ready = vc.prepared(crimes=[vc.crime(reported_at="2026-03-02")],
                        events=[vc.event("E1", "VICTIM_UPDATE", "2026-06-02")], as_of="2026-06-30T00:00:00Z")
    assert vc.utc(ready.crimes["reported_at"]) == ["2026-03-02T00:00:00Z"]
    assert vc.utc(ready.events["occurred_at"]) == ["2026-06-01T23:00:00Z"]


@pytest.mark.parametrize("key", ["crime_ref", "victim_id"])
def test_a_later_unusable_row_replaces_the_earlier_and_the_key_is_quarantined_as_a_whole(vc, key) -> None:
    if key == "crime_ref":
        ready = vc.prepared(crimes=[vc.crime(), vc.crime(hate_crime="maybe")],
                            events=[vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z")])
        expected = [("crimes.csv", 2, "hate_crime not a boolean"), ("victims.csv", 1, "crime quarantined"),
                    ("events.csv", 1, "crime quarantined")]
    else:
        ready = vc.prepared(victims=[vc.victim(), vc.victim(vulnerable="often")],
                            events=[vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z", victim_id="V1")])
        expected = [("victims.csv", 2, "vulnerable not a boolean"), ("events.csv", 1, "victim quarantined")]
    assert reasons(ready) == expected
    assert ready.counts["superseded"] == 1


def test_an_event_naming_a_victim_of_another_crime_is_quarantined(vc) -> None:
    ready = vc.prepared(crimes=[vc.crime(), vc.crime(crime_ref="C2")],
                        victims=[vc.victim(), vc.victim(crime_ref="C2", victim_id="V2")],
                        events=[vc.event("E1", "OPTED_OUT", "2026-03-03T10:00:00Z", victim_id="V2")])
    assert reasons(ready) == [("events.csv", 1, "victim_id is not a victim of the crime")]


def test_a_ragged_row_is_quarantined_replaces_nothing_and_the_run_goes_on(vc, tmp_path) -> None:
    from vcpipeline.parsing import read_canonical_folder

    for name, frame in vc.raw_frames([vc.crime()], [vc.victim()], [
            vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z")]).items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False, lineterminator="\n")
    with (tmp_path / "events.csv").open("a") as events:
        events.write("E1,C1,,VICTIM_UPDATE,2026-03-04T10:00:00Z,,,,phone,extra\n")  # 10 fields
        events.write("E2,C1,,VICTIM_UPDATE\n")  # 4 fields
        events.write("E3,C1,,VICTIM_UPDATE,2026-03-05T10:00:00Z,,,,\n")
    ready = prepare(read_canonical_folder(tmp_path), pd.Timestamp("2026-03-31T00:00:00Z"))
    assert reasons(ready) == [("events.csv", 2, "ragged row: 10 fields, the header has 9"),
                              ("events.csv", 3, "ragged row: 4 fields, the header has 9")]
    assert ready.quarantine["event_id"].tolist() == ["E1", "E2"]
    assert list(ready.events["event_id"]) == ["E1", "E3"] and ready.counts["superseded"] == 0
    assert vc.utc(ready.events["occurred_at"]) == ["2026-03-03T10:00:00Z", "2026-03-05T10:00:00Z"]


def test_quarantine_has_every_contract_column_in_the_contract_order(vc) -> None:
    from vcpipeline.canonical import CRIME_COLUMNS, EVENT_COLUMNS, VICTIM_COLUMNS

    ready = vc.prepared(crimes=[vc.crime(hate_crime="maybe")])
    union = list(dict.fromkeys([*CRIME_COLUMNS, *VICTIM_COLUMNS, *EVENT_COLUMNS, "interval_days"]))
    assert list(ready.quarantine.columns) == ["file", "row_number", *union, "reason"]


def test_a_later_row_dated_after_the_as_of_instant_replaces_the_earlier_and_is_left_out(vc) -> None:
    ready = vc.prepared(events=[vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z"),
                                vc.event("E1", "VICTIM_UPDATE", "2026-04-03T10:00:00Z")])
    assert ready.events.empty and ready.quarantine.empty
    assert (ready.counts["events_superseded"], ready.counts["events_after_as_of"]) == (1, 1)


def test_local_times_in_the_gap_and_the_fold_are_read_as_rules_md_says(vc) -> None:
    ready = vc.prepared(crimes=[vc.crime(reported_at="2026-03-01T00:00:00Z")],
                        events=[vc.event("E1", "VICTIM_UPDATE", "2026-03-29T01:15"),
                                vc.event("E2", "VICTIM_UPDATE", "2026-10-25 01:30:00")],
                        as_of="2026-11-01T00:00:00Z")
    assert vc.utc(ready.events["occurred_at"]) == ["2026-03-29T01:15:00Z", "2026-10-25T00:30:00Z"]
