"""The worksheet's layout as data: format, sheet names, header rows, the ranks and review
standard, the hidden checksum, and the deadline and review window (pure; `worksheets.py` says
what each sheet holds)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from vcpipeline.sampling.choices import AGREED_METHOD_HEADER, OPTED_OUT_HEADER
from vcpipeline.sampling.questions import QUESTIONS
from vcpipeline.sampling.selection import quarter_bounds

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
