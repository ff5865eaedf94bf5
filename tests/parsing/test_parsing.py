"""Reading interchange values: bad values become missing (to be quarantined), never exceptions."""

from __future__ import annotations

import pandas as pd
import pytest

from vcpipeline.parsing import (
    InputError,
    parse_booleans,
    parse_instants,
    parse_integers,
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


def test_local_time_in_the_spring_gap_moves_forward():
    assert instants("2026-03-29T01:30:00") == [pd.Timestamp("2026-03-29T01:00:00Z")]


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
