"""Reviewer worksheets: one XLSX per department listing its sampled crimes, to be answered and returned.

Layout (sheet `Review`): row 1 is the header, then one row per sampled crime, sorted by crime_ref:
crime reference, department, reported on (local date), the crime's obligations as text, each
victim's agreed contact (method and interval) and opt-outs (local dates, `choices.py`), then for
each of the nine questions an **automated finding** column (reference, pre-filled, locked) and an
**answer** column (empty, restricted by data validation to Yes / No / N/A / No data), and a free-text
comment. Nothing about the victim appears: crime refs, pseudonymous victim ids, codes and dates
(a contact method names how, never where: no number or address).

Tamper evidence: a very hidden sheet `_vcp` holds the format, sample id, department, population
hash and a sha256 of those and the header row. The review sheet is protected (no password: it
stops slips, not fraud) with only the answer and comment cells unlocked. The ingest refuses a
worksheet whose header, hidden sheet or checksum do not match (`reviews.py`).

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
from datetime import datetime
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
from vcpipeline.warehouse.schema import crimes, sample_findings

FORMAT = "vcp-dip-sample-worksheet/2"  # 2: the victims' agreed contact and opt-out columns
REVIEW_SHEET, META_SHEET = "Review", "_vcp"
REFERENCE_HEADER: tuple[str, ...] = ("Crime reference", "Department", "Reported on", "Obligations (automated)",
                                     AGREED_METHOD_HEADER, OPTED_OUT_HEADER)
COMMENT_HEADER = "Comment"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_WIDE = {REFERENCE_HEADER[3]: 40, AGREED_METHOD_HEADER: 28, OPTED_OUT_HEADER: 28, COMMENT_HEADER: 40}  # the earliest a zip entry can say: no clock in the bytes


def finding_header(question_id: str) -> str:
    question = next(q for q in QUESTIONS if q.id == question_id)
    return f"{question.id} {question.label}: automated finding"


def answer_header(question_id: str) -> str:
    question = next(q for q in QUESTIONS if q.id == question_id)
    return f"{question.id} {question.label}: answer"


def worksheet_header() -> tuple[str, ...]:
    """The header row, left to right."""
    pairs = [name for q in QUESTIONS for name in (finding_header(q.id), answer_header(q.id))]
    return (*REFERENCE_HEADER, *pairs, COMMENT_HEADER)


def answer_columns() -> dict[str, int]:
    """Question id → 1-based column of its answer."""
    header = worksheet_header()
    return {q.id: header.index(answer_header(q.id)) + 1 for q in QUESTIONS}


def header_checksum(sample_id: str, department: str, population_hash: str, header: tuple[str, ...]) -> str:
    """sha256 over the format, the sample's identity and the header row (unit-separated)."""
    text = "\x1f".join((FORMAT, sample_id, department, population_hash, *header))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def worksheet_file_name(sample_id: str, department: str) -> str:
    return f"{sample_id}-{department}.xlsx"


# --- the rows (pure) ---------------------------------------------------------------------------

def worksheet_rows(sampled: pd.DataFrame, reported_at: pd.Series, findings: pd.DataFrame,
                   obligation_lines: pd.Series, agreed_contact: pd.Series | None = None,
                   opted_out: pd.Series | None = None) -> pd.DataFrame:
    """The worksheet's data rows for every sampled crime, all departments (columns = header).

    `sampled` has crime_ref and stratum; `reported_at` is indexed by crime_ref (UTC instants);
    `findings` is `questions.crime_findings` output; `obligation_lines`, `agreed_contact` and
    `opted_out` (`choices.py`) are indexed by crime_ref. A crime with no opt-out has an empty
    "Opted out" cell; one without victims' choices read, empty cells for both. Answer and comment
    columns are empty strings.
    """
    from vcpipeline.calendar import local_dates

    refs = sampled["crime_ref"].astype("str").reset_index(drop=True)
    when = reported_at.reindex(refs)
    reported_on = pd.Series(local_dates(when).astype("str"), index=refs.index).where(when.notna().to_numpy(), "")
    rows = pd.DataFrame({
        REFERENCE_HEADER[0]: refs,
        REFERENCE_HEADER[1]: sampled["stratum"].astype("str").to_numpy(),
        REFERENCE_HEADER[2]: reported_on.to_numpy(),
        REFERENCE_HEADER[3]: obligation_lines.reindex(refs).fillna("(none recorded)").to_numpy(),
        AGREED_METHOD_HEADER: _by_crime(agreed_contact, refs),
        OPTED_OUT_HEADER: _by_crime(opted_out, refs),
    })
    wide = findings.pivot_table(index="crime_ref", columns="question", values="finding",
                                aggfunc="first").reindex(refs)
    for question in QUESTIONS:
        rows[finding_header(question.id)] = wide[question.id].fillna("No data").to_numpy()
        rows[answer_header(question.id)] = ""
    rows[COMMENT_HEADER] = ""
    return rows.sort_values(REFERENCE_HEADER[0], kind="stable", ignore_index=True)[list(worksheet_header())]


def _by_crime(texts: pd.Series | None, refs: pd.Series) -> np.ndarray:
    if texts is None:
        return np.full(len(refs), "", dtype=object)
    return texts.reindex(refs).fillna("").astype(str).to_numpy(dtype=object)


# --- the workbook ------------------------------------------------------------------------------

def build_workbook(rows: pd.DataFrame, *, sample_id: str, department: str, population_hash: str) -> Any:
    """An openpyxl Workbook for one department's rows (layout in the module docstring)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    header = worksheet_header()
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = REVIEW_SHEET
    sheet.append(list(header))
    for values in rows[list(header)].itertuples(index=False, name=None):
        sheet.append(list(values))
    write_text_as_text(sheet)
    last_row = max(sheet.max_row, 2)

    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    reference_fill = PatternFill("solid", fgColor="EDEDED")
    unlocked = Protection(locked=False)
    answers = set(answer_columns().values()) | {len(header)}
    for column in range(1, len(header) + 1):
        letter = get_column_letter(column)
        cell = sheet.cell(row=1, column=column)
        cell.font, cell.alignment = bold, wrap
        sheet.column_dimensions[letter].width = _WIDE.get(header[column - 1], 16)
        for row in range(2, sheet.max_row + 1):
            body = sheet.cell(row=row, column=column)
            body.alignment = wrap
            if column in answers:
                body.protection = unlocked
            else:
                body.fill = reference_fill
    validation = DataValidation(
        type="list", formula1='"' + ",".join(ANSWERS) + '"', allow_blank=True,
        showErrorMessage=True, errorTitle="Answer", error="Answer Yes, No, N/A or No data.",
        showInputMessage=True, promptTitle="Answer", prompt="Yes, No, N/A or No data",
    )
    for column in sorted(answers - {len(header)}):
        letter = get_column_letter(column)
        validation.add(f"{letter}2:{letter}{last_row}")
    sheet.add_data_validation(validation)
    sheet.freeze_panes = "B2"
    sheet.protection.sheet = True
    sheet.protection.formatColumns = False  # reviewers may widen columns
    sheet.protection.formatRows = False

    meta = workbook.create_sheet(META_SHEET)
    meta.sheet_state = "veryHidden"
    for key, value in (("format", FORMAT), ("sample_id", sample_id), ("department", department),
                       ("population_hash", population_hash), ("rows", len(rows)),
                       ("header_sha256", header_checksum(sample_id, department, population_hash, header))):
        meta.append([key, value])
    write_text_as_text(meta)
    meta.protection.sheet = True
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

def read_obligations(conn: sa.Connection, crime_refs: list[str]) -> pd.DataFrame:
    """The `obligations` rows of some crimes (OBLIGATION_INPUT_COLUMNS); empty if the table is absent.

    The table belongs to the rule engine's nightly run; before its first run there are no
    findings, and the worksheets say `No data`/`n/a` rather than fail.
    """
    empty = pd.DataFrame({name: pd.Series(dtype="datetime64[us, UTC]" if name.endswith("_at") else "str")
                          for name in OBLIGATION_INPUT_COLUMNS})
    if not crime_refs or not sa.inspect(conn).has_table("obligations"):
        return empty
    table = sa.table("obligations", *(sa.column(name) for name in OBLIGATION_INPUT_COLUMNS))
    frame = read_frame(conn, sa.select(*table.c).where(table.c.crime_ref.in_(crime_refs)))
    return frame if len(frame) else empty


def write_worksheets(engine_or_conn: Engine | sa.Connection, sample_id: str, folder: Path) -> list[Path]:
    """Write one worksheet per department of a stored sample into `folder`; return the paths.

    Pre-fills each crime's automated findings from the warehouse's obligations and records them
    in `sample_findings` (replacing earlier ones), the baseline for reviewer agreement.
    """
    with transaction(engine_or_conn) as conn:
        record = read_sample(conn, sample_id)
        refs = record.crimes["crime_ref"].astype("str").tolist()
        reported = read_frame(conn, sa.select(crimes.c.crime_ref, crimes.c.reported_at)
                              .where(crimes.c.crime_ref.in_(refs)))
        obligations = read_obligations(conn, refs)
        findings = crime_findings(record.crimes["crime_ref"], obligations)
        people, choices = read_victim_choices(conn, refs)
        # Choices as the obligations know them: up to the latest evaluation (or the quarter's end).
        evaluated = latest_evaluation(conn)
        as_of = quarter_bounds(record.header["quarter"])[1] if evaluated is None else evaluated
        rows = worksheet_rows(record.crimes, reported.set_index("crime_ref")["reported_at"], findings,
                              obligations_text(obligations), agreed_contact_text(people, choices, as_of),
                              opted_out_text(people, choices, as_of))
        conn.execute(sa.delete(sample_findings).where(sample_findings.c.sample_id == sample_id))
        if len(findings):
            conn.execute(sample_findings.insert(),
                         [{"sample_id": sample_id, **row} for row in findings.to_dict(orient="records")])
        folder.mkdir(parents=True, exist_ok=True)
        timestamp = worksheet_timestamp(record.header["quarter"])
        paths = []
        for department, part in rows.groupby(REFERENCE_HEADER[1], sort=True):
            workbook = build_workbook(part, sample_id=sample_id, department=str(department),
                                      population_hash=record.header["population_hash"])
            path = folder / worksheet_file_name(sample_id, str(department))
            path.write_bytes(workbook_bytes(workbook, timestamp))
            paths.append(path)
    return paths
