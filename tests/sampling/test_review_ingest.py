"""Review ingest: each kind of bad row is reported and the good rows still load; re-submission
replaces; partial returns load what is there; tampered or foreign worksheets are refused whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from vcpipeline.cli import main
from vcpipeline.sampling.reviews import (
    DUPLICATE_ROW,
    ERROR_COLUMNS,
    INVALID_ANSWER,
    MISSING_CRIME_REF,
    NOT_IN_SAMPLE,
    TAMPERED_HEADER,
    UNKNOWN_CRIME,
    UNREADABLE,
    WRONG_SAMPLE,
    ingest_returns,
)
from vcpipeline.sampling.simulate import simulate_returns
from vcpipeline.sampling.store import draw_and_store_sample
from vcpipeline.sampling.worksheets import (
    answer_columns,
    reviewer_columns,
    worksheet_header,
    write_worksheets,
)
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import sample_reviews

Q3 = answer_columns()["Q3"]


def _prepare(engine, tmp_path: Path, quarter: str = "2026Q1", response_rate: float = 1.0) -> list[Path]:
    draw_and_store_sample(engine, quarter, size=30, minimum=5)
    sheets = write_worksheets(engine, quarter, tmp_path / "sample" / quarter)
    return simulate_returns(sheets, tmp_path / "returns" / quarter, seed="test", response_rate=response_rate)


def _reviews(engine):
    with engine.connect() as conn:
        return read_frame(conn, sa.select(sample_reviews).order_by(sample_reviews.c.crime_ref,
                                                                   sample_reviews.c.question))


def _edit(path: Path, edits: dict[tuple[int, int], str | None], append: list[list[str]] = ()) -> None:
    workbook = load_workbook(path)
    sheet = workbook["Review"]
    for (row, column), value in edits.items():
        sheet.cell(row=row, column=column).value = value  # cell(value=None) would leave it
    for values in append:
        sheet.append(values)
    workbook.save(path)


def _row(ref: str, answer: str = "Yes", reviewer: tuple = ("A Reviewer", "Inspector", "2026-04-02")) -> list:
    """A row as a reviewer might type it: reference columns left empty, every answer given, signed."""
    values: list = [""] * len(worksheet_header())
    values[0] = ref
    for column in answer_columns().values():
        values[column - 1] = answer
    for column, value in zip(reviewer_columns().values(), reviewer, strict=True):
        values[column - 1] = value
    return values


def test_every_kind_of_bad_row_is_reported_and_the_good_rows_still_load(sqlite_force_engine, tmp_path):
    iit, ppu, vva = _prepare(sqlite_force_engine, tmp_path)
    sheet = load_workbook(iit)["Review"]
    rows = sheet.max_row  # header + the IIT crimes
    third_ref = sheet.cell(row=3, column=1).value
    _edit(iit, {(2, Q3): "Maybe"}, append=[
        _row("NOPE-404"),                # unknown
        _row("IIT-2025Q4-001"),          # a real crime of another quarter
        _row(third_ref, "No"),           # duplicate of row 3
        _row(""),                        # answers without a crime
        [""] * 5,                        # an empty row: ignored
    ])
    report = ingest_returns(sqlite_force_engine, "2026Q1", [iit, ppu, vva])

    errors = report.errors
    assert list(errors.columns) == list(ERROR_COLUMNS)
    by_kind = {kind: list(zip(part["row"], part["crime_ref"], strict=True))
               for kind, part in errors.groupby("kind")}
    assert by_kind == {
        INVALID_ANSWER: [(2, sheet.cell(row=2, column=1).value)],
        UNKNOWN_CRIME: [(rows + 1, "NOPE-404")],
        NOT_IN_SAMPLE: [(rows + 2, "IIT-2025Q4-001")],
        DUPLICATE_ROW: [(3, third_ref), (rows + 3, third_ref)],
        MISSING_CRIME_REF: [(rows + 4, "")],
    }
    assert set(errors["file"]) == {iit.name}
    assert "Q3 'Maybe' (expected Yes, No, N/A or No data)" in errors.loc[errors["kind"] == INVALID_ANSWER, "problem"].item()
    assert f"rows 3, {rows + 3}" in errors.loc[errors["kind"] == DUPLICATE_ROW, "problem"].iloc[0]

    loaded = _reviews(sqlite_force_engine)
    assert report.rows_loaded == 30 - 2  # every sampled crime but the invalid and the duplicated one
    assert report.answers_loaded == len(loaded) == 28 * 9
    assert not {sheet.cell(row=2, column=1).value, third_ref} & set(loaded["crime_ref"])
    assert set(loaded["answer"]) <= {"Yes", "No", "N/A", "No data"}


def test_a_tampered_header_refuses_that_worksheet_and_loads_the_others(sqlite_force_engine, tmp_path):
    iit, ppu, vva = _prepare(sqlite_force_engine, tmp_path)
    _edit(ppu, {(1, Q3): "Q3 my own column"})
    report = ingest_returns(sqlite_force_engine, "2026Q1", [iit, ppu, vva])
    assert report.files_rejected == 1
    assert report.errors[["file", "row", "kind"]].values.tolist() == [[ppu.name, 1, TAMPERED_HEADER]]
    assert "reads 'Q3 my own column'" in report.errors["problem"].item()
    assert set(_reviews(sqlite_force_engine)["crime_ref"].str[:3]) == {"IIT", "VVA"}


def test_worksheets_of_another_sample_or_not_ours_are_refused(sqlite_force_engine, tmp_path):
    earlier = _prepare(sqlite_force_engine, tmp_path, "2025Q4")
    current = _prepare(sqlite_force_engine, tmp_path, "2026Q1")
    stranger = tmp_path / "stranger.xlsx"
    workbook = load_workbook(current[0])
    del workbook["_vcp"]
    workbook.save(stranger)
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a workbook")
    report = ingest_returns(sqlite_force_engine, "2026Q1", [earlier[0], stranger, junk])
    assert sorted(report.errors["kind"]) == sorted([WRONG_SAMPLE, TAMPERED_HEADER, UNREADABLE])
    assert report.answers_loaded == 0 and report.files_rejected == 3


def test_resubmitted_worksheet_replaces_its_earlier_answers(force_engine, tmp_path):
    iit, _, _ = _prepare(force_engine, tmp_path)
    first = ingest_returns(force_engine, "2026Q1", [iit])
    sheet = load_workbook(iit)["Review"]
    ref2, ref3 = sheet.cell(row=2, column=1).value, sheet.cell(row=3, column=1).value
    before = _reviews(force_engine).set_index(["crime_ref", "question"])["answer"]
    flipped = "No" if before[ref2, "Q3"] == "Yes" else "Yes"
    blank_row_3 = {(3, column): None for column in answer_columns().values()}
    _edit(iit, {(2, Q3): flipped, **blank_row_3})
    second = ingest_returns(force_engine, "2026Q1", [iit])
    after = _reviews(force_engine).set_index(["crime_ref", "question"])["answer"]
    assert after[ref2, "Q3"] == flipped
    assert (after.drop(index=(ref2, "Q3")) == before.drop(index=(ref2, "Q3"))).all()
    assert after[ref3].equals(before[ref3])  # blank cells are "not answered", never a retraction
    assert len(after) == first.answers_loaded and second.answers_loaded == first.answers_loaded - 9
    assert second.errors.empty


def test_partial_returns_load_what_was_answered(sqlite_force_engine, tmp_path):
    returns = _prepare(sqlite_force_engine, tmp_path, response_rate=0.5)
    report = ingest_returns(sqlite_force_engine, "2026Q1", returns)
    assert report.errors.empty
    assert 5 < report.rows_loaded < 25
    assert report.answers_loaded == 9 * report.rows_loaded == len(_reviews(sqlite_force_engine))


def test_vcp_review_ingest_writes_the_error_report(sqlite_force_engine, tmp_path, capsys):
    iit, *_ = _prepare(sqlite_force_engine, tmp_path)
    _edit(iit, {(2, Q3): "perhaps"})
    url = sqlite_force_engine.url.render_as_string(hide_password=False)
    errors = tmp_path / "errors.csv"
    assert main(["review-ingest", "--url", url, "--quarter", "2026Q1", str(iit.parent),
                 "--errors", str(errors)]) == 0
    assert errors.read_text().splitlines()[0] == "file,row,crime_ref,kind,problem"
    assert "invalid answer" in errors.read_text()
    assert "3 worksheet(s), 0 refused; 29 row(s)" in capsys.readouterr().err
    assert main(["review-ingest", "--url", url, "--quarter", "2024Q1", str(iit)]) == 2
    assert "no dip sample 2024Q1" in capsys.readouterr().err


@pytest.mark.parametrize("answer", ["yes", "NO", "n/a", "No Data"])
def test_answers_are_accepted_in_any_case(sqlite_force_engine, tmp_path, answer):
    iit, _, _ = _prepare(sqlite_force_engine, tmp_path)
    _edit(iit, {(2, Q3): answer})
    report = ingest_returns(sqlite_force_engine, "2026Q1", [iit])
    assert report.errors.empty
    assert answer.lower() in {value.lower() for value in _reviews(sqlite_force_engine)["answer"]}
