"""The reviewer workbook in openpyxl: instructions, review, findings and hidden sheets, their
validation, protection and print setup, and deterministic bytes (`worksheets.py` describes the
layout; `layout.py` holds its data)."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from typing import Any

import pandas as pd

from vcpipeline.sampling.choices import AGREED_METHOD_HEADER, OPTED_OUT_HEADER
from vcpipeline.sampling.layout import (
    COMMENT_HEADER,
    FINDINGS_SHEET,
    FORMAT,
    INSTRUCTIONS_SHEET,
    META_SHEET,
    OUTCOMES_HEADER,
    OWED_HEADER,
    RANKS_AT_STANDARD,
    RANKS_BELOW_STANDARD,
    REVIEW_SHEET,
    REVIEW_STANDARD,
    REVIEWER_HEADER,
    REVIEWER_NAME_LIMIT,
    REVIEWER_RANKS,
    ReviewWindow,
    answer_columns,
    day_label,
    findings_header,
    header_checksum,
    reviewer_columns,
    worksheet_header,
)
from vcpipeline.sampling.questions import QUESTIONS
from vcpipeline.sampling.selection import quarter_bounds
from vcpipeline.sampling.survey import ANSWERS
from vcpipeline.textsafety import looks_like_formula

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can say: no clock in the bytes
_WIDE = {  # characters; narrow enough that the review sheet printed to one page's width stays legible
    "Crime reference": 16, "Department": 12, "Reported on": 11, "Offence": 14, "Enhanced service": 10,
    "Officer in charge (or team)": 14, "Obligations owned by": 16, OWED_HEADER: 44,
    AGREED_METHOD_HEADER: 20, OPTED_OUT_HEADER: 20, REVIEWER_HEADER[0]: 18, REVIEWER_HEADER[1]: 20,
    REVIEWER_HEADER[2]: 12, COMMENT_HEADER: 30, OUTCOMES_HEADER: 70}
_ANSWER_WIDTH = 11


def _print_setup(sheet: Any, *, title_row: bool = True) -> None:
    """Landscape A4, fitted to the page width (as many pages long as it takes), header repeated."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    if title_row:
        sheet.print_title_rows = "1:1"


def _fit_row_heights(sheet: Any) -> None:
    """Set each row's height to its tallest wrapped cell (about 15 points a line).

    Excel grows rows to wrapped text when it opens a file, LibreOffice and printing do not: without
    heights the wrapped lines overlap the next row.
    """
    from openpyxl.utils import get_column_letter

    widths = {column: sheet.column_dimensions[get_column_letter(column)].width or 13
              for column in range(1, sheet.max_column + 1)}
    for row in sheet.iter_rows(min_row=1):
        lines = 1
        for cell in row:
            if isinstance(cell.value, str) and cell.value:
                per_line = max(int(widths[cell.column] * 1.1), 1)  # characters a line holds, roughly
                lines = max(lines, sum(-(-max(len(part), 1) // per_line) for part in cell.value.split("\n")))
        if lines > 1:
            sheet.row_dimensions[row[0].row].height = 15 * lines


def _protect(sheet: Any) -> None:
    sheet.protection.sheet = True
    sheet.protection.formatColumns = False  # reviewers may widen columns and rows
    sheet.protection.formatRows = False


def instruction_rows(sample_id: str, department: str, window: ReviewWindow) -> list[tuple[str, str, str]]:
    """The instructions sheet's rows: (heading, text, third column), top to bottom.

    The ranks come last, one a row (column A rank, column B whether it meets the standard):
    the review sheet's rank list points at them (`RANK_ROWS`).
    """
    from vcpipeline.alerts.wording import DEPARTMENT_NAMES

    deadline, first, last = window.deadline, window.first_day, window.last_day
    rows: list[tuple[str, str, str]] = [
        (f"Victims Code dip sample {sample_id}: {DEPARTMENT_NAMES.get(department, department)} ({department})", "", ""),
        ("Return by", f"{day_label(deadline)}. Send the completed workbook back by replying to the "
                      "e-mail it came with; keep its file name.", ""),
        ("Who may review", f"The board's review standard: {REVIEW_STANDARD}. A review by anyone "
                           "else is still loaded, but the published results count it as below the "
                           "standard.", ""),
        ("What to do", "1. On the Review sheet, read each crime in the crime recording system. "
                       "2. Answer every question in its column: Yes, No, N/A or No data. "
                       "3. Fill in Reviewed by (your name), Your rank (pick from the list) and "
                       f"Reviewed on (a date from {day_label(first)} to {day_label(last)}) on every "
                       "row you answer: rows without them are not loaded. "
                       "4. Only when a row is answered, open the Automated findings sheet (right-click "
                       "a sheet tab, Unhide) to compare: do not change an answer to match it; say in "
                       "the Comment why you differ.", ""),
        ("Answers", "Yes: the service was given as the Code requires. No: it was not, or only late. "
                    "N/A: the Code did not require it for this crime (e.g. no suspect charged, so no "
                    "VPS was owed). No data: the records do not let you tell.", ""),
        ("Crimes with several victims", "Answer for the crime as a whole: Yes only when every victim "
                                        "owed the service got it in time; No when any did not; N/A "
                                        "only when it was owed to none of them. When victims differ, "
                                        "say which in the Comment by their id (V1, V2), never by name.", ""),
        ("Comments", "Kept in this file, never loaded into the warehouse: do not write victims' "
                     "names or contact details.", ""),
        ("Do not", "Add, remove, rename or reorder columns or sheets, or edit the grey cells: the "
                   "workbook is checked against what was sent and an altered one is refused whole.", ""),
        ("", "", ""),
        ("Question", "What it asks", "Short label"),
        *((question.id, question.text, question.label) for question in QUESTIONS),
        ("", "", ""),
        ("Rank", "Meets the review standard", ""),
        *((rank, "Yes", "") for rank in RANKS_AT_STANDARD),
        *((rank, "No", "") for rank in RANKS_BELOW_STANDARD),
    ]
    return rows


def rank_rows(rows_before_ranks: int) -> tuple[int, int]:
    """The first and last sheet row of the rank list on the instructions sheet."""
    return rows_before_ranks + 1, rows_before_ranks + len(REVIEWER_RANKS)


def build_workbook(rows: pd.DataFrame, *, sample_id: str, department: str, population_hash: str,
                   window: ReviewWindow, findings: pd.DataFrame | None = None) -> Any:
    """An openpyxl Workbook for one department's rows (layout in the module docstring)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    header = worksheet_header()
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    reference_fill = PatternFill("solid", fgColor="EDEDED")
    workbook = Workbook()

    guide = workbook.active
    guide.title = INSTRUCTIONS_SHEET
    lines = instruction_rows(sample_id, department, window)
    for line in lines:
        guide.append([value or None for value in line])
    write_text_as_text(guide)
    guide.column_dimensions["A"].width = 30
    guide.column_dimensions["B"].width = 90
    guide.column_dimensions["C"].width = 36
    for row in guide.iter_rows():
        for cell in row:
            cell.alignment = wrap
        row[0].font = bold
    guide["A1"].font = Font(bold=True, size=14)
    guide["A1"].alignment = Alignment(wrap_text=False, vertical="top")  # the title runs across
    _fit_row_heights(guide)
    guide.row_dimensions[1].height = 22
    first_rank, last_rank = rank_rows(len(lines) - len(REVIEWER_RANKS))
    _print_setup(guide, title_row=False)
    guide.page_setup.fitToHeight = 1  # the instructions on one page
    _protect(guide)

    sheet = workbook.create_sheet(REVIEW_SHEET)
    sheet.append(list(header))
    for values in rows[list(header)].itertuples(index=False, name=None):
        sheet.append(list(values))
    write_text_as_text(sheet)
    last_row = max(sheet.max_row, 2)
    unlocked = Protection(locked=False)
    reviewer = reviewer_columns()
    editable = set(answer_columns().values()) | set(reviewer.values()) | {len(header)}
    for column in range(1, len(header) + 1):
        letter = get_column_letter(column)
        cell = sheet.cell(row=1, column=column)
        cell.font, cell.alignment = bold, wrap
        sheet.column_dimensions[letter].width = _WIDE.get(header[column - 1], _ANSWER_WIDTH)
        for row in range(2, last_row + 1):
            body = sheet.cell(row=row, column=column)
            body.alignment = wrap
            if column in editable:
                body.protection = unlocked
                if column == reviewer["date"]:
                    body.number_format = "yyyy-mm-dd"
            else:
                body.fill = reference_fill

    def cells(column: int) -> str:
        letter = get_column_letter(column)
        return f"{letter}2:{letter}{last_row}"

    answers = DataValidation(
        type="list", formula1='"' + ",".join(ANSWERS) + '"', allow_blank=True,
        showErrorMessage=True, errorTitle="Answer", error="Answer Yes, No, N/A or No data.",
        showInputMessage=True, promptTitle="Answer", prompt="Yes, No, N/A or No data",
    )
    for column in sorted(answer_columns().values()):
        answers.add(cells(column))
    name = DataValidation(
        type="textLength", operator="between", formula1="1", formula2=str(REVIEWER_NAME_LIMIT),
        allow_blank=True, showErrorMessage=True, errorTitle="Reviewed by",
        error=f"Your name, at most {REVIEWER_NAME_LIMIT} characters.",
        showInputMessage=True, promptTitle="Reviewed by", prompt="Your name (staff data, kept as the audit trail)",
    )
    name.add(cells(reviewer["name"]))
    rank = DataValidation(
        type="list", formula1=f"{INSTRUCTIONS_SHEET}!$A${first_rank}:$A${last_rank}", allow_blank=True,
        showErrorMessage=True, errorTitle="Your rank", error="Pick your rank from the list.",
        showInputMessage=True, promptTitle="Your rank", prompt=f"Reviews are to be by {REVIEW_STANDARD}",
    )
    rank.add(cells(reviewer["rank"]))
    first, last = window.first_day, window.last_day
    reviewed_on = DataValidation(
        type="date", operator="between", formula1=f"DATE({first.year},{first.month},{first.day})",
        formula2=f"DATE({last.year},{last.month},{last.day})", allow_blank=True, showErrorMessage=True,
        errorTitle="Reviewed on", error=f"A date from {first.isoformat()} to {last.isoformat()}.",
        showInputMessage=True, promptTitle="Reviewed on", prompt="The date you reviewed the crime (YYYY-MM-DD)",
    )
    reviewed_on.add(cells(reviewer["date"]))
    for validation in (answers, name, rank, reviewed_on):
        sheet.add_data_validation(validation)
    _fit_row_heights(sheet)
    sheet.freeze_panes = "B2"
    _print_setup(sheet)
    _protect(sheet)

    shown = workbook.create_sheet(FINDINGS_SHEET)
    shown.sheet_state = "hidden"  # revealed by the reviewer after answering (Instructions)
    shown_header = findings_header()
    shown.append(list(shown_header))
    if findings is not None:
        for values in findings[list(shown_header)].itertuples(index=False, name=None):
            shown.append(list(values))
    write_text_as_text(shown)
    for column in range(1, len(shown_header) + 1):
        shown.cell(row=1, column=column).font = bold
        shown.column_dimensions[get_column_letter(column)].width = _WIDE.get(shown_header[column - 1], 22)
        for row in range(1, shown.max_row + 1):
            shown.cell(row=row, column=column).alignment = wrap
    _fit_row_heights(shown)
    shown.freeze_panes = "B2"
    _print_setup(shown)
    _protect(shown)

    meta = workbook.create_sheet(META_SHEET)
    meta.sheet_state = "veryHidden"
    for key, value in (("format", FORMAT), ("sample_id", sample_id), ("department", department),
                       ("population_hash", population_hash), ("rows", len(rows)),
                       ("deadline", window.deadline.isoformat()), ("review_from", window.first_day.isoformat()),
                       ("review_to", window.last_day.isoformat()),
                       ("header_sha256", header_checksum(sample_id, department, population_hash, header,
                                                         window.strings()))):
        meta.append([key, value])
    write_text_as_text(meta)
    meta.protection.sheet = True
    workbook.active = 0
    return workbook


def write_text_as_text(sheet: Any) -> None:
    """Make every text cell of `sheet` a text cell, whatever it starts with.

    openpyxl stores a value starting with `=` as a formula, so a crime reference such as
    `=HYPERLINK(...)` from a source would become a live link in the reviewer's Excel. Typed as
    text (and marked with Excel's quote prefix where it could read as a formula, so editing the
    cell keeps it text) it shows, and reads back, as the literal characters.
    """
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
                if looks_like_formula(cell.value):
                    cell.quotePrefix = True


def workbook_bytes(workbook: Any, timestamp: datetime) -> bytes:
    """The XLSX bytes with the document dates set to `timestamp` and fixed zip entry times."""
    from openpyxl.writer.excel import ExcelWriter

    naive = timestamp.replace(tzinfo=None)  # the core properties are UTC without an offset
    workbook.properties.created = naive
    workbook.properties.modified = naive
    workbook.properties.creator = "vcpipeline"
    raw = io.BytesIO()
    # ExcelWriter directly: openpyxl's save_workbook would stamp `modified` with the clock.
    ExcelWriter(workbook, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()
    fixed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw.getvalue())) as source, \
            zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return fixed.getvalue()


def worksheet_timestamp(quarter: str) -> datetime:
    """The document date of a quarter's worksheets: the first instant after the quarter."""
    return quarter_bounds(quarter)[1].to_pydatetime()

