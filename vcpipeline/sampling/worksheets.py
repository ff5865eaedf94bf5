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
from vcpipeline.sampling.layout import (
    COMMENT_HEADER,
    EARLIER_FINDINGS_DESIGN,
    FINDINGS_DESIGN,
    FINDINGS_SHEET,
    FORMAT,
    INSTRUCTIONS_SHEET,
    META_SHEET,
    OUTCOMES_HEADER,
    OWED_HEADER,
    RANKS_AT_STANDARD,
    RANKS_BELOW_STANDARD,
    REFERENCE_HEADER,
    REVIEW_SHEET,
    REVIEW_STANDARD,
    REVIEW_WORKING_DAYS,
    REVIEWER_HEADER,
    REVIEWER_NAME_LIMIT,
    REVIEWER_RANKS,
    ReviewWindow,
    answer_columns,
    answer_header,
    day_label,
    finding_header,
    findings_header,
    header_checksum,
    review_window,
    reviewer_columns,
    worksheet_file_name,
    worksheet_header,
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
from vcpipeline.sampling.workbook import (
    build_workbook,
    instruction_rows,
    rank_rows,
    workbook_bytes,
    worksheet_timestamp,
    write_text_as_text,
)
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import case_events, crimes, sample_findings

# The layout and the workbook are re-exported: callers import the worksheet from here.
__all__ = [
    "COMMENT_HEADER", "EARLIER_FINDINGS_DESIGN", "FINDINGS_DESIGN", "FINDINGS_SHEET", "FORMAT",
    "INSTRUCTIONS_SHEET", "META_SHEET", "OUTCOMES_HEADER", "OWED_HEADER", "RANKS_AT_STANDARD",
    "RANKS_BELOW_STANDARD", "REFERENCE_HEADER", "REVIEWER_HEADER", "REVIEWER_NAME_LIMIT",
    "REVIEWER_RANKS", "REVIEW_SHEET", "REVIEW_STANDARD", "REVIEW_WORKING_DAYS", "ReviewWindow",
    "answer_columns", "answer_header", "build_workbook", "day_label", "finding_header",
    "findings_header", "header_checksum", "instruction_rows", "rank_rows", "review_window",
    "reviewer_columns", "workbook_bytes", "worksheet_file_name", "worksheet_header",
    "worksheet_timestamp", "write_text_as_text",
]


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
