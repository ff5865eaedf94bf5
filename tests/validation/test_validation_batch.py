"""Batch-level validation (schema, empty feed, volume), the suites themselves, and Data Docs."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from vcpipeline.canonical import (
    CHANNELS,
    COURT_RESULTS,
    CRIME_COLUMNS,
    EVENT_COLUMNS,
    EVENT_TYPES,
    VICTIM_COLUMNS,
)
from vcpipeline.parsing import parse_booleans, parse_whole_numbers
from vcpipeline.sources.config import load_source_config
from vcpipeline.validation.docs import build_data_docs
from vcpipeline.validation.suites import (
    SuiteError,
    load_suite,
    load_suite_dict,
    suite_names,
    suites_dir,
)
from vcpipeline.validation.validate import validate_batch, volume_band

from .test_validation_rows import NOW, REPORTED, clean_events, validate_events


def test_a_missing_column_is_a_batch_failure_naming_the_column():
    validation = validate_events(clean_events().drop(columns=["occurred_at"]))
    assert not validation.loadable
    messages = [failure["message"] for failure in validation.batch_failures]
    assert messages == ["expect_table_columns_to_match_set: missing column(s): occurred_at"]
    assert validation.batch_failures[0]["expectation"] == "expect_table_columns_to_match_set"


def test_an_empty_feed_is_a_batch_failure():
    validation = validate_events(clean_events().iloc[:0])
    assert not validation.loadable
    assert [f["message"] for f in validation.batch_failures] == [
        "expect_table_row_count_to_be_between: 0 rows, expected at least 1 (empty feed)"]


def test_an_out_of_band_volume_says_by_how_much_and_from_how_many_nights():
    validation = validate_events(clean_events(), recent_volumes=[100] * 7)
    assert not validation.loadable
    (failure,) = validation.batch_failures
    assert failure["message"] == (
        "expect_table_row_count_to_be_between: 6 rows, expected 60–120 from the last 7 nights "
        "(90% below the band)")
    assert failure["observed"] == 6
    assert failure["expected"] == {"min_value": 60, "max_value": 120}


def test_a_volume_within_the_band_loads():
    assert validate_events(clean_events(), recent_volumes=[5, 6, 7]).loadable


def test_the_band_of_six_thousand_a_night_is_4800_to_7200():
    assert volume_band([6000] * 7) == (4800, 7200)
    assert volume_band([5000, 7000, 6000], tolerance=0.5) == (2500, 10500)


def test_no_band_until_enough_nights_are_known():
    assert volume_band([6000, 6000]) is None
    assert volume_band(None) is None
    assert validate_events(clean_events(), recent_volumes=[1000, 1000]).loadable


def test_a_quiet_night_of_a_sparse_feed_is_within_the_volume_band():
    # Three rows a night on average: none on some night is chance, not a broken feed.
    assert volume_band([2, 4, 3, 3], tolerance=0.5)[0] == 0
    # A busy feed still fails when it delivers nothing.
    assert volume_band([400, 420, 390], tolerance=0.5)[0] > 0


def test_a_feed_where_most_rows_fail_is_stopped_as_a_whole():
    frame = pd.concat([clean_events()] * 20, ignore_index=True)
    frame["source_row_id"] = [f"r{i}" for i in range(len(frame))]
    frame["event_id"] = [f"E{i}" for i in range(len(frame))]
    frame["occurred_at"] = "05/03/2026 10:00"  # the source switched date format
    validation = validate_events(frame)
    assert len(validation.row_failures) == 120
    assert not validation.loadable
    assert "120 of 120 rows (100%) fail row expectations" in validation.batch_failures[0]["message"]


def test_a_native_extract_gets_batch_checks_and_row_warnings_only():
    contacts = pd.DataFrame({
        "contact_id": ["1", "2"], "crime_number": ["23/004512/26", ""],
        "crs_victim_no": ["1234", ""], "contact_type": ["ACK", "CBK"], "vps_response": ["", ""],
        "channel": ["LTR", "EML"], "staff_no": ["S1", "S2"], "update_interval": ["", ""],
        "contacted_at": ["2026-03-02T15:00:00Z", "2026-03-02T16:00:00Z"],
        "created_at": ["2026-03-02T15:00:00Z"] * 2, "modified_at": ["2026-03-02T15:00:00Z"] * 2,
    }, dtype="string")
    validation = validate_batch(contacts, "victim_contact.contacts", row_id="contact_id", now=NOW)
    assert validation.loadable
    assert validation.row_failures.empty
    assert dict(zip(validation.row_warnings["contact_id"], validation.row_warnings["reasons"],
                    strict=True)) == {
        "2": "expect_column_values_to_not_be_null(crime_number);"
             "expect_column_values_to_be_in_set(contact_type)"}
    dropped = validate_batch(contacts.drop(columns=["channel"]), "victim_contact.contacts",
                             row_id="contact_id", now=NOW)
    assert [f["message"] for f in dropped.batch_failures] == [
        "expect_table_columns_to_match_set: missing column(s): channel"]


# --- the suites -----------------------------------------------------------------------------------


def test_every_suite_loads_as_a_gx_suite_with_valid_levels():
    names = suite_names()
    assert {"canonical_events", "canonical_crimes", "canonical_victims"} <= set(names)
    for name in names:
        suite = load_suite(name)
        assert suite.name == name
        assert len(suite.expectations) == len(load_suite_dict(name)["expectations"])


def test_a_missing_suite_is_a_clear_error():
    with pytest.raises(SuiteError, match="no expectation suite 'nope'"):
        load_suite_dict("nope")


def _kwargs(name: str, expectation_type: str, column: str) -> dict:
    (entry,) = [e["kwargs"] for e in load_suite_dict(name)["expectations"]
                if e["type"] == expectation_type and e["kwargs"].get("column") == column]
    return entry


def test_canonical_suites_use_exactly_the_canonical_columns_and_codes():
    schema = {name: next(e["kwargs"]["column_set"] for e in load_suite_dict(name)["expectations"]
                         if e["type"] == "expect_table_columns_to_match_set")
              for name in ("canonical_events", "canonical_crimes", "canonical_victims")}
    assert schema == {"canonical_events": list(EVENT_COLUMNS),
                      "canonical_crimes": list(CRIME_COLUMNS),
                      "canonical_victims": list(VICTIM_COLUMNS)}
    in_set = "expect_column_values_to_be_in_set"
    assert set(_kwargs("canonical_events", in_set, "event_type")["value_set"]) == EVENT_TYPES
    assert set(_kwargs("canonical_events", in_set, "court_outcome_result")["value_set"]) == COURT_RESULTS
    assert set(_kwargs("canonical_events", in_set, "channel")["value_set"]) == CHANNELS


@pytest.mark.parametrize(("suite", "column", "low", "high"), [
    ("canonical_victims", "age_at_report", 0, 130),
    ("canonical_events", "finalised_outcome_code", 0, 22),
])
def test_a_whole_number_pattern_accepts_exactly_what_the_data_rules_read(suite, column, low, high):
    """RULES.md v2: ASCII digits only (014 is 14; +7, 7.0, 1e1 are not), within the range."""
    regex = _kwargs(suite, "expect_column_values_to_match_regex", column)["regex"]
    samples = pd.Series([str(low), str(high), str(high + 1), "014", "0", "00", "7", " 7 ", "+7", "7.0",
                         "1e1", "-1", "\u0663", "999", "seven", "2 weeks"], dtype="string")
    matches = samples.str.contains(regex, regex=True)
    assert list(matches) == list(parse_whole_numbers(samples, low, high).notna())


def test_the_boolean_pattern_accepts_exactly_what_parse_booleans_reads():
    regex = _kwargs("canonical_events", "expect_column_values_to_match_regex", "in_need")["regex"]
    samples = pd.Series(["true", "FALSE", "Yes", "no", "1", "0", "y", "N", "t", "f",
                         "maybe", "2", "truthy", " true", "oui", "  "], dtype="string")
    matches = samples.str.contains(regex, regex=True)
    assert list(matches) == list(parse_booleans(samples).notna())


def test_native_suites_allow_exactly_the_codes_sources_toml_maps():
    mapping = {config.name: config.mapping for config in load_source_config()}
    in_set = "expect_column_values_to_be_in_set"
    crs = mapping["crime_recording"]
    assert set(_kwargs("crime_recording.crimes", in_set, "reporting_unit")["value_set"]) == set(
        crs["reporting_unit"])
    assert set(_kwargs("crime_recording.crimes", in_set, "offence_code")["value_set"]) == set(
        crs["offence_code"])
    assert set(_kwargs("crime_recording.milestones", in_set, "milestone_code")["value_set"]) == set(
        crs["milestone_code"])
    vcl = mapping["victim_contact"]
    assert set(_kwargs("victim_contact.contacts", in_set, "contact_type")["value_set"]) == {
        *vcl["contact_type"], "VPS"}
    assert set(_kwargs("victim_contact.contacts", in_set, "channel")["value_set"]) == set(vcl["channel"])
    assert set(_kwargs("victim_support.referrals", in_set, "Activity")["value_set"]) == set(
        mapping["victim_support"]["activity"])
    wcu = mapping["witness_care"]
    assert set(_kwargs("witness_care.wcu_updates", in_set, "Update Type")["value_set"]) == set(
        wcu["update_type"])
    assert set(_kwargs("witness_care.wcu_updates", in_set, "Court Result")["value_set"]) == set(
        wcu["court_result"])
    categories = _kwargs("canonical_crimes", in_set, "offence_category")["value_set"]
    assert set(categories) == set(crs["offence_code"].values())


def test_no_suite_expects_anything_of_a_personal_data_column():
    personal = re.compile(r"name|surname|forename|phone|address|postcode|town", re.IGNORECASE)
    for path in suites_dir().glob("*.json"):
        for expectation in json.loads(path.read_text())["expectations"]:
            column = str(expectation["kwargs"].get("column", ""))
            assert not personal.search(column), (path.name, column)


# --- Data Docs ------------------------------------------------------------------------------------


def test_data_docs_write_an_offline_index_linking_each_validation(tmp_path):
    bad = clean_events()
    bad.loc[0, "event_type"] = "WNT"
    validations = [validate_events(clean_events()), validate_events(bad)]
    index = build_data_docs(validations, tmp_path / "data_docs", run_name="nightly-2026-06-01")
    assert index == (tmp_path / "data_docs" / "index.html").resolve()
    text = index.read_text(encoding="utf-8")
    links = re.findall(r'<a href="(validations/[^"]+\.html)"', text)
    assert len(links) == 2
    assert all((index.parent / link).is_file() for link in links)
    # Newest first; a batch that loaded with rows set aside reads "rows quarantined", not FAILED.
    assert "passed" in text and "loaded; 1 row quarantined" in text
    for page in index.parent.rglob("*.html"):
        page_text = page.read_text(encoding="utf-8")
        assert not re.search(r'<(?:script|link|img)\b[^>]*(?:src|href)="https?://', page_text), page
        assert not re.search(r"url\(['\"]?https?://", page_text), page
    quarantined_page = (index.parent / links[0]).read_text(encoding="utf-8")
    assert links[0].endswith("events-2.html") and "WNT" in quarantined_page


def test_reported_at_lookup_accepts_naive_local_text():
    reported = pd.Series(["2026-03-02 09:30:00"], index=["EX1"])  # 09:30 GMT = 09:30Z
    frame = clean_events().iloc[:1].copy()
    frame["occurred_at"] = "2026-03-02T09:29:00Z"
    validation = validate_events(frame, crime_reported_at=reported)
    assert list(validation.row_failures["reasons"]) == [
        "expect_column_pair_values_a_to_be_greater_than_b(occurred_at_utc,crime_reported_at_utc)"]
    assert REPORTED.index.tolist() == ["EX1", "EX2"]


def test_importing_validation_modules_does_not_import_great_expectations():
    code = ("import sys, vcpipeline.validation, vcpipeline.validation.validate, "
            "vcpipeline.validation.docs, vcpipeline.validation.suites, vcpipeline.validation.gx; "
            "print('great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
