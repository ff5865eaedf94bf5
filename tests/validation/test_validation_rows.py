"""Row-level validation: each kind of bad row is reported against exactly its row id, by name."""

from __future__ import annotations

import pandas as pd
import pytest

from vcpipeline.validation.validate import validate_batch

NOW = "2026-06-01T00:00:00Z"
REPORTED = pd.Series(
    ["2026-03-02T09:30:00Z", "2026-03-03T12:00:00Z"], index=["EX1", "EX2"], name="reported_at"
)


def clean_events() -> pd.DataFrame:
    """Six good events of two crimes, shaped as the adapters emit them (strings, "" = missing)."""
    rows = [
        ("E1", "EX1", "V1", "WRITTEN_ACKNOWLEDGEMENT", "2026-03-02T15:00:00Z", "", "", "", "email"),
        ("E2", "EX1", "V1", "NEEDS_ASSESSMENT", "2026-03-03T10:00:00Z", "true", "", "", ""),
        ("E3", "EX1", "", "SUSPECT_ARRESTED", "2026-03-06T11:00:00Z", "", "", "", ""),
        ("E4", "EX1", "", "CRIME_FINALISED", "2026-03-20T10:00:00Z", "", "9", "", ""),
        ("E5", "EX2", "", "COURT_OUTCOME", "2026-04-20T10:00:00Z", "", "", "SENTENCED", ""),
        ("E6", "EX2", "V2", "VICTIM_UPDATE", "2026-04-21 10:00:00", "", "", "", "phone"),
    ]
    columns = ["event_id", "crime_ref", "victim_id", "event_type", "occurred_at", "in_need",
               "outcome_code", "court_result", "channel"]
    frame = pd.DataFrame(rows, columns=columns, dtype="string")
    frame["source_system"] = "TEST"
    frame["source_row_id"] = pd.Series([f"row-{i}" for i in range(1, 7)], dtype="string")
    frame["source_modified_at"] = "2026-05-01T00:00:00Z"
    return frame.astype("string")


def validate_events(frame: pd.DataFrame, **kwargs):
    kwargs.setdefault("crime_reported_at", REPORTED)
    return validate_batch(frame, "canonical_events", row_id="source_row_id", now=NOW, **kwargs)


def failures(validation) -> dict[str, str]:
    return dict(zip(validation.row_failures["source_row_id"], validation.row_failures["reasons"],
                    strict=True))


def test_clean_events_pass_with_no_failures_or_warnings():
    validation = validate_events(clean_events())
    assert validation.loadable, validation.batch_failures
    assert validation.row_failures.empty
    assert validation.row_warnings.empty
    assert len(validation.passed_rows(clean_events())) == 6


BAD_ROWS = {
    "unknown event type": ("event_type", "WNT", "expect_column_values_to_be_in_set(event_type)"),
    "missing event type": ("event_type", "", "expect_column_values_to_not_be_null(event_type)"),
    "missing event id": ("event_id", "", "expect_column_values_to_not_be_null(event_id)"),
    "missing occurred_at": ("occurred_at", "", "expect_column_values_to_not_be_null(occurred_at_utc)"),
    "unparseable occurred_at": ("occurred_at", "31/02/2026 10:00",
                                "expect_column_values_to_not_be_null(occurred_at_utc)"),
    "impossible calendar date": ("occurred_at", "2026-02-30T10:00:00Z",
                                 "expect_column_values_to_not_be_null(occurred_at_utc)"),
    "future timestamp": ("occurred_at", "2026-06-01T00:00:01Z",
                         "expect_column_values_to_be_between(occurred_at_utc)"),
    "before the crime's report": (
        "occurred_at", "2026-03-02T09:29:59Z",
        "expect_column_pair_values_a_to_be_greater_than_b(occurred_at_utc,crime_reported_at_utc)"),
    "unknown crime": ("crime_ref", "EX404", "expect_column_values_to_be_in_set(crime_ref_known)"),
    "missing crime": ("crime_ref", "", "expect_column_values_to_not_be_null(crime_ref)"),
    "in_need not a boolean": ("in_need", "maybe", "expect_column_values_to_match_regex(in_need)"),
}


@pytest.mark.parametrize("kind", list(BAD_ROWS))
def test_each_kind_of_bad_event_is_reported_against_exactly_its_row(kind):
    column, value, reason = BAD_ROWS[kind]
    frame = clean_events()
    frame.loc[2, column] = value  # row-3 (E3, crime EX1)
    validation = validate_events(frame)
    assert failures(validation) == {"row-3": reason}
    assert validation.loadable
    assert list(validation.passed_rows(frame)["source_row_id"]) == [
        "row-1", "row-2", "row-4", "row-5", "row-6"]


OUTCOME = "expect_column_values_to_match_regex(finalised_outcome_code)"
COURT = "expect_column_values_to_be_in_set(court_outcome_result)"
CODES_ON_THEIR_EVENT = {  # row-4 is CRIME_FINALISED, row-5 COURT_OUTCOME
    "outcome code above 22": (3, "outcome_code", "23", OUTCOME),
    "outcome code not a number": (3, "outcome_code", "N/A", OUTCOME),
    "outcome code written 9.0": (3, "outcome_code", "9.0", OUTCOME),
    "outcome code empty": (3, "outcome_code", "", OUTCOME),
    "unknown court result": (4, "court_result", "HUNG", COURT),
    "court result empty": (4, "court_result", "", COURT),
}


@pytest.mark.parametrize("kind", list(CODES_ON_THEIR_EVENT))
def test_an_outcome_code_or_court_result_not_valid_on_its_event_quarantines_the_row(kind):
    """RULES.md v2: a whole number 0-22 on CRIME_FINALISED, a known court result on COURT_OUTCOME;
    empty is not valid there."""
    position, column, value, reason = CODES_ON_THEIR_EVENT[kind]
    frame = clean_events()
    frame.loc[position, column] = value
    assert failures(validate_events(frame)) == {f"row-{position + 1}": reason}


def test_an_outcome_code_written_with_leading_zeros_is_valid():
    frame = clean_events()
    frame.loc[3, "outcome_code"] = "014"
    assert validate_events(frame).row_failures.empty


def test_an_outcome_code_or_court_result_on_another_event_is_not_read():
    frame = clean_events()
    frame.loc[2, ["outcome_code", "court_result"]] = ["99", "HUNG"]  # row-3, SUSPECT_ARRESTED
    assert validate_events(frame).row_failures.empty


def test_a_verbatim_repeat_quarantines_the_copy_and_loads_the_first():
    frame = clean_events()
    frame = pd.concat([frame, frame.iloc[[3]]], ignore_index=True)
    frame.loc[6, "source_row_id"] = "row-4-again"
    validation = validate_events(frame)
    assert failures(validation) == {"row-4-again": "expect_column_values_to_be_in_set(repeat_of_earlier_row)"}


def test_a_correction_with_a_later_modified_time_is_not_a_repeat():
    frame = clean_events()
    correction = frame.iloc[[3]].copy()
    correction["outcome_code"] = "10"
    correction["source_modified_at"] = "2026-05-02T00:00:00Z"
    validation = validate_events(pd.concat([frame, correction], ignore_index=True))
    assert validation.row_failures.empty


def test_a_row_failing_several_expectations_lists_them_all_in_suite_order():
    frame = clean_events()
    frame.loc[0, ["event_type", "occurred_at", "crime_ref"]] = ["WNT", "2099-01-01T00:00:00Z", "EX9"]
    reasons = failures(validate_events(frame))["row-1"].split(";")
    assert reasons == [
        "expect_column_values_to_be_in_set(crime_ref_known)",
        "expect_column_values_to_be_in_set(event_type)",
        "expect_column_values_to_be_between(occurred_at_utc)",
    ]


def test_an_unknown_channel_is_a_warning_and_quarantines_nothing():
    frame = clean_events()
    frame.loc[0, "channel"] = "fax"
    validation = validate_events(frame)
    assert validation.row_failures.empty
    assert validation.row_warnings.to_dict("records") == [
        {"source_row_id": "row-1", "reasons": "expect_column_values_to_be_in_set(channel)"}]


def test_known_crime_refs_alone_check_references_but_not_report_times():
    frame = clean_events()
    frame.loc[0, "occurred_at"] = "2020-01-01T00:00:00Z"  # before the report, but no times given
    validation = validate_events(frame, crime_reported_at=None, known_crime_refs={"EX1"})
    assert set(failures(validation)) == {"row-5", "row-6"}  # the EX2 events
    assert set(failures(validation).values()) == {"expect_column_values_to_be_in_set(crime_ref_known)"}


def test_without_known_crimes_the_reference_check_is_skipped():
    validation = validate_events(clean_events(), crime_reported_at=None)
    assert validation.row_failures.empty


def test_row_failures_are_the_frame_the_quarantine_table_takes():
    frame = clean_events()
    frame.loc[1, "event_type"] = "WNT"
    validation = validate_events(frame)
    assert list(validation.row_failures.columns) == ["source_row_id", "reasons"]
    failed = validation.failed_rows(frame)
    assert list(failed["event_id"]) == ["E2"]
    assert list(failed["reasons"]) == ["expect_column_values_to_be_in_set(event_type)"]


def test_a_frame_with_a_non_default_index_reports_the_right_rows():
    frame = clean_events()
    frame.index = [10, 20, 30, 40, 50, 60]
    frame.loc[40, "event_type"] = "WNT"
    validation = validate_events(frame)
    assert failures(validation) == {"row-4": "expect_column_values_to_be_in_set(event_type)"}
    assert 40 not in validation.passed_rows(frame).index


def test_now_must_be_an_instant():
    with pytest.raises(ValueError, match="zone"):
        validate_batch(clean_events(), "canonical_events", row_id="source_row_id",
                       now="2026-06-01T00:00:00")


def crimes_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "crime_ref": ["C1", "C2", "C3"],
        "reported_at": ["2026-03-02T09:30:00Z", "2026-03-03 10:00:00", "2026-03-04T11:00:00+01:00"],
        "department": ["IIT", "PPU", "VVA"],
        "offence_category": ["theft", "sexual_offence", "burglary"],
        "domestic_abuse": ["false", "TRUE", ""],
        "hate_crime": ["no", "0", "false"],
        "source_row_id": ["1", "2", "3"],
    }, dtype="string")


def test_a_crime_of_an_unknown_department_fails_unless_reference_data_lists_it():
    frame = crimes_frame()
    frame.loc[1, "department"] = "SOC"
    validation = validate_batch(frame, "canonical_crimes", row_id="source_row_id", now=NOW)
    assert failures(validation) == {"2": "expect_column_values_to_be_in_set(department)"}
    extended = validate_batch(frame, "canonical_crimes", row_id="source_row_id", now=NOW,
                              parameters={"departments": ["IIT", "PPU", "VVA", "SOC"]})
    assert extended.row_failures.empty


def test_crime_rows_with_unknown_offence_future_report_or_bad_flag_fail():
    frame = crimes_frame()
    frame.loc[0, "offence_category"] = "ZZ9"
    frame.loc[1, "reported_at"] = "2027-01-01T00:00:00Z"
    frame.loc[2, "hate_crime"] = "perhaps"
    validation = validate_batch(frame, "canonical_crimes", row_id="source_row_id", now=NOW)
    assert failures(validation) == {
        "1": "expect_column_values_to_be_in_set(offence_category)",
        "2": "expect_column_values_to_be_between(reported_at_utc)",
        "3": "expect_column_values_to_match_regex(hate_crime)",
    }


def test_victims_of_unknown_crimes_and_non_numeric_ages_fail():
    frame = pd.DataFrame({
        "crime_ref": ["C1", "C1", "C9"], "victim_id": ["V0000001", "V0000002", "V0000003"],
        "age_at_report": ["35", "twelve", ""], "vulnerable": ["false", "", "true"],
        "intimidated": ["", "", ""], "persistently_targeted": ["no", "yes", "1"],
        "source_row_id": ["a", "b", "c"],
    }, dtype="string")
    validation = validate_batch(frame, "canonical_victims", row_id="source_row_id", now=NOW,
                                known_crime_refs={"C1"})
    assert failures(validation) == {
        "b": "expect_column_values_to_match_regex(age_at_report)",
        "c": "expect_column_values_to_be_in_set(crime_ref_known)",
    }


def test_none_and_nan_count_as_missing_like_the_empty_string():
    frame = clean_events().astype(object)
    frame.loc[0, "event_type"] = None
    frame.loc[1, "event_id"] = float("nan")
    validation = validate_events(frame)
    assert failures(validation) == {
        "row-1": "expect_column_values_to_not_be_null(event_type)",
        "row-2": "expect_column_values_to_not_be_null(event_id)",
    }
