"""Version 2's data rules in the canonical events suite: a contact agreement's interval and method,
and events naming someone who is not a victim of their crime (RULES.md "Data rules")."""

from __future__ import annotations

import pandas as pd
import pytest

from vcpipeline.validation.validate import validate_batch

NOW = "2026-06-01T00:00:00Z"
REPORTED = pd.Series(["2026-03-02T09:30:00Z", "2026-03-03T12:00:00Z"], index=["EX1", "EX2"])
VICTIMS = pd.DataFrame({"crime_ref": ["EX1", "EX2"], "victim_id": ["V1", "V2"]}, dtype="string")
INTERVAL = "expect_column_values_to_match_regex(agreed_interval_days)"
CHANNEL = "expect_column_values_to_match_regex(agreed_channel)"
NOT_A_VICTIM = "expect_column_values_to_be_in_set(victim_known)"


def choices(*rows: tuple[str, str, str, str, str]) -> pd.DataFrame:
    """Events of crime EX1 as the adapters emit them: (victim_id, event_type, channel, interval_days,
    occurred_at), row ids row-1, row-2, ..."""
    frame = pd.DataFrame([{
        "event_id": f"E{i}", "crime_ref": "EX1", "victim_id": victim, "event_type": kind,
        "occurred_at": at or "2026-03-03T10:00:00Z", "in_need": "", "outcome_code": "",
        "court_result": "", "channel": channel, "interval_days": interval, "source_system": "TEST",
        "source_row_id": f"row-{i}", "source_modified_at": "2026-05-01T00:00:00Z",
    } for i, (victim, kind, channel, interval, at) in enumerate(rows, start=1)], dtype="string")
    return frame


def validate(frame: pd.DataFrame, known_victims: pd.DataFrame | None = VICTIMS):
    return validate_batch(frame, "canonical_events", row_id="source_row_id", now=NOW,
                          crime_reported_at=REPORTED, known_victims=known_victims)


def failures(validation) -> dict[str, str]:
    return dict(zip(validation.row_failures["source_row_id"], validation.row_failures["reasons"],
                    strict=True))


@pytest.mark.parametrize("interval", ["", "0", "7", "14", "014", "28", "366", "0000366"])
def test_a_contact_agreement_with_a_whole_number_of_days_up_to_366_passes(interval):
    validation = validate(choices(("V1", "CONTACT_AGREED", "phone", interval, "")))
    assert validation.loadable and validation.row_failures.empty


@pytest.mark.parametrize("interval", ["367", "+7", "7.0", "-1", "2 weeks", "1e1", "\u0661\u0664", "14d"])
def test_a_contact_agreement_whose_interval_is_not_ascii_digits_0_to_366_is_quarantined(interval):
    frame = choices(("V1", "CONTACT_AGREED", "phone", "14", ""),
                    ("V1", "CONTACT_AGREED", "phone", interval, "2026-03-04T10:00:00Z"))
    validation = validate(frame)
    assert failures(validation) == {"row-2": INTERVAL}
    assert validation.loadable


def test_interval_days_is_not_read_on_other_events():
    validation = validate(choices(("V1", "VICTIM_UPDATE", "phone", "2 weeks", "")))
    assert validation.row_failures.empty


@pytest.mark.parametrize("channel", ["letter", "email", "sms", "phone", "visit", "PHONE", ""])
def test_a_contact_agreement_names_a_known_method_in_any_case_or_none(channel):
    assert validate(choices(("V1", "CONTACT_AGREED", channel, "14", ""))).row_failures.empty


@pytest.mark.parametrize("channel", ["fax", "TEL", "pigeon"])
def test_a_contact_agreement_with_a_method_outside_the_list_is_quarantined(channel):
    validation = validate(choices(("V1", "CONTACT_AGREED", channel, "14", "")))
    assert failures(validation) == {"row-1": CHANNEL}


def test_an_unknown_channel_on_another_event_is_only_a_warning():
    validation = validate(choices(("V1", "VICTIM_UPDATE", "fax", "", "")))
    assert validation.row_failures.empty
    assert list(validation.row_warnings["source_row_id"]) == ["row-1"]


def test_choices_and_events_for_someone_not_a_victim_of_the_crime_are_quarantined():
    frame = choices(("V2", "OPTED_OUT", "", "", ""),          # V2 is EX2's victim
                    ("V9", "CONTACT_AGREED", "phone", "7", ""),
                    ("V2", "VICTIM_UPDATE", "phone", "", ""),
                    ("V1", "OPTED_OUT", "", "", ""),
                    ("", "SUSPECT_ARRESTED", "", "", ""))        # every victim of EX1
    validation = validate(frame)
    assert failures(validation) == {"row-1": NOT_A_VICTIM, "row-2": NOT_A_VICTIM,
                                    "row-3": NOT_A_VICTIM}
    assert validation.summary()["failures_by_expectation"] == {NOT_A_VICTIM: 3}


def test_victims_are_not_checked_when_none_are_given():
    assert validate(choices(("V9", "OPTED_OUT", "", "", "")), known_victims=None).row_failures.empty


def test_an_opt_in_without_an_opt_out_is_valid():
    assert validate(choices(("V1", "OPTED_IN", "phone", "", ""))).row_failures.empty


def test_an_events_extract_without_interval_days_still_validates():
    frame = choices(("V1", "CONTACT_AGREED", "phone", "14", "")).drop(columns=["interval_days"])
    validation = validate(frame)
    assert validation.loadable and validation.row_failures.empty
