"""Malformed native input at the reader: a row that cannot be taken apart comes back blank with its
problem (never with its values under the wrong names), a file that cannot be read at all is one
line naming it, and nothing a source holds is left behind without a word."""

from __future__ import annotations

import sqlite3
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from vcpipeline.errors import InputError
from vcpipeline.sources.config import load_source_config
from vcpipeline.sources.readers import (
    ROW_PROBLEM_COLUMN,
    SOURCE_LINE_COLUMN,
    foreign_drop_files,
    read_csv_drop,
    read_drop_files,
    read_sql_source,
    read_xlsx_drop,
    sql_row_counts,
)

HEADER = ("Referral Ref,Police Crime No,Police Victim No,Client Name,Activity,In Need,"
          "Activity Date,Last Updated")
GOOD = "VS00000001,21/000001/26,17,Jane Smith,Needs assessment,Yes,02/07/2026 10:00,02/07/2026 11:00"
NAME = "Zephyrine Quillfeather"


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def test_a_row_with_one_field_too_many_comes_back_blank_as_a_ragged_row(tmp_path):
    shifted = f"VS00000002,21/000001/26,18,Quillfeather, {NAME},Referred,No,02/07/2026 10:00,02/07/2026 11:00"
    frame = read_csv_drop(write(tmp_path / "r.csv", "\n".join([HEADER, GOOD, shifted, GOOD]) + "\n"))
    assert len(frame) == 3
    ragged = frame[frame[ROW_PROBLEM_COLUMN] != ""]
    assert ragged[ROW_PROBLEM_COLUMN].tolist() == ["ragged_row(9 fields, header 8)"]
    assert ragged[SOURCE_LINE_COLUMN].tolist() == ["3"]
    assert not frame.drop(columns=[ROW_PROBLEM_COLUMN]).isin([NAME, f" {NAME}", "Quillfeather"]).any().any()
    assert (frame.loc[frame[ROW_PROBLEM_COLUMN] == "", "Police Victim No"] == "17").all()


def test_every_row_with_an_unquoted_comma_does_not_make_the_first_column_the_index(tmp_path):
    rows = [f"VS0000000{i},21/000001/26,{i},Smith, Jane,Referred,No,02/07/2026 10:00,02/07/2026 11:00"
            for i in range(1, 4)]
    frame = read_csv_drop(write(tmp_path / "r.csv", "\n".join([HEADER, *rows]) + "\n"))
    assert list(frame.columns[:8]) == HEADER.split(",")
    assert (frame[ROW_PROBLEM_COLUMN] == "ragged_row(9 fields, header 8)").all()
    assert (frame["Referral Ref"] == "").all() and (frame["Police Victim No"] == "").all()


@pytest.mark.parametrize("damage", ["bare CR", "field deleted"])
def test_a_misaligned_row_never_puts_the_client_name_under_police_victim_no(tmp_path, damage):
    if damage == "bare CR":
        bad = f"VS99000001,21/000001/26\r,17,{NAME},Needs assessment,Yes,02/07/2026 10:00,02/07/2026 11:00"
    else:  # the sed: the third field of the row removed
        bad = f"VS99000001,21/000001/26,{NAME},Needs assessment,Yes,02/07/2026 10:00,02/07/2026 11:00"
    frame = read_csv_drop(write(tmp_path / "r.csv", "\n".join([HEADER, GOOD, bad]) + "\n"))
    assert NAME not in set(frame["Police Victim No"])
    assert not frame.isin([NAME]).any().any()
    assert frame[ROW_PROBLEM_COLUMN].str.startswith("ragged_row").sum() == (2 if damage == "bare CR" else 1)


def test_a_utf8_byte_order_mark_is_read_not_taken_for_part_of_the_first_name(tmp_path):
    frame = read_csv_drop(write(tmp_path / "r.csv", "\ufeff" + HEADER + "\n" + GOOD + "\n"),
                          required=["Referral Ref"])
    assert frame.loc[0, "Referral Ref"] == "VS00000001"


def test_blank_and_repeated_blank_header_names_are_read_but_a_repeated_name_is_refused(tmp_path):
    frame = read_csv_drop(write(tmp_path / "a.csv", "Referral Ref,,\nVS1,x,y\n"))
    assert list(frame.columns) == ["Referral Ref", "_unnamed_2", "_unnamed_3"]
    with pytest.raises(InputError, match=r"^b\.csv: duplicate column name\(s\) in the header: Activity$"):
        read_csv_drop(write(tmp_path / "b.csv", "Activity,Activity\nx,y\n"))


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00junk\n", b"\n\n"])
def test_an_empty_or_undecodable_csv_is_one_line_naming_the_file(tmp_path, content):
    with pytest.raises(InputError) as raised:
        read_csv_drop(write(tmp_path / "referrals_20260702.csv", content))
    assert "referrals_20260702.csv" in str(raised.value) and "\n" not in str(raised.value)


def test_drop_files_are_matched_ignoring_case_and_other_files_are_named(tmp_path):
    for name in ("referrals_20260701.csv", "REFERRALS_20260702.CSV", "referrals_20260703.xls",
                 "notes.txt", ".hidden"):
        write(tmp_path / name, HEADER + "\n")
    assert [drop.name for drop in read_drop_files(tmp_path, "referrals_*.csv")] == [
        "REFERRALS_20260702.CSV", "referrals_20260701.csv"]
    assert foreign_drop_files(tmp_path, "referrals_*.csv") == ["notes.txt", "referrals_20260703.xls"]


def _workbook(path: Path, rows: list[list[object]], blank_rows: int = 0) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "WCU Updates"
    for row in rows:
        sheet.append(row)
    for offset in range(blank_rows):  # formatted, valueless cells below the data
        sheet.cell(row=len(rows) + 1 + offset, column=1).number_format = "0.00"
        sheet.cell(row=len(rows) + 1 + offset, column=3).number_format = "@"
    book.save(path)
    return path


WCU_HEADER = ["WCU ID", "Police Ref", "Witness ID", "Witness Name", "Update Type", "Court Result",
              "Event Date", "Last Modified"]
WCU_ROW = [1, "21/000001/26", 17, "Jane Smith", "VPS taken", "", "2026-07-02 10:00:00",
           "2026-07-02 11:00:00"]


def test_formatted_blank_rows_at_the_end_of_a_workbook_are_skipped(tmp_path):
    frame = read_xlsx_drop(_workbook(tmp_path / "wcu.xlsx", [WCU_HEADER, WCU_ROW], blank_rows=20),
                           "WCU Updates")
    assert len(frame) == 1


def test_a_stray_cell_right_of_the_header_is_read_under_an_unnamed_column(tmp_path):
    frame = read_xlsx_drop(_workbook(tmp_path / "wcu.xlsx", [WCU_HEADER, [*WCU_ROW, "", "stray"]]),
                           "WCU Updates")
    assert list(frame.columns) == [*WCU_HEADER, "_unnamed_9", "_unnamed_10"]
    assert frame.loc[0, "WCU ID"] == "1" and frame.loc[0, "_unnamed_10"] == "stray"


def _truncated(path: Path) -> None:
    _workbook(path, [WCU_HEADER, WCU_ROW])
    path.write_bytes(path.read_bytes()[:300])


@pytest.mark.parametrize("make", {
    "0-byte": lambda p: p.write_bytes(b""),
    "truncated": _truncated,
    "a CSV renamed": lambda p: p.write_text(HEADER + "\n"),
    "an old .xls (OLE2)": lambda p: p.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 512),
    "a zip without a workbook": lambda p: zipfile.ZipFile(p, "w").writestr("x.txt", "x"),
}.items(), ids=lambda item: item[0] if isinstance(item, tuple) else "")
def test_an_unreadable_workbook_is_one_line_naming_the_file(tmp_path, make):
    path = tmp_path / "wcu_20260702.xlsx"
    make[1](path)
    with pytest.raises(InputError) as raised:
        read_xlsx_drop(path, "WCU Updates")
    message = str(raised.value)
    assert message.startswith("cannot read wcu_20260702.xlsx: not a readable XLSX workbook")
    assert "\n" not in message


def _contacts_db(path: Path, rows: list[tuple]) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE contacts (contact_id INTEGER, note TEXT, modified_at TEXT)")
        conn.executemany("INSERT INTO contacts VALUES (?, ?, ?)", rows)
    return f"sqlite:///{path}"


def test_rows_whose_watermark_no_window_can_hold_are_read_with_every_window(tmp_path):
    url = _contacts_db(tmp_path / "vcl.db", [
        (1, "in window", "2026-07-02T10:00:00Z"),
        (2, "null", None),
        (3, "other format", "02/07/2026 10:00"),
        (4, "out of window", "2026-06-01T10:00:00Z"),
        (5, "empty", ""),
        (6, "far future text", "9999-99-99T99:99:99Z"),
    ])
    bounds = dict(since=datetime(2026, 7, 1, tzinfo=UTC), until=datetime(2026, 7, 3, tzinfo=UTC),
                  watermark_format="%Y-%m-%dT%H:%M:%SZ", watermark_tz="UTC")
    frame = read_sql_source(url, "contacts", **bounds)
    assert sorted(frame["contact_id"].astype(int)) == [1, 2, 3, 5, 6]
    assert sql_row_counts(url, "contacts", **bounds) == (6, 5)


def test_a_blob_in_a_text_column_blanks_its_row_and_names_the_column(tmp_path):
    url = _contacts_db(tmp_path / "vcl.db", [(1, "fine", "2026-07-02T10:00:00Z"),
                                             (2, b"\x00\xffJane", "2026-07-02T10:00:00Z")])
    frame = read_sql_source(url, "contacts", watermark_format="%Y-%m-%dT%H:%M:%SZ")
    by_id = frame.set_index("contact_id")
    assert by_id.loc["2", ROW_PROBLEM_COLUMN] == "binary_value(note)" and by_id.loc["2", "note"] == ""
    assert by_id.loc["1", ROW_PROBLEM_COLUMN] == "" and by_id.loc["1", "note"] == "fine"


def test_identifier_formats_and_the_quarantine_allow_list_come_from_sources_toml(tmp_path):
    configs = {config.name: config for config in load_source_config(var=tmp_path)}
    vs = configs["victim_support"]
    assert pd.Series(["21/000001/26", '=HYPERLINK("http://x","y")']).str.fullmatch(
        vs.identifiers["referrals"]["Police Crime No"]).tolist() == [True, False]
    assert "Client Name" not in vs.quarantine_keep["referrals"]
    for config in configs.values():
        assert set(config.identifiers) == set(config.tables) == set(config.quarantine_keep)


def test_a_format_name_sources_toml_does_not_declare_is_a_one_line_error(tmp_path):
    text = Path(load_source_config.__globals__["DEFAULT_CONFIG_PATH"]).read_text()
    broken = tmp_path / "sources.toml"
    broken.write_text(text.replace('crime_no = "crime_no" }', 'crime_no = "crime_number" }', 1))
    with pytest.raises(InputError, match="unknown format 'crime_number'"):
        load_source_config(broken, var=tmp_path)
