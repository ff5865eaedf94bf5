"""What a report shows: one frame per section, read by `data.py`, drawn by `build.py`.

Every compliance section has the same count columns (COUNT_COLUMNS) over the obligations whose
local due date falls in the period, and the rate computed from them (`compliance_rate`), so a
figure in any section means the same thing. Frames hold codes and names only: rules,
departments, teams, source systems, quarantine reasons; never a victim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from vcpipeline.report.periods import Period
from vcpipeline.rules.summaries import compliance_rate
from vcpipeline.sampling.questions import QUESTIONS

# Obligations by status; `due` is all of them (pending ones included).
COUNT_COLUMNS: tuple[str, ...] = ("due", "met_on_time", "met_late", "breached", "pending")
RATE_COLUMN = "compliance_rate"
ALL = "ALL"  # the rule (or department) key of a total row

# The rules in the board paper's order, with the question each answers.
RULE_QUESTIONS: dict[str, str] = {q.rule: q.id for q in QUESTIONS if q.rule is not None}
RULES: tuple[str, ...] = tuple(RULE_QUESTIONS)
RULE_LABELS: dict[str, str] = {q.rule: f"{q.id} {q.label}" for q in QUESTIONS if q.rule is not None}


def with_rate(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with integer counts and its `compliance_rate` column (re)computed from them:
    pending obligations are not yet decided; NaN where nothing was decided (no figure rather than
    a made-up 0% or 100%)."""
    frame = frame.copy()
    for name in COUNT_COLUMNS:
        frame[name] = frame[name].fillna(0).astype("int64")
    frame[RATE_COLUMN] = compliance_rate(frame["met_on_time"], frame["met_late"], frame["breached"])
    return frame


@dataclass(frozen=True)
class ReportData:
    """One period's figures, section by section (see each field)."""

    period: Period
    generated_at: datetime
    evaluated_as_of: datetime | None        # the obligations' as-of instant (latest evaluation)
    overall: pd.DataFrame                   # one row: COUNT_COLUMNS, compliance_rate
    by_rule: pd.DataFrame                   # rule, COUNT_COLUMNS, compliance_rate (RULES order)
    by_department: pd.DataFrame             # department, COUNT_COLUMNS, compliance_rate
    trend: pd.DataFrame                     # month, rule (or ALL), COUNT_COLUMNS, compliance_rate
    enhanced: pd.DataFrame                  # service (enhanced|standard), rule (or ALL), counts, rate
    victims: pd.DataFrame                   # department (or ALL), victims, compliant, victim_compliance_rate
    teams: pd.DataFrame                     # department, team, COUNT_COLUMNS, compliance_rate (top first)
    survey: pd.DataFrame | None             # sampling.results.RESULT_COLUMNS of the quarter, or None
    survey_quarter: str                     # the quarter whose dip sample the survey section is about
    loads: pd.DataFrame                     # source_system, batches, failed, rows_extracted/_loaded/_quarantined
    quarantine: pd.DataFrame                # source_system, entity, reason, rows
    data_docs_href: str = "../data_docs/index.html"
    exports: tuple[str, ...] = field(default_factory=tuple)  # relative links to exported files
