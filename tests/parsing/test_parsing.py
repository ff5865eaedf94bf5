"""Reading interchange values: bad values become missing (to be quarantined), never exceptions."""

from __future__ import annotations

import pandas as pd
import pytest

from vcpipeline.canonical import CRIME_COLUMNS, EVENT_COLUMNS, VICTIM_COLUMNS
from vcpipeline.errors import InputError
from vcpipeline.parsing import (
    RAGGED_FIELDS,
    parse_booleans,
    parse_instants,
    parse_integers,
    parse_whole_numbers,
    read_canonical_csv,
    read_canonical_folder,
)


def instants(*values: str | None) -> list[pd.Timestamp]:
    return list(parse_instants(pd.Series(values, dtype="string")))


def test_instant_without_offset_is_london_summer_time():
    assert instants("2026-03-30T10:00:00") == [pd.Timestamp("2026-03-30T09:00:00Z")]


def test_instant_without_offset_is_london_winter_time():
    assert instants("2026-01-05T10:00:00") == [pd.Timestamp("2026-01-05T10:00:00Z")]


def test_instants_with_offsets_are_kept_as_the_same_instant():
    assert instants("2026-03-30T10:00:00+01:00", "2026-03-30T09:00:00Z") == [
        pd.Timestamp("2026-03-30T09:00:00Z")
    ] * 2


def test_local_time_in_the_spring_gap_is_read_with_the_offset_in_force_just_before():
    assert instants("2026-03-29T01:15:00", "2026-03-29 01:59") == [
        pd.Timestamp("2026-03-29T01:15:00Z"), pd.Timestamp("2026-03-29T01:59:00Z")]


def test_a_date_alone_is_the_local_midnight_starting_it_not_a_negative_offset():
    assert instants("2026-06-02", "2026-01-05") == [
        pd.Timestamp("2026-06-01T23:00:00Z"), pd.Timestamp("2026-01-05T00:00:00Z")]


def test_seconds_may_be_left_out_with_or_without_an_offset():
    assert instants("2026-06-02T10:15", "2026-06-02 10:15+01:00", "2026-06-02T09:15Z") == [
        pd.Timestamp("2026-06-02T09:15:00Z")] * 3


def test_fractions_of_a_second_are_kept_to_the_microsecond():
    assert instants("2026-06-02T10:15:30.123456789Z", "2026-06-02T10:15:30.5") == [
        pd.Timestamp("2026-06-02T10:15:30.123456Z"), pd.Timestamp("2026-06-02T09:15:30.5Z")]


def test_shapes_other_than_an_iso_date_or_date_time_are_not_guessed():
    assert all(pd.isna(v) for v in instants("2026-06", "20260602", "2026-06-02Z", "2026-02-30",
                                            "2026-06-02T25:00", "02/06/2026"))


def test_repeated_local_hour_in_autumn_reads_as_summer_time():
    assert instants("2026-10-25T01:30:00") == [pd.Timestamp("2026-10-25T00:30:00Z")]


def test_unparseable_or_empty_instants_become_missing():
    assert all(pd.isna(v) for v in instants("yesterday", "", None, "2026-13-45T00:00:00"))


def test_booleans_accept_the_contract_spellings_and_empty_is_false():
    values = pd.Series(["TRUE", "false", "1", "0", "Yes", "no", "", "maybe"], dtype="string")
    assert parse_booleans(values).tolist() == [True, False, True, False, True, False, False, pd.NA]


def test_integers_reject_fractions_and_words():
    values = pd.Series(["16", "2.0", "2.5", "x", ""], dtype="string")
    assert parse_integers(values).tolist() == [16, 2, pd.NA, pd.NA, pd.NA]


def test_whole_numbers_are_ascii_digits_within_bounds():
    values = pd.Series(["014", "0", "366", "367", "+7", "7.0", "-1", "1e1", "", " 5 ", "\u0663"], dtype="string")
    assert parse_whole_numbers(values, 0, 366).tolist() == [14, 0, 366, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA,
                                                            pd.NA, 5, pd.NA]


def test_a_ragged_row_is_kept_in_place_and_noted_when_asked(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8,9\n\n10,11,12\n")
    frame = read_canonical_csv(path, ["a"], keep_ragged=True)
    assert frame.to_numpy().tolist() == [["1", "2", "3"], ["4", "5", ""], ["6", "7", "8"], ["10", "11", "12"]]
    assert frame.attrs[RAGGED_FIELDS] == {1: 2, 2: 4}


def test_a_ragged_row_with_a_byte_order_mark_and_quoted_newlines_keeps_record_numbers(tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes(b'\xef\xbb\xbfa,b\n"x\ny",1\n2\n3,4\n')
    frame = read_canonical_csv(path, ["a"], keep_ragged=True)
    assert frame["a"].tolist() == ["x\ny", "2", "3"] and frame.attrs[RAGGED_FIELDS] == {1: 1}


def test_read_canonical_folder_keeps_ragged_rows_for_quarantine(tmp_path):
    (tmp_path / "crimes.csv").write_text(",".join(CRIME_COLUMNS) + "\nC1,2026-01-01\n")
    (tmp_path / "victims.csv").write_text(",".join(VICTIM_COLUMNS) + "\n")
    (tmp_path / "events.csv").write_text(",".join(EVENT_COLUMNS) + "\n")
    assert read_canonical_folder(tmp_path)["crimes"].attrs[RAGGED_FIELDS] == {0: 2}


def test_csv_with_a_byte_order_mark_reads_its_first_column(tmp_path):
    path = tmp_path / "crimes.csv"
    path.write_bytes(b"\xef\xbb\xbfcrime_ref,department\nC1,IIT\n")
    assert read_canonical_csv(path, ["crime_ref"])["crime_ref"].tolist() == ["C1"]


def test_empty_cells_stay_empty_strings_not_missing(tmp_path):
    path = tmp_path / "victims.csv"
    path.write_text("crime_ref,age_at_report\nC1,\nC2,NA\n")
    assert read_canonical_csv(path, [])["age_at_report"].tolist() == ["", "NA"]


def test_missing_column_is_an_error_naming_file_and_column(tmp_path):
    path = tmp_path / "crimes.csv"
    path.write_text("crime_ref\nC1\n")
    with pytest.raises(InputError, match=r"crimes\.csv: missing required column\(s\): department"):
        read_canonical_csv(path, ["crime_ref", "department"])


def test_malformed_csv_is_an_error_not_a_traceback(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("a,b\n1,2,3\n")
    with pytest.raises(InputError, match="not a readable UTF-8 CSV"):
        read_canonical_csv(path, [])


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(InputError, match="input folder not found"):
        read_canonical_folder(tmp_path / "nowhere")
