"""What a report shows: one frame per section, read by `data.py`, drawn by `build.py`.

Every compliance section has the same count columns (COUNT_COLUMNS) over the obligations whose
local due date falls in the period, and the rate computed from them (`compliance_rate`), so a
figure in any section means the same thing. WAIVED obligations (the victim opted out, or agreed
another plan: RULES.md v2) are counted in `due` and on their own (`waived`), never in the rate.
Frames hold codes and names only: rules, departments, teams, source systems, quarantine reasons;
never a victim. The page shows departments by their plain names (`department_label`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from vcpipeline.alerts.wording import DEPARTMENT_NAMES
from vcpipeline.report.periods import Period
from vcpipeline.rules.ruleset import load_rulesets
from vcpipeline.rules.summaries import compliance_rate
from vcpipeline.sampling.questions import QUESTIONS

# Obligations by status; `due` is all of them (pending and waived ones included).
COUNT_COLUMNS: tuple[str, ...] = ("due", "met_on_time", "met_late", "breached", "pending", "waived")
RATE_COLUMN = "compliance_rate"
# Updates by the victim's agreed method (the summaries' columns): of the met obligations that keep
# the victim informed and have an agreed method to compare, those met by that method, and the share.
AGREED_COLUMNS: tuple[str, ...] = ("agreed_method_compared", "agreed_method_kept")
AGREED_RATE = "agreed_method_rate"
ALL = "ALL"  # the rule (or department) key of a total row



def _rule_labels() -> dict[str, str]:
    """Every rule of the rule sets, in the board paper's order, labelled with the question it
    answers: a question's own rule as the dip sample words it, any other (the victim-led
    `agreed_update`, also Q5) from its rule-set `label` and `board_question`, after it."""
    rulesets = load_rulesets()
    labels = {q.rule: f"{q.id} {q.label}" for q in QUESTIONS if q.rule is not None}
    labels.update({name: f"{rulesets.rule(name).board_question.split('/')[-1]} {rulesets.rule(name).label}"
                   for name in rulesets.rule_names() if name not in labels})
    first = list(labels)

    def order(name: str) -> tuple[int, bool, int]:
        number = int(labels[name].split()[0].removeprefix("Q"))
        return number, rulesets.rule(name).kind == "periodic", first.index(name)

    return {name: labels[name] for name in sorted(labels, key=order)}


# Where the automated measure is not what the question's words ask, the report labels the rule by
# what it measures (the board asked "Was a VPS taken?"; the Code's duty, and the rule, is the offer).
MEASURED_AS: dict[str, str] = {"vps_offer": "VPS offered, taken or declined"}


def _measured_labels(labels: dict[str, str]) -> dict[str, str]:
    return {rule: (f"{label.split()[0]} {MEASURED_AS[rule]}" if rule in MEASURED_AS else label)
            for rule, label in labels.items()}


RULE_LABELS: dict[str, str] = _measured_labels(_rule_labels())
RULES: tuple[str, ...] = tuple(RULE_LABELS)


def rule_label(rule: str) -> str:
    """A rule by its board-paper question and label; "All entitlements" for the total row."""
    return "All entitlements" if rule == ALL else RULE_LABELS.get(rule, rule)


def with_rate(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with integer counts and its `compliance_rate` column (re)computed from them:
    pending obligations are not yet decided; NaN where nothing was decided (no figure rather than
    a made-up 0% or 100%)."""
    frame = frame.copy()
    for name in COUNT_COLUMNS:
        frame[name] = frame[name].fillna(0).astype("int64")
    frame[RATE_COLUMN] = compliance_rate(frame["met_on_time"], frame["met_late"], frame["breached"])
    return frame


def department_label(code: str) -> str:
    """The plain name of a department code (`FORCE_RESPONSE` → "Force Response"), as the alerts
    name it; "All departments" for the total row; an unknown code in words."""
    if code == ALL:
        return "All departments"
    return DEPARTMENT_NAMES.get(code, code.replace("_", " ").title())


def with_agreed_rate(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with integer AGREED_COLUMNS and `agreed_method_rate` = kept / compared, NaN
    where nothing was compared (the SQL twin is `v_compliance_base`'s `agreed_method_rate`)."""
    frame = frame.copy()
    for name in AGREED_COLUMNS:
        frame[name] = frame[name].fillna(0).astype("int64")
    compared = frame["agreed_method_compared"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame[AGREED_RATE] = np.where(compared > 0, frame["agreed_method_kept"].to_numpy(dtype=float) / compared,
                                      np.nan)
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
    by_owner: pd.DataFrame                  # owner, COUNT_COLUMNS, compliance_rate (who must meet them)
    agreed_method: pd.DataFrame             # month (or ALL: the period), department (or ALL), AGREED_*
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
    previous_overall: pd.DataFrame | None = None    # `overall` of the period before (same kind)
    previous_victims: pd.DataFrame | None = None    # `victims` of the period before
    by_owner_and_rule: pd.DataFrame | None = None   # owner, rule, COUNT_COLUMNS, compliance_rate
    commentary: str | None = None           # the performance lead's Markdown for the period (source)
    commentary_file: str | None = None      # where that Markdown is read from (shown when missing)
    # Hooks for sections built elsewhere (attrition, breakdowns with disclosure control): each a
    # `report.sections.Section`, rendered in order after the survey comparison and exported as
    # `<stem>-data/<section.key>.csv|.parquet` when it carries a frame.
    extra_sections: tuple = field(default_factory=tuple)
