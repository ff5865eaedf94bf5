"""The demo's privacy check finds a victim's details wherever an output can hold them, and nothing
in clean outputs: e-mails and their attachments, worksheets, Data Docs, exports, the warehouse."""

from __future__ import annotations

import json
import shutil
import sqlite3
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from vcpipeline.audit.privacy_check import leaked_victim_details
from vcpipeline.cli import main as vcp


@pytest.fixture(scope="module")
def sources_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("force")
    assert vcp(["generate", "--crimes", "200", "--out", str(root)]) == 0
    return root / "sources" / "crime_recording.db"


@pytest.fixture(scope="module")
def victim(sources_db) -> dict[str, str]:
    """One generated victim with every detail known, the one whose details are planted."""
    with sqlite3.connect(sources_db) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM victims WHERE date_of_birth != '' LIMIT 1").fetchone()
    return {**dict(row), "name": f"{row['forename']} {row['surname']}"}


def _workbook(rows_by_sheet: dict[str, list[list[object]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in rows_by_sheet.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _clean_worksheet() -> bytes:
    return _workbook({"PPU": [["Crime reference", "Reported", "Officer"],
                              ["23/004512/26", "2026-07-03", "PC 4521"]]})


def test_a_victims_name_phone_and_postcode_in_an_email_are_found(sources_db, victim, tmp_path):
    (tmp_path / "alert.eml").write_text(
        f"Subject: x\n\nCall {victim['name']} on {victim['phone']}, {victim['postcode']}\n")
    found = leaked_victim_details(sources_db, [tmp_path])
    assert {victim["name"], victim["phone"], victim["postcode"]} <= found.keys()


def test_an_address_line_is_found(sources_db, victim, tmp_path):
    (tmp_path / "report.md").write_text(f"| {victim['address_line']}, {victim['town']} |\n")
    assert victim["address_line"] in leaked_victim_details(sources_db, [tmp_path])


def test_a_name_in_any_cell_of_any_sheet_of_a_worksheet_is_found(sources_db, victim, tmp_path):
    (tmp_path / "2026Q3-PPU.xlsx").write_bytes(_workbook({
        "Sample": [["Crime reference", "Notes"], ["23/004512/26", "ok"]],
        "Lists": [["", "", "", f"spoke to {victim['name']}"]],
    }))
    found = leaked_victim_details(sources_db, [tmp_path])
    assert set(found) == {victim["name"]}
    assert any("2026Q3-PPU.xlsx" in place for place in found[victim["name"]])


def test_a_name_in_a_base64_worksheet_attached_to_an_email_is_found(sources_db, victim, tmp_path):
    message = EmailMessage()
    message["Subject"] = "Dip sample 2026Q3"
    message.set_content("Worksheets attached.")
    message.add_attachment(_workbook({"Sheet": [["Crime reference", "Victim"],
                                                ["23/004512/26", victim["name"]]]}),
                           maintype="application",
                           subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           filename="2026Q3-PPU.xlsx")
    raw = message.as_bytes()
    assert victim["name"].encode() not in raw  # only a decoder can see it
    (tmp_path / "reviewers.eml").write_bytes(raw)
    assert victim["name"] in leaked_victim_details(sources_db, [tmp_path])


def test_a_name_split_by_quoted_printable_soft_line_breaks_is_found(sources_db, victim, tmp_path):
    message = EmailMessage()
    message["Subject"] = "Morning alert"
    message.set_content(f"<p>{'x' * 70} {victim['name']}</p>", subtype="html", cte="quoted-printable")
    (tmp_path / "alert.eml").write_bytes(message.as_bytes())
    assert victim["name"] in leaked_victim_details(sources_db, [tmp_path])


def test_a_name_in_a_data_docs_page_or_its_json_is_found(sources_db, victim, tmp_path):
    page = tmp_path / "data_docs" / "validations" / "victims" / "run.html"
    page.parent.mkdir(parents=True)
    forename, surname = victim["forename"], victim["surname"]
    page.write_text(f"<table><tr><td>unexpected</td><td>{forename}&nbsp;{surname}</td></tr></table>")
    assert victim["name"] in leaked_victim_details(sources_db, [tmp_path / "data_docs"])
    page.unlink()
    (page.parent / "run.json").write_text(
        json.dumps({"results": [{"result": {"partial_unexpected_list": [victim["name"]]}}]}))
    assert victim["name"] in leaked_victim_details(sources_db, [tmp_path / "data_docs"])


def test_a_name_in_a_parquet_export_is_found(sources_db, victim, tmp_path):
    pd.DataFrame({"crime_ref": ["23/004512/26"], "note": [victim["name"]]}).to_parquet(
        tmp_path / "2026Q3.parquet")
    assert victim["name"] in leaked_victim_details(sources_db, [tmp_path])


def test_a_name_in_any_text_column_of_a_warehouse_table_is_found(sources_db, victim, tmp_path):
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE quarantine (id INTEGER, reasons TEXT, raw_row TEXT)"))
        conn.execute(sa.text("INSERT INTO quarantine VALUES (1, 'ragged', :row)"),
                     {"row": f'{{"Police Victim No": "{victim["name"]}"}}'})
    engine.dispose()
    found = leaked_victim_details(sources_db, [], warehouse_url=url)
    assert found == {victim["name"]: {"warehouse table quarantine (rows from 0)"}}


def test_a_date_of_birth_beside_the_victims_crime_or_a_birth_label_is_found(sources_db, victim, tmp_path):
    dob = victim["date_of_birth"]
    british = f"{dob[8:]}/{dob[5:7]}/{dob[:4]}"
    (tmp_path / "worksheet.csv").write_text(f"Crime reference,Victim born\n{victim['crime_no']},{british}\n")
    assert dob in leaked_victim_details(sources_db, [tmp_path])
    (tmp_path / "worksheet.csv").write_text(f"Date of birth: {dob}\n")
    assert dob in leaked_victim_details(sources_db, [tmp_path])
    (tmp_path / "worksheet.csv").unlink()
    (tmp_path / "w.xlsx").write_bytes(_workbook({"S": [[f"V{victim['victim_no']:07d}", pd.Timestamp(dob)]]}))
    assert dob in leaked_victim_details(sources_db, [tmp_path])


def test_a_date_that_is_a_birthday_but_tied_to_no_victim_is_not_a_leak(sources_db, victim, tmp_path):
    """A bare date (every day is someone's birthday) or a timestamp is not a date of birth."""
    dob = victim["date_of_birth"]
    (tmp_path / "report.csv").write_text(
        f"month,rate\n{dob},91.2%\n{victim['crime_no']},{dob}T09:30:00+01:00\n"
        f"{victim['crime_no']},{dob} 09:30:00\n")
    assert leaked_victim_details(sources_db, [tmp_path]) == {}


def test_clean_outputs_of_every_kind_report_nothing(sources_db, tmp_path):
    message = EmailMessage()
    message["Subject"] = "Victims Code"
    message.set_content("23/004512/26 Update the victim V0001234, PC 4521, due 2026-07-06")
    message.add_attachment(_clean_worksheet(), maintype="application",
                           subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                           filename="PPU.xlsx")
    (tmp_path / "alert.eml").write_bytes(message.as_bytes())
    (tmp_path / "PPU.xlsx").write_bytes(_clean_worksheet())
    (tmp_path / "index.html").write_text("<h1>Data Docs</h1><p>Park Road Station 14 expectations</p>")
    (tmp_path / "run.json").write_text('{"success": true, "statistics": {"evaluated": 14}}')
    pd.DataFrame({"month": ["2026-07"], "rate": [0.91]}).to_parquet(tmp_path / "report.parquet")
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE crimes (crime_ref TEXT, reported_at TEXT)"))
        conn.execute(sa.text("INSERT INTO crimes VALUES ('23/004512/26', '2026-07-03T08:12:00Z')"))
    engine.dispose()
    assert leaked_victim_details(sources_db, [tmp_path], warehouse_url=url) == {}


def test_a_baby_born_on_the_day_of_the_report_has_its_report_date_beside_its_crime_but_not_its_name(
        sources_db, victim, tmp_path):
    """Found in the demo of 29 Nov 2026: victim_compliance's report_date beside the crime
    reference is allowed data, even when a newborn victim's birthday is that very day."""
    babies = tmp_path / "crime_recording.db"
    shutil.copyfile(sources_db, babies)
    with sqlite3.connect(babies) as conn:
        report_day = conn.execute("SELECT substr(recorded_at, 1, 10) FROM crimes WHERE crime_no = ?",
                                  (victim["crime_no"],)).fetchone()[0]
        conn.execute("UPDATE victims SET date_of_birth = ? WHERE victim_no = ?", (report_day, victim["victim_no"]))
    out = tmp_path / "out"
    out.mkdir()
    (out / "victim_compliance.csv").write_text(
        f"crime_ref,victim_id,report_date\n{victim['crime_no']},V{victim['victim_no']:07d},{report_day}\n")
    assert leaked_victim_details(babies, [out]) == {}
    (out / "victim_compliance.csv").write_text(f"name,born\n{victim['name']},{report_day}\n")
    assert report_day in leaked_victim_details(babies, [out])
