"""The worksheet as a reviewer meets it: instructions, who may review and by when, identity cells
with validation, findings kept apart until answered, printable; and the reviewer's identity kept
as the audit trail and counted against the rank standard in the published results."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from vcpipeline.sampling.questions import FINDING_TEXT, QUESTIONS
from vcpipeline.sampling.results import (
    publish_survey_results,
    render_markdown,
)
from vcpipeline.sampling.reviewer_standard import read_reviewer_standard
from vcpipeline.sampling.reviews import (
    INVALID_REVIEWER,
    MISSING_REVIEWER,
    TAMPERED_HEADER,
    ingest_returns,
)
from vcpipeline.sampling.simulate import simulate_returns
from vcpipeline.sampling.store import draw_and_store_sample
from vcpipeline.sampling.worksheets import (
    FINDINGS_DESIGN,
    FINDINGS_SHEET,
    INSTRUCTIONS_SHEET,
    META_SHEET,
    RANKS_AT_STANDARD,
    REVIEW_SHEET,
    REVIEWER_RANKS,
    answer_columns,
    crime_context,
    review_window,
    reviewer_columns,
    worksheet_header,
    write_worksheets,
)
from vcpipeline.tasks.quarterly_sample import reviewers_email
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import sample_reviewers

DRAWN = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)  # Wednesday 1 April 2026, the quarter's first working day


@pytest.fixture
def sheets(sqlite_force_engine, tmp_path) -> list[Path]:
    draw_and_store_sample(sqlite_force_engine, "2026Q1", size=30, minimum=5, drawn_at=DRAWN)
    return write_worksheets(sqlite_force_engine, "2026Q1", tmp_path / "sample")


def _visible_text(sheet) -> str:
    return "\n".join(str(cell.value) for row in sheet.iter_rows() for cell in row if cell.value is not None)


def test_a_reader_finds_instructions_first_then_the_review_sheet_and_the_findings_hidden(sheets):
    workbook = load_workbook(sheets[0])
    assert workbook.sheetnames == [INSTRUCTIONS_SHEET, REVIEW_SHEET, FINDINGS_SHEET, META_SHEET]
    assert [workbook[name].sheet_state for name in workbook.sheetnames] == [
        "visible", "visible", "hidden", "veryHidden"]
    assert workbook.active.title == INSTRUCTIONS_SHEET

    text = _visible_text(workbook[INSTRUCTIONS_SHEET])
    # Who may review: the board paper's standard.
    assert "an Inspector, or police staff of equivalent grade, or above" in text
    # The deadline: 20 working days after the draw (Good Friday and Easter Monday are not).
    assert "Friday 1 May 2026" in text
    assert "Reviewed on (a date from Wednesday 1 April 2026 to Tuesday 30 June 2026)" in text
    # What each question means, from the question data.
    for question in QUESTIONS:
        assert question.text in text and question.label in text
    assert "Crimes with several victims" in text and "every victim owed the service" in text
    assert "Automated findings sheet (right-click a sheet tab, Unhide)" in text
    assert "/" + "work" not in text and "server" not in text.lower()


def test_the_review_sheet_has_validated_identity_cells_and_no_automated_findings(sheets):
    workbook = load_workbook(sheets[0])
    sheet = workbook[REVIEW_SHEET]
    last = sheet.max_row
    header = [cell.value for cell in sheet[1]]
    assert header == list(worksheet_header())
    assert not any("automated finding" in name for name in header)
    shown = set(FINDING_TEXT.values()) | {"MET", "BREACHED", "MET_LATE", "NOT_COMPLIANT", "REVIEWER"}
    body = {cell.value for row in sheet.iter_rows(min_row=2) for cell in row}
    assert body & shown == set()
    assert not any(isinstance(value, str) and " met on time" in value for value in body)

    columns = reviewer_columns()
    letters = {key: sheet.cell(row=1, column=column).column_letter for key, column in columns.items()}
    by_range = {str(ref): validation for validation in sheet.data_validations.dataValidation
                for ref in validation.sqref.ranges}
    rank = by_range[f"{letters['rank']}2:{letters['rank']}{last}"]
    assert rank.type == "list" and rank.showErrorMessage
    guide = workbook[INSTRUCTIONS_SHEET]
    target = rank.formula1.split("!")[1].replace("$", "")
    assert rank.formula1.startswith(f"{INSTRUCTIONS_SHEET}!")
    assert [cell.value for (cell,) in guide[target]] == list(REVIEWER_RANKS)
    meets = {cell.value: guide.cell(row=cell.row, column=2).value for (cell,) in guide[target]}
    assert {name for name, yes in meets.items() if yes == "Yes"} == set(RANKS_AT_STANDARD)
    reviewed_on = by_range[f"{letters['date']}2:{letters['date']}{last}"]
    assert (reviewed_on.type, reviewed_on.operator) == ("date", "between")
    assert (reviewed_on.formula1, reviewed_on.formula2) == ("DATE(2026,4,1)", "DATE(2026,6,30)")
    assert sheet.cell(row=2, column=columns["date"]).number_format == "yyyy-mm-dd"
    name = by_range[f"{letters['name']}2:{letters['name']}{last}"]
    assert name.type == "textLength" and (name.formula1, name.formula2) == ("1", "100")

    # Protection: every sheet protected; only answers, identity and comment open on the review sheet.
    assert all(workbook[title].protection.sheet for title in workbook.sheetnames)
    editable = {*answer_columns().values(), *columns.values(), len(header)}
    for column in range(1, len(header) + 1):
        assert sheet.cell(row=2, column=column).protection.locked == (column not in editable), header[column - 1]


def test_every_sheet_a_reviewer_prints_is_landscape_fitted_to_the_width_with_the_header_repeated(sheets):
    workbook = load_workbook(sheets[0])
    for title in (INSTRUCTIONS_SHEET, REVIEW_SHEET, FINDINGS_SHEET):
        sheet = workbook[title]
        setup = sheet.page_setup
        assert setup.orientation == "landscape", title
        pages_long = 1 if title == INSTRUCTIONS_SHEET else 0  # 0: as many as it takes
        assert (int(setup.fitToWidth), int(setup.fitToHeight)) == (1, pages_long), title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, title
    assert workbook[REVIEW_SHEET].print_title_rows == "$1:$1"
    assert workbook[FINDINGS_SHEET].print_title_rows == "$1:$1"
    # Wrapped text gets the row height it needs (LibreOffice and print do not grow rows themselves).
    sheet = workbook[REVIEW_SHEET]
    owed = worksheet_header().index("What was owed (automated)") + 1
    for row in range(2, sheet.max_row + 1):
        lines = sheet.cell(row=row, column=owed).value.count("\n") + 1
        assert (sheet.row_dimensions[row].height or 15) >= 15 * lines


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_prints_the_instructions_and_the_review_sheet_on_a4_landscape(sheets, tmp_path):
    profile = (tmp_path / "lo-profile").as_uri()
    subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path / "pdf"), str(sheets[0])],
                   check=True, capture_output=True, timeout=180)
    pdf = (tmp_path / "pdf" / sheets[0].with_suffix(".pdf").name).read_bytes()
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", pdf)
    assert boxes and all(float(width) > float(height) for width, height in boxes)  # landscape
    assert all(abs(float(width) - 841.9) < 1 for width, _ in boxes)  # A4
    assert len(boxes) >= 2  # the instructions page, then the review sheet; hidden sheets are not printed


def test_the_review_sheet_names_offence_enhanced_service_officer_and_owners():
    crimes = pd.DataFrame({"crime_ref": ["C1", "C2", "C3"], "offence_category": ["criminal_damage", "burglary", None],
                           "officer_collar": ["4512", None, None], "team": ["IIT-3", "PPU-1", None]})
    obligations = pd.DataFrame({"crime_ref": ["C1", "C1", "C2"], "enhanced": [False, True, False],
                                "owner": ["IIT", "WITNESS_CARE", "PPU"], "department": ["IIT", "IIT", "PPU"]})
    context = crime_context(crimes, obligations)
    assert context.loc["C1"].tolist() == ["Criminal damage", "Yes", "Officer 4512", "Initial Investigations, Witness Care"]
    assert context.loc["C2"].tolist() == ["Burglary", "No", "Team PPU-1", "Public Protection"]
    assert context.loc["C3"].tolist() == ["", "No data", "Not recorded", ""]


def test_the_deadline_is_the_configured_working_days_after_the_draw_or_the_one_given():
    assert review_window("2026Q1", DRAWN).deadline == date(2026, 5, 1)
    assert review_window("2026Q1", DRAWN, working_days=5).deadline == date(2026, 4, 10)  # Easter
    late = review_window("2026Q1", DRAWN, deadline=date(2026, 7, 15))
    assert (late.first_day, late.last_day) == (date(2026, 4, 1), date(2026, 7, 15))


def test_the_reviewers_email_gives_the_deadline_and_names_the_attachments_not_a_server_path(sheets, tmp_path):
    sample = {"sample_id": "2026Q1", "quarter": "2026Q1", "sampled": 30, "population": 74,
              "population_hash": "f" * 64, "strata": {"IIT": 10, "PPU": 8, "VVA": 12}}
    returns = tmp_path / "srv" / "returns"
    message = reviewers_email(sample, sheets, recipients="reviewers@force.example", deadline=date(2026, 5, 1),
                              returns_folder=returns)
    text = message.get_body(("plain",)).get_content()
    assert "by Friday 1 May 2026" in message["Subject"] and "by Friday 1 May 2026" in text
    for path in sheets:
        assert path.name in text
    assert "2026Q1-IIT.xlsx (10 crime(s))" in text
    assert str(returns) not in message.as_string() and str(tmp_path) not in text
    assert "Reply to this e-mail" in text and "Instructions sheet" in text
    assert sorted(part.get_filename() for part in message.iter_attachments()) == [p.name for p in sheets]


def _sign(path: Path, rows: dict[int, tuple]) -> None:
    """Fill in the reviewer's name, rank and date on some rows of a returned worksheet."""
    workbook = load_workbook(path)
    sheet = workbook[REVIEW_SHEET]
    for row, values in rows.items():
        for column, value in zip(reviewer_columns().values(), values, strict=True):
            sheet.cell(row=row, column=column).value = value
    workbook.save(path)


def test_a_returned_worksheet_keeps_the_reviewers_identity_as_the_audit_trail(sqlite_force_engine, sheets, tmp_path):
    returned = simulate_returns(sheets, tmp_path / "returns", seed="test")
    _sign(returned[0], {2: ("Jo Bloggs", "Chief Inspector", datetime(2026, 4, 14))})
    report = ingest_returns(sqlite_force_engine, "2026Q1", returned, datetime(2026, 4, 20, tzinfo=UTC))
    assert report.errors.empty
    with sqlite_force_engine.connect() as conn:
        stored = read_frame(conn, sa.select(sample_reviewers).order_by(sample_reviewers.c.crime_ref))
    first = load_workbook(returned[0])[REVIEW_SHEET].cell(row=2, column=1).value
    row = stored.set_index("crime_ref").loc[first]
    assert (row["reviewer_name"], row["reviewer_rank"], bool(row["at_required_rank"])) == (
        "Jo Bloggs", "Chief Inspector", True)
    assert str(row["reviewed_on"])[:10] == "2026-04-14"
    assert row["worksheet_format"] == "vcp-dip-sample-worksheet/3" and row["source_file"] == returned[0].name
    assert len(stored) == report.rows_loaded == 30


def test_answers_without_a_reviewer_or_with_a_bad_rank_or_date_are_not_loaded(sqlite_force_engine, sheets, tmp_path):
    returned = simulate_returns(sheets, tmp_path / "returns", seed="test")
    _sign(returned[0], {2: (None, None, None), 3: ("Al Smith", "Captain", datetime(2026, 4, 2)),
                        4: ("Al Smith", "Inspector", datetime(2026, 3, 30)), 5: ("Al Smith", "inspector", "soon")})
    report = ingest_returns(sqlite_force_engine, "2026Q1", returned)
    kinds = report.errors.set_index("row")["kind"].to_dict()
    assert kinds == {2: MISSING_REVIEWER, 3: INVALID_REVIEWER, 4: INVALID_REVIEWER, 5: INVALID_REVIEWER}
    problems = report.errors.set_index("row")["problem"]
    assert "rank 'Captain' is not on the list" in problems[3]
    assert "reviewed on '2026-03-30' is not a date from 2026-04-01 to 2026-06-30" in problems[4]
    assert report.rows_loaded == 30 - 4


def test_a_moved_review_window_in_the_hidden_sheet_is_refused_as_tampered(sqlite_force_engine, sheets, tmp_path):
    returned = simulate_returns(sheets, tmp_path / "returns", seed="test")
    workbook = load_workbook(returned[0])
    meta = workbook[META_SHEET]
    for row in meta.iter_rows():
        if row[0].value == "review_from":
            row[1].value = "2020-01-01"
    workbook.save(returned[0])
    report = ingest_returns(sqlite_force_engine, "2026Q1", returned)
    assert report.files_rejected == 1 and report.errors["kind"].tolist() == [TAMPERED_HEADER]


def test_a_review_below_the_rank_standard_is_counted_in_the_published_results(sqlite_force_engine, sheets, tmp_path):
    returned = simulate_returns(sheets, tmp_path / "returns", seed="test")
    _sign(returned[0], {2: ("Sam Jones", "Sergeant", datetime(2026, 4, 3)),
                        3: ("Pat Lee", "Police staff, below Inspector equivalent", datetime(2026, 4, 3))})
    ingest_returns(sqlite_force_engine, "2026Q1", returned)
    results = publish_survey_results(sqlite_force_engine, "2026Q1")
    standard = read_reviewer_standard(sqlite_force_engine, "2026Q1")
    assert (standard.reviewed, standard.at_standard, standard.below_standard, standard.unrecorded) == (30, 28, 2, 0)
    assert standard.designs == (FINDINGS_DESIGN,)
    from vcpipeline.sampling.results import board_table

    text = render_markdown(board_table(results), "Results", standard)
    assert ("30 crime(s) reviewed; 28 by an Inspector, or police staff of equivalent grade, or above "
            "(the board's standard), 2 below that standard.") in text
    assert "Automated findings: " + FINDINGS_DESIGN in text
    assert "Sam Jones" not in text and "Pat Lee" not in text


def test_the_published_results_say_when_reviews_came_from_worksheets_showing_findings_beside_the_answers():
    from vcpipeline.sampling.reviewer_standard import reviewer_standard

    reviews = pd.DataFrame({"crime_ref": ["C1", "C2", "C3"]})
    reviewers = pd.DataFrame({"crime_ref": ["C1"], "at_required_rank": [True],
                              "worksheet_format": ["vcp-dip-sample-worksheet/3"]})
    standard = reviewer_standard(reviews, reviewers)
    assert (standard.at_standard, standard.below_standard, standard.unrecorded) == (1, 0, 2)
    assert len(standard.designs) == 2 and "beside each answer cell" in standard.designs[1]
    assert "2 with no reviewer recorded" in standard.lines()[0]


def test_vcp_sample_worksheets_takes_a_deadline_or_a_number_of_working_days(sqlite_force_engine, tmp_path, capsys):
    from vcpipeline.cli import main

    draw_and_store_sample(sqlite_force_engine, "2026Q1", size=30, minimum=5, drawn_at=DRAWN)
    url = sqlite_force_engine.url.render_as_string(hide_password=False)
    given = tmp_path / "given"
    assert main(["sample-worksheets", "--url", url, "--quarter", "2026Q1", "--out", str(given),
                 "--deadline", "2026-05-15"]) == 0
    assert "Friday 15 May 2026" in _visible_text(load_workbook(given / "2026Q1-IIT.xlsx")[INSTRUCTIONS_SHEET])
    counted = tmp_path / "counted"
    assert main(["sample-worksheets", "--url", url, "--quarter", "2026Q1", "--out", str(counted),
                 "--working-days", "5"]) == 0
    assert "Friday 10 April 2026" in _visible_text(load_workbook(counted / "2026Q1-IIT.xlsx")[INSTRUCTIONS_SHEET])
    assert main(["sample-worksheets", "--url", url, "--quarter", "2026Q1", "--out", str(counted),
                 "--working-days", "5", "--deadline", "2026-05-15"]) == 2
