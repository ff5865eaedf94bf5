"""Reviewer worksheets: one XLSX per department listing its sampled crimes, to be answered and returned.

Sheets, in order (format 3):

- `Instructions`: who may review (the board's standard: an Inspector or police staff equivalent
  or above), the return deadline, what each answer and each of the nine questions means (the
  questions' own data), how to answer for a crime with several victims, and the ranks.
- `Review`: row 1 is the header (repeated on every printed page), then one row per sampled crime
  sorted by crime_ref: its reference, department, reported-on date, offence, whether a victim is
  owed the enhanced service, the officer in charge (collar number, else the team), who owns its
  obligations, what was owed (plain English, one line per obligation, the trigger named, no
  outcome), each victim's agreed contact and opt-outs; then one **answer** cell per question
  (Yes / No / N/A / No data), the reviewer's name, rank (from the list) and review date (a date
  within the review window), and a comment. Only those cells are unlocked.
- `Automated findings`: hidden, revealed by the reviewer after answering (the instructions say
  how): per crime the automated finding for each question in plain English and every obligation
  with its outcome. Kept off the review sheet so it cannot anchor the answers (and inflate the
  agreement the survey publishes, which names this design: `FINDINGS_DESIGN`).

Nothing about the victim appears: crime refs, pseudonymous victim ids, codes and dates (a contact
method names how, never where).

Tamper evidence: a very hidden sheet `_vcp` holds the format, sample id, department, population
hash, deadline, review window and a sha256 of those and the review header. Every sheet is
protected (no password: it stops slips, not fraud). The ingest refuses a worksheet whose header,
hidden sheet or checksum do not match (`reviews.py`).

Bytes are deterministic: the workbook's created/modified properties are the first instant after
the quarter and every zip entry carries a fixed timestamp, so writing the same sample twice gives
identical files (and a checksum of the folder means something).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.sampling.choices import (
    AGREED_METHOD_HEADER,
    OPTED_OUT_HEADER,
    agreed_contact_text,
    opted_out_text,
)
from vcpipeline.sampling.questions import (
    OBLIGATION_INPUT_COLUMNS,
    QUESTIONS,
    crime_findings,
    finding_text,
    obligations_text,
)
from vcpipeline.sampling.selection import quarter_bounds
from vcpipeline.sampling.store import (
    latest_evaluation,
    read_sample,
    read_victim_choices,
    transaction,
)
from vcpipeline.sampling.survey import ANSWERS
from vcpipeline.textsafety import looks_like_formula
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import case_events, crimes, sample_findings

FORMAT = "vcp-dip-sample-worksheet/3"  # 3: instructions, reviewer identity, findings on their own sheet
FINDINGS_DESIGN = ("automated findings on a separate hidden sheet, opened by the reviewer after "
                   "answering (worksheet format 3)")
EARLIER_FINDINGS_DESIGN = "automated findings beside each answer cell (worksheet formats 1 and 2)"
INSTRUCTIONS_SHEET, REVIEW_SHEET, FINDINGS_SHEET, META_SHEET = (
    "Instructions", "Review", "Automated findings", "_vcp")
REFERENCE_HEADER: tuple[str, ...] = (
    "Crime reference", "Department", "Reported on", "Offence", "Enhanced service",
    "Officer in charge (or team)", "Obligations owned by", "What was owed (automated)",
    AGREED_METHOD_HEADER, OPTED_OUT_HEADER)
OWED_HEADER = REFERENCE_HEADER[7]
REVIEWER_HEADER: tuple[str, ...] = ("Reviewed by (your name)", "Your rank", "Reviewed on")
COMMENT_HEADER = "Comment"
OUTCOMES_HEADER = "Obligations and outcomes (automated)"
# The board paper's standard: reviewed by an Inspector or police staff equivalent or above.
REVIEW_STANDARD = "an Inspector, or police staff of equivalent grade, or above"
RANKS_AT_STANDARD: tuple[str, ...] = (
    "Inspector", "Chief Inspector", "Superintendent", "Chief Superintendent",
    "Chief officer (ACC, DCC, Chief Constable)", "Police staff, Inspector equivalent or above")
RANKS_BELOW_STANDARD: tuple[str, ...] = ("Sergeant", "Constable", "Police staff, below Inspector equivalent")
REVIEWER_RANKS: tuple[str, ...] = (*RANKS_AT_STANDARD, *RANKS_BELOW_STANDARD)
REVIEWER_NAME_LIMIT = 100
REVIEW_WORKING_DAYS = 20  # the default deadline: this many working days after the draw
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can say: no clock in the bytes
_WIDE = {  # characters; narrow enough that the review sheet printed to one page's width stays legible
    "Crime reference": 16, "Department": 12, "Reported on": 11, "Offence": 14, "Enhanced service": 10,
    "Officer in charge (or team)": 14, "Obligations owned by": 16, OWED_HEADER: 44,
    AGREED_METHOD_HEADER: 20, OPTED_OUT_HEADER: 20, REVIEWER_HEADER[0]: 18, REVIEWER_HEADER[1]: 20,
    REVIEWER_HEADER[2]: 12, COMMENT_HEADER: 30, OUTCOMES_HEADER: 70}
_ANSWER_WIDTH = 11


def finding_header(question_id: str) -> str:
    question = next(q for q in QUESTIONS if q.id == question_id)
    return f"{question.id} {question.label}: automated finding"


def answer_header(question_id: str) -> str:
    question = next(q for q in QUESTIONS if q.id == question_id)
    return f"{question.id} {question.label}"


def worksheet_header() -> tuple[str, ...]:
    """The review sheet's header row, left to right (no automated findings on it)."""
    return (*REFERENCE_HEADER, *(answer_header(q.id) for q in QUESTIONS), *REVIEWER_HEADER, COMMENT_HEADER)


def findings_header() -> tuple[str, ...]:
    """The automated findings sheet's header row."""
    return (REFERENCE_HEADER[0], *(finding_header(q.id) for q in QUESTIONS), OUTCOMES_HEADER)


def answer_columns() -> dict[str, int]:
    """Question id → 1-based column of its answer on the review sheet."""
    header = worksheet_header()
    return {q.id: header.index(answer_header(q.id)) + 1 for q in QUESTIONS}


def reviewer_columns() -> dict[str, int]:
    """`name`, `rank`, `date` → 1-based column on the review sheet."""
    header = worksheet_header()
    return {key: header.index(name) + 1 for key, name in zip(("name", "rank", "date"), REVIEWER_HEADER, strict=True)}


def header_checksum(sample_id: str, department: str, population_hash: str, header: tuple[str, ...],
                    window: tuple[str, ...] = ()) -> str:
    """sha256 over the format, the sample's identity, the review window and the header row (unit-separated)."""
    text = "\x1f".join((FORMAT, sample_id, department, population_hash, *window, *header))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def worksheet_file_name(sample_id: str, department: str) -> str:
    return f"{sample_id}-{department}.xlsx"


# --- the deadline and the review window (pure) -------------------------------------------------

@dataclass(frozen=True)
class ReviewWindow:
    """When reviews are due and which review dates are accepted (local dates)."""

    deadline: date
    first_day: date  # the day after the sampled quarter
    last_day: date   # the review quarter's last day, or the deadline when later

    def strings(self) -> tuple[str, str, str]:
        return self.deadline.isoformat(), self.first_day.isoformat(), self.last_day.isoformat()


def review_window(quarter: str, drawn_at: datetime, *, working_days: int = REVIEW_WORKING_DAYS,
                  deadline: date | None = None) -> ReviewWindow:
    """The deadline (given, else `working_days` England & Wales working days after the local day
    of the draw) and the review dates accepted: from the day after the quarter to the end of the
    quarter after it (the review quarter), or to the deadline when that is later."""
    from vcpipeline.calendar import add_working_days, local_dates

    end = quarter_bounds(quarter)[1]
    first = pd.Timestamp(local_dates(pd.Series([end]))[0]).date()
    last = pd.Period(first, freq="Q").end_time.date()  # the review quarter's last day
    if deadline is None:
        drawn_day = local_dates(pd.Series([pd.Timestamp(drawn_at)]))
        deadline = pd.Timestamp(add_working_days(drawn_day, working_days)[0]).date()
    return ReviewWindow(deadline, first, max(last, deadline))


def day_label(day: date) -> str:
    """`Friday 29 May 2026`."""
    return f"{day:%A} {day.day} {day:%B %Y}"


# --- the rows (pure) ---------------------------------------------------------------------------

def crime_context(crime_rows: pd.DataFrame, obligations: pd.DataFrame) -> pd.DataFrame:
    """Per crime (crime_ref index): offence, enhanced service, officer in charge and owners, as text.

    `crime_rows` has crime_ref and, when the warehouse has them, offence_category, officer_collar
    and team; `obligations` may carry `enhanced` and `owner`. The officer is the collar number
    when recorded, else the team; enhanced is Yes when any victim's obligations are enhanced
    ("No data" before the rule engine has evaluated the crime).
    """
    from vcpipeline.alerts.wording import DEPARTMENT_NAMES

    frame = crime_rows.drop_duplicates("crime_ref").set_index(crime_rows.drop_duplicates("crime_ref")["crime_ref"].astype("str"))

    def column(name: str) -> pd.Series:
        values = frame[name] if name in frame else pd.Series(None, index=frame.index, dtype="object")
        return values.astype("str").where(values.notna(), "").str.strip()

    offence = column("offence_category").str.replace("_", " ").str.capitalize()
    collar, team = column("officer_collar"), column("team")
    officer = ("Officer " + collar).where(collar.ne(""), ("Team " + team).where(team.ne(""), "Not recorded"))
    refs = obligations["crime_ref"].astype("str") if len(obligations) else pd.Series(dtype="str")
    if "enhanced" in obligations and len(obligations):
        flag = obligations["enhanced"].astype("boolean").fillna(False).groupby(refs.to_numpy()).any()
        enhanced = flag.map({True: "Yes", False: "No"}).reindex(frame.index).fillna("No data")
    else:
        enhanced = pd.Series("No data", index=frame.index)
    if "owner" in obligations and len(obligations):
        owner = obligations["owner"].astype("str").where(obligations["owner"].notna(), "")
        owner = owner.where(owner.ne(""), obligations.get("department", owner))
        names = owner.map(DEPARTMENT_NAMES).fillna(owner)
        owners = names.groupby(refs.to_numpy()).agg(lambda values: ", ".join(sorted(set(values) - {""})))
    else:
        owners = pd.Series(dtype="str")
    return pd.DataFrame({
        "Offence": offence, "Enhanced service": enhanced,
        "Officer in charge (or team)": officer,
        "Obligations owned by": owners.reindex(frame.index).fillna(""),
    })


def worksheet_rows(sampled: pd.DataFrame, reported_at: pd.Series, findings: pd.DataFrame,
                   obligation_lines: pd.Series, agreed_contact: pd.Series | None = None,
                   opted_out: pd.Series | None = None, context: pd.DataFrame | None = None,
                   outcome_lines: pd.Series | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(review rows: columns = `worksheet_header`, findings rows: columns = `findings_header`) for
    every sampled crime, all departments, both sorted by crime_ref.

    `sampled` has crime_ref and stratum; `reported_at` is indexed by crime_ref (UTC instants);
    `findings` is `questions.crime_findings` output; `obligation_lines` (what was owed),
    `outcome_lines` (with outcomes), `agreed_contact` and `opted_out` (`choices.py`) are indexed by
    crime_ref, and `context` is `crime_context`. Answer, reviewer and comment cells are empty.
    """
    from vcpipeline.calendar import local_dates

    refs = sampled["crime_ref"].astype("str").reset_index(drop=True)
    when = reported_at.reindex(refs)
    reported_on = pd.Series(local_dates(when).astype("str"), index=refs.index).where(when.notna().to_numpy(), "")
    context = context if context is not None else pd.DataFrame(index=pd.Index([], dtype="str"))
    rows = pd.DataFrame({
        REFERENCE_HEADER[0]: refs,
        REFERENCE_HEADER[1]: sampled["stratum"].astype("str").to_numpy(),
        REFERENCE_HEADER[2]: reported_on.to_numpy(),
    })
    for name in REFERENCE_HEADER[3:7]:
        rows[name] = (context[name].reindex(refs).fillna("").to_numpy(dtype=object) if name in context
                      else np.full(len(refs), "", dtype=object))
    rows[OWED_HEADER] = obligation_lines.reindex(refs).fillna("(none recorded)").to_numpy()
    rows[AGREED_METHOD_HEADER] = _by_crime(agreed_contact, refs)
    rows[OPTED_OUT_HEADER] = _by_crime(opted_out, refs)
    for name in (*(answer_header(q.id) for q in QUESTIONS), *REVIEWER_HEADER, COMMENT_HEADER):
        rows[name] = ""
    wide = findings.assign(finding=finding_text(findings["finding"])).pivot_table(
        index="crime_ref", columns="question", values="finding", aggfunc="first").reindex(refs)
    shown = pd.DataFrame({REFERENCE_HEADER[0]: refs, "stratum": rows[REFERENCE_HEADER[1]]})
    for question in QUESTIONS:
        shown[finding_header(question.id)] = (wide[question.id] if question.id in wide else pd.Series(
            index=wide.index, dtype="object")).fillna(finding_text(pd.Series(["No data"])).iloc[0]).to_numpy()
    lines = outcome_lines if outcome_lines is not None else obligation_lines
    shown[OUTCOMES_HEADER] = lines.reindex(refs).fillna("(none recorded)").to_numpy()
    order = refs.sort_values(kind="stable").index
    review = rows.loc[order, list(worksheet_header())].reset_index(drop=True)
    return review, shown.loc[order, [*findings_header(), "stratum"]].reset_index(drop=True)


def _by_crime(texts: pd.Series | None, refs: pd.Series) -> np.ndarray:
    if texts is None:
        return np.full(len(refs), "", dtype=object)
    return texts.reindex(refs).fillna("").astype(str).to_numpy(dtype=object)


# --- the workbook ------------------------------------------------------------------------------

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


# --- reading a worksheet back ------------------------------------------------------------------

@dataclass(frozen=True)
class WorksheetContent:
    """A returned worksheet as text: its hidden metadata, its header row and its data rows."""

    meta: Mapping[str, str]
    header: tuple[str, ...]
    rows: pd.DataFrame  # `row` (sheet row number) plus one text column per header cell, by position


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):  # a date cell: its day, as the review date is kept
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_worksheet(path: Path) -> WorksheetContent:
    """Read a worksheet's cells as trimmed text (blank = ""). Raises ValueError if it is no workbook."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors alike
        raise ValueError(f"not a readable XLSX workbook ({type(exc).__name__})") from exc
    try:
        meta: dict[str, str] = {}
        if META_SHEET in workbook.sheetnames:
            for key, value, *_ in workbook[META_SHEET].iter_rows(values_only=True):
                meta[_text(key)] = _text(value)
        sheet = workbook[REVIEW_SHEET] if REVIEW_SHEET in workbook.sheetnames else workbook.worksheets[0]
        cells = [tuple(_text(value) for value in row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    header = cells[0] if cells else ()
    while header and header[-1] == "":
        header = header[:-1]
    width = len(worksheet_header())
    body = [(row + ("",) * width)[:width] for row in cells[1:]]
    rows = pd.DataFrame(body, columns=list(range(width)), dtype="str")
    rows.insert(0, "row", range(2, len(body) + 2))
    return WorksheetContent(meta, tuple(header), rows)


# --- the warehouse edge ------------------------------------------------------------------------

OPTIONAL_OBLIGATION_COLUMNS: tuple[str, ...] = ("trigger_event_id", "enhanced", "owner", "department")


def read_obligations(conn: sa.Connection, crime_refs: list[str]) -> pd.DataFrame:
    """The `obligations` rows of some crimes: OBLIGATION_INPUT_COLUMNS, those of
    OPTIONAL_OBLIGATION_COLUMNS the table has, and `trigger_event_type` (the triggering event's
    type; '' for the crime report). Empty if the table is absent.

    The table belongs to the rule engine's nightly run; before its first run there are no
    findings, and the worksheets say `No data` rather than fail.
    """
    empty = pd.DataFrame({name: pd.Series(dtype="datetime64[us, UTC]" if name.endswith("_at") else "str")
                          for name in OBLIGATION_INPUT_COLUMNS})
    if not crime_refs or not sa.inspect(conn).has_table("obligations"):
        return empty
    present = {column["name"] for column in sa.inspect(conn).get_columns("obligations")}
    names = [*OBLIGATION_INPUT_COLUMNS, *(name for name in OPTIONAL_OBLIGATION_COLUMNS if name in present)]
    table = sa.table("obligations", *(sa.column(name) for name in names))
    query = sa.select(*table.c).where(table.c.crime_ref.in_(crime_refs))
    if "trigger_event_id" in present:
        query = query.add_columns(case_events.c.event_type.label("trigger_event_type")).outerjoin(
            case_events, case_events.c.event_id == table.c.trigger_event_id)
    frame = read_frame(conn, query)
    return frame if len(frame) else empty


def write_worksheets(engine_or_conn: Engine | sa.Connection, sample_id: str, folder: Path, *,
                     working_days: int = REVIEW_WORKING_DAYS, deadline: date | None = None) -> list[Path]:
    """Write one worksheet per department of a stored sample into `folder`; return the paths.

    The deadline is `deadline` when given, else `working_days` working days after the draw
    (`review_window`). Pre-fills each crime's automated findings (on their own hidden sheet) from
    the warehouse's obligations and records them in `sample_findings` (replacing earlier ones),
    the baseline for reviewer agreement.
    """
    with transaction(engine_or_conn) as conn:
        record = read_sample(conn, sample_id)
        refs = record.crimes["crime_ref"].astype("str").tolist()
        wanted = [crimes.c[name] for name in ("crime_ref", "reported_at", "offence_category", "officer_collar", "team")
                  if name in crimes.c]
        crime_rows = read_frame(conn, sa.select(*wanted).where(crimes.c.crime_ref.in_(refs)))
        obligations = read_obligations(conn, refs)
        findings = crime_findings(record.crimes["crime_ref"], obligations)
        people, choices = read_victim_choices(conn, refs)
        # Choices as the obligations know them: up to the latest evaluation (or the quarter's end).
        evaluated = latest_evaluation(conn)
        as_of = quarter_bounds(record.header["quarter"])[1] if evaluated is None else evaluated
        rows, shown = worksheet_rows(
            record.crimes, crime_rows.set_index("crime_ref")["reported_at"], findings,
            obligations_text(obligations, outcome=False), agreed_contact_text(people, choices, as_of),
            opted_out_text(people, choices, as_of), crime_context(crime_rows, obligations),
            obligations_text(obligations))
        conn.execute(sa.delete(sample_findings).where(sample_findings.c.sample_id == sample_id))
        if len(findings):
            conn.execute(sample_findings.insert(),
                         [{"sample_id": sample_id, **row} for row in findings.to_dict(orient="records")])
        window = review_window(record.header["quarter"], record.header["drawn_at"],
                               working_days=working_days, deadline=deadline)
        folder.mkdir(parents=True, exist_ok=True)
        timestamp = worksheet_timestamp(record.header["quarter"])
        paths = []
        for department, part in rows.groupby(REFERENCE_HEADER[1], sort=True):
            workbook = build_workbook(part, sample_id=sample_id, department=str(department),
                                      population_hash=record.header["population_hash"], window=window,
                                      findings=shown[shown["stratum"] == department])
            path = folder / worksheet_file_name(sample_id, str(department))
            path.write_bytes(workbook_bytes(workbook, timestamp))
            paths.append(path)
    return paths


def stored_review_window(engine_or_conn: Engine | sa.Connection, sample_id: str, *,
                         working_days: int = REVIEW_WORKING_DAYS, deadline: date | None = None) -> ReviewWindow:
    """The review window of a stored sample, as `write_worksheets` writes it."""
    with transaction(engine_or_conn) as conn:
        header = read_sample(conn, sample_id).header
    return review_window(header["quarter"], header["drawn_at"], working_days=working_days, deadline=deadline)
