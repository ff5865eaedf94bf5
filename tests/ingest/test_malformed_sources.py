"""A generated force whose sources are damaged the way an unlucky force's are (issue 11): ragged and
misaligned CSV rows, formula-shaped identifiers, unreadable watermarks, upper-case file names,
byte-order marks, blank spreadsheet rows, files that are not what they say. Every batch still
reconciles (extracted = loaded + quarantined), the run goes on past a bad row, and no victim's
name, phone, postcode or date of birth reaches any warehouse table, quarantine's raw rows included."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from tests.ingest.test_ingest_batches import UNTIL, assert_every_batch_reconciles, batches, run_all
from vcpipeline.ingest.run import run_source_batch
from vcpipeline.ingest.windows import EPOCH
from vcpipeline.warehouse.frames import read_frame

FORMULA = '=HYPERLINK("http://x","y")'
STRANGER = "Zephyrine Quillfeather"


def _rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def damage_victim_support(folder: Path, victims: pd.DataFrame) -> dict[str, str]:
    """Damage the referral drops as issue 11 found them; returns what was done to which file."""
    files = sorted(folder.glob("referrals_*.csv"))
    assert len(files) >= 6
    done = {}
    # 1. A bare CR inside an early field splits a row carrying a real victim's name.
    rows = _rows(files[0])
    crime, victim = rows[1][1], rows[1][2]
    name = victims.set_index(victims["victim_no"].astype(str)).loc[victim, "name"]
    bad = f"VS99000001,{crime}\r,{victim},{name},Needs assessment,Yes,{rows[1][6]},{rows[1][7]}\n"
    files[0].write_text(_csv(rows) + bad + f"VS99000002,{crime},{victim},{STRANGER},Referred,No,"
                        f"{rows[1][6]},{rows[1][7]},extra\n", encoding="utf-8")
    done["bare CR"] = files[0].name
    # 2. One field of the third line deleted (the sed): the name shifts into Police Victim No.
    lines = files[1].read_text(encoding="utf-8").split("\n")
    lines[2] = re.sub(r"^([^,]*,[^,]*,)[^,]*,", r"\1", lines[2])
    files[1].write_text("\n".join(lines), encoding="utf-8")
    done["short row"] = files[1].name
    # 3. Every row has an unquoted comma in the name ("Surname, Forename").
    rows = _rows(files[2])
    body = [",".join([*row[:3], ", ".join(reversed(row[3].split(" ", 1))), *row[4:]]) for row in rows[1:]]
    files[2].write_text(",".join(rows[0]) + "\n" + "\n".join(body) + "\n", encoding="utf-8")
    done["unquoted commas"] = files[2].name
    # 4. A UTF-8 byte-order mark.
    files[3].write_bytes(b"\xef\xbb\xbf" + files[3].read_bytes())
    # 5. A formula as the crime number.
    rows = _rows(files[4])
    rows[1][1] = FORMULA
    files[4].write_text(_csv(rows), encoding="utf-8")
    done["formula"] = rows[1][0]
    # 6. An upper-case name, and a file of the wrong kind beside the drops.
    upper = files[5].with_name(files[5].name.upper().replace("REFERRALS", "referrals"))
    files[5].rename(upper.with_suffix(".CSV"))
    done["upper case"] = upper.with_suffix(".CSV").name
    (folder / "referrals_20260703.xls").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 64)
    return done


def damage_witness_care(folder: Path) -> str:
    """Twenty formatted blank rows below the data, and a stray cell right of the header."""
    path = sorted(folder.glob("wcu_*.xlsx"))[0]
    book = load_workbook(path)
    sheet = book["WCU Updates"]
    last = sheet.max_row
    for offset in range(1, 21):
        sheet.cell(row=last + offset, column=1).number_format = "0.00"
    sheet.cell(row=2, column=sheet.max_column + 2, value="stray")
    book.save(path)
    return path.name


def damage_sql(sources: Path) -> dict[str, list[int]]:
    """Unreadable watermarks in the contact log, a formula as a CRS crime number."""
    with sqlite3.connect(sources / "victim_contact.db") as conn:
        ids = [row[0] for row in conn.execute("SELECT contact_id FROM contacts ORDER BY contact_id LIMIT 5")]
        conn.execute(f"UPDATE contacts SET modified_at = NULL WHERE contact_id IN ({ids[0]}, {ids[1]}, {ids[2]})")
        conn.execute(f"UPDATE contacts SET modified_at = '02/07/2026 10:00' WHERE contact_id = {ids[3]}")
        conn.execute(f"UPDATE contacts SET modified_at = '2026-07-02 10:00:00' WHERE contact_id = {ids[4]}")
    with sqlite3.connect(sources / "crime_recording.db") as conn:
        conn.execute("UPDATE crimes SET crime_no = ? WHERE crime_id = 5", (FORMULA,))
    return {"unreadable": ids}


def personal_details(force) -> dict[str, set[str]]:
    victims = force.native["crime_recording"]["victims"]
    names = {f"{a} {b}" for a, b in zip(victims["forename"], victims["surname"], strict=True)}
    names |= {f"{b}, {a}" for a, b in zip(victims["forename"], victims["surname"], strict=True)}
    names |= set(force.native["victim_support"]["referrals"]["Client Name"].dropna())
    names |= set(force.native["witness_care"]["WCU Updates"]["Witness Name"].dropna()) - {""}
    names.add(STRANGER)
    singles = set(victims["surname"]) | set(victims["forename"])
    dobs = {d for d in victims["date_of_birth"].dropna().astype(str) if d < "2020"}
    details = {
        "names": names, "singles": singles, "dobs": dobs,
        "phones": {re.sub(r"\D", "", p) for p in victims["phone"].dropna()},
        "postcodes": set(victims["postcode"].dropna()),
        "addresses": set(victims["address_line"].dropna()),
    }
    return {kind: {value for value in values if len(value) >= 4} for kind, values in details.items()}


def warehouse_texts(engine) -> Iterator[tuple[str, str, str]]:
    """(table, column, text) for every text value of every table; raw rows also value by value."""
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            frame = read_frame(conn, f'SELECT * FROM "{table}"')
            for column in frame.columns:
                for value in frame[column].dropna():
                    if not isinstance(value, str):
                        continue
                    yield table, column, value
                    if column == "raw_row":
                        document = json.loads(value)
                        for inner in [*document["row"].values(), *document.get("derived", {}).values()]:
                            yield table, f"raw_row.{column}", str(inner)


def leaks(engine, details: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    found = []
    for table, column, text in warehouse_texts(engine):
        hits = set()
        hits |= details["names"] & set(re.findall(r"(?=\b([A-Z][\w'\-]+,? [A-Z][\w'\-]+)\b)", text))
        hits |= {text} & (details["singles"] | details["addresses"] | details["postcodes"] | details["dobs"])
        hits |= details["phones"] & {re.sub(r"\D", "", m) for m in re.findall(r"\+?\d[\d ]{9,14}\d", text)}
        hits |= details["postcodes"] & set(re.findall(r"\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b", text))
        hits |= details["dobs"] & set(re.findall(r"\b\d{4}-\d{2}-\d{2}\b", text))
        found += [(table, column, hit) for hit in hits]
    return found


@pytest.fixture
def damaged(force_root, generated):
    force = generated[1]
    victims = force.native["crime_recording"]["victims"].assign(
        name=lambda v: v["forename"] + " " + v["surname"])
    vs = damage_victim_support(force_root / "landing" / "victim_support", victims)
    wcu = damage_witness_care(force_root / "landing" / "witness_care")
    sql = damage_sql(force_root / "sources")
    return {"vs": vs, "wcu": wcu, "sql": sql, "force": force}


def test_damaged_sources_reconcile_every_batch_and_leak_no_personal_data(damaged, configs, engine):
    nights = [(EPOCH, UNTIL), (UNTIL, UNTIL + timedelta(days=1))]
    results = [result for start, end in nights for result in run_all(configs, engine, start, end)]

    for result in results:
        assert result.status == "succeeded", (result.source, result.failures)
        assert result.rows_extracted == result.rows_loaded + result.rows_quarantined
    assert_every_batch_reconciles(engine)
    assert (batches(engine)["status"] == "succeeded").all()

    first = {result.source: result for result in results[:4]}
    vs = first["victim_support"]
    assert damaged["vs"]["upper case"] in vs.files
    assert any("referrals_20260703.xls" in note for note in vs.notes)
    assert vs.reasons["ragged_row"] >= 2 + 1 + 5  # bare CR (2 pieces) + extra field, short row, commas
    assert vs.reasons["identifier_format(Police Crime No)"] == 1
    assert first["crime_recording"].reasons["identifier_format(crime_no)"] == 1
    assert first["victim_contact"].reasons["watermark_unreadable(modified_at)"] == 5
    assert not any(r.notes for r in results if r.source in ("crime_recording", "victim_contact")
                   and any("were extracted" in n for n in r.notes))

    with engine.connect() as conn:
        held = read_frame(conn, "SELECT source_system, reasons, raw_row, replayed_at FROM quarantine")
        events = read_frame(conn, "SELECT crime_ref, event_id FROM case_events")
        crimes = read_frame(conn, "SELECT crime_ref FROM crimes")
    # The rows whose watermark no window holds were read by every night but quarantined once.
    unreadable = held[held["reasons"].str.contains("watermark_unreadable")]
    assert len(unreadable) == 5 and unreadable["replayed_at"].isna().all()
    # A ragged row keeps where it was, not what it held.
    ragged = [json.loads(text) for text in held.loc[held["reasons"] == "ragged_row", "raw_row"]]
    assert ragged and all(set(doc["row"]) >= {"source_file", "source_line", "_row_problem"} for doc in ragged)
    assert all(value == "" for doc in ragged for key, value in doc["row"].items()
               if key not in {"source_file", "source_line", "_row_problem"})
    # No formula reached a loaded table.
    for frame in (events, crimes):
        assert not frame["crime_ref"].astype(str).str.match(r"[=+\-@]").any()
    assert not held["raw_row"].str.contains("HYPERLINK").any()
    # No witness-care junk from blank rows.
    wcu_blank = held[(held["source_system"] == "WCU") & held["raw_row"].str.contains('"WCU ID": ""')]
    assert wcu_blank.empty

    assert leaks(engine, personal_details(damaged["force"])) == []


@pytest.mark.parametrize("damage", ["truncated workbook", "empty workbook", "impossible date"])
def test_an_unreadable_drop_fails_its_batch_with_one_line_naming_the_file(configs, engine, damage):
    by_name = {config.name: config for config in configs}
    if damage == "impossible date":
        config = by_name["victim_support"]
        folder = Path(config.connection)
        (folder / "referrals_20260231.csv").write_text(
            sorted(folder.glob("referrals_*.csv"))[0].read_text())
        name = "referrals_20260231.csv"
    else:
        config = by_name["witness_care"]
        path = sorted(Path(config.connection).glob("wcu_*.xlsx"))[0]
        path.write_bytes(path.read_bytes()[:200] if damage == "truncated workbook" else b"")
        name = path.name
    result = run_source_batch(config, EPOCH, UNTIL, engine, configs=configs)
    assert result.status == "failed"
    assert any(failure.startswith(name) and "\n" not in failure for failure in result.failures)
    assert result.rows_loaded == 0


def test_a_column_dropped_from_the_contact_log_fails_its_batch_with_one_line(configs, engine):
    config = {c.name: c for c in configs}["victim_contact"]
    with sqlite3.connect(config.connection.removeprefix("sqlite:///")) as conn:
        conn.execute("ALTER TABLE contacts DROP COLUMN channel")
    result = run_source_batch(config, EPOCH, UNTIL, engine, configs=configs)
    assert result.status == "failed"
    assert result.failures == ["contacts: expect_table_columns_to_match_set: missing column(s): channel"]


def test_a_blob_in_a_text_column_quarantines_its_row_and_the_rest_load(configs, engine):
    config = {c.name: c for c in configs}["victim_contact"]
    with sqlite3.connect(config.connection.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE contacts SET crime_number = X'00FF4A616E65' WHERE contact_id = 1")
        total = conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
    run_source_batch({c.name: c for c in configs}["crime_recording"], EPOCH, UNTIL, engine, configs=configs)
    result = run_source_batch(config, EPOCH, UNTIL, engine, configs=configs)
    assert result.status == "succeeded"
    assert result.rows_extracted == total == result.rows_loaded + result.rows_quarantined
    assert result.reasons["binary_value(crime_number)"] == 1
    assert result.source_rows == {"contacts": total}


def test_a_name_shifted_into_an_identifier_column_reaches_neither_data_docs_nor_the_warehouse(
    configs, engine, tmp_path
):
    """A deleted field and an extra one keep the field count: only the value shapes can tell."""
    config = {c.name: c for c in configs}["victim_support"]
    path = sorted(Path(config.connection).glob("referrals_*.csv"))[0]
    rows = _rows(path)
    victim = rows[1][2]
    shifted = f"VS99000003,{victim},{STRANGER},Needs assessment,Yes,{rows[1][6]},{rows[1][7]},x\n"
    path.write_text(_csv(rows) + shifted, encoding="utf-8")
    docs = tmp_path / "docs"
    run_source_batch(configs[0], EPOCH, UNTIL, engine, configs=configs)  # the crimes
    result = run_source_batch(config, EPOCH, UNTIL, engine, configs=configs, data_docs=docs)

    assert result.status == "succeeded"
    assert result.reasons["identifier_format(Police Victim No)"] == 1
    pages = [page.read_text(errors="replace") for page in docs.rglob("*") if page.is_file()]
    assert pages and not any(STRANGER in page for page in pages)
    assert not any(STRANGER in text for _, _, text in warehouse_texts(engine))
