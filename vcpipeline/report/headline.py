"""The reconciled headline: the three compliance figures the board sees, side by side (pure).

Compliance by obligation, Victims Code compliant victims (Q1, automated) and the dip sample's Q1
measure different things and so differ: this block says what each counts and why, with the
previous period beside each and whether the change is significant. The two automated figures
are counts of everything, compared with a two-proportion score test; the survey's change is the
survey's own test (`sampling.survey.compare_quarters`, stored with the results).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from vcpipeline.report.cells import (
    Cell,
    Table,
    count_cell,
    data_value,
    header,
    is_missing,
    is_true,
    rate_cell,
    row_header,
)
from vcpipeline.report.model import ALL, RATE_COLUMN, ReportData
from vcpipeline.rules.summaries import decided_obligations

SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class ChangeTest:
    """A change between two proportions and its two-sided p-value (NaN when untestable)."""

    change: float
    p_value: float

    @property
    def significant(self) -> bool:
        return not math.isnan(self.p_value) and self.p_value < SIGNIFICANCE


def two_proportion_test(successes: int, trials: int, previous_successes: int, previous_trials: int) -> ChangeTest:
    """The pooled two-proportion score (z) test of now vs before.

    Valid at 0% and 100%: the variance is the pooled proportion's, so a period at 100% against
    one at 95% is tested on their common rate, not on a zero variance. When both periods are at
    the same boundary (all met, or none) nothing changed (p = 1). NaN when either has no trials.
    """
    if trials <= 0 or previous_trials <= 0:
        return ChangeTest(math.nan, math.nan)
    now, before = successes / trials, previous_successes / previous_trials
    pooled = (successes + previous_successes) / (trials + previous_trials)
    variance = pooled * (1 - pooled) * (1 / trials + 1 / previous_trials)
    if variance <= 0:
        return ChangeTest(now - before, 1.0)
    z = (now - before) / math.sqrt(variance)
    return ChangeTest(now - before, math.erfc(abs(z) / math.sqrt(2)))


WHAT: dict[str, tuple[str, str]] = {
    "obligation": (
        "Compliance by obligation",
        "Each obligation owed to each victim (acknowledgement, needs assessment, every update, the "
        "outcome, the VPS…) due in the period, counted on its own: met on time ÷ decided. Every "
        "obligation of every crime, from the force's systems."),
    "victim": (
        "Victims Code compliant victims (Q1, automated)",
        "Victims of crimes reported in the period with none of their obligations breached or met "
        "late. One late update makes the whole victim non-compliant, so this is always lower than "
        "the obligation rate: a victim owed five updates has five chances to be let down."),
    "survey": (
        "Victims Code compliant (Q1, dip-sample survey)",
        "An Inspector's judgement on a sample of crimes (about 240 a quarter, weighted by "
        "department), with a 95% interval. Reviewers also judge whether updates were of an "
        "appropriate quality and what the record leaves out, which no automated check can, so it "
        "can be lower again; being a sample, a change of a few points may be chance."),
}

WHY_THEY_DIFFER = (
    "The three answer different questions. Compliance by obligation counts each obligation; "
    "compliant victims asks whether every obligation owed to a victim was met on time, so a "
    "victim with many obligations (an enhanced victim, a long investigation) is more likely to "
    "be let down once; the survey asks a reviewer to judge the whole service to a sampled "
    "crime, quality included. The periods differ too: obligations by their due date, victims "
    "and the survey by the quarter the crime was reported in."
)


def headline_rows(data: ReportData) -> pd.DataFrame:
    """One row per figure: measure, estimate, part, whole, previous, change, p_value, significant,
    ci_lower, ci_upper (the survey's only)."""
    def obligation(frame: pd.DataFrame | None) -> tuple[int, int, float]:
        if frame is None or frame.empty:
            return 0, 0, math.nan
        row = frame.iloc[0]
        return int(row["met_on_time"]), int(decided_obligations(row["met_on_time"], row["met_late"], row["breached"])), \
            float(row[RATE_COLUMN])

    def victims(frame: pd.DataFrame | None) -> tuple[int, int, float]:
        if frame is None or frame.empty or ALL not in set(frame["department"]):
            return 0, 0, math.nan
        row = frame.set_index("department").loc[ALL]
        return int(row["compliant"]), int(row["victims"]), float(row["victim_compliance_rate"])

    rows = []
    for measure, (now, before) in {"obligation": (obligation(data.overall), obligation(data.previous_overall)),
                                   "victim": (victims(data.victims), victims(data.previous_victims))}.items():
        test = two_proportion_test(now[0], now[1], before[0], before[1])
        rows.append({"measure": measure, "estimate": now[2], "part": now[0], "whole": now[1],
                     "previous": before[2], "previous_part": before[0], "previous_whole": before[1],
                     "change": test.change, "p_value": test.p_value, "significant": test.significant,
                     "test": "two-proportion score test", "ci_lower": math.nan, "ci_upper": math.nan})
    survey = _survey_q1(data)
    if survey is not None:
        rows.append({"measure": "survey", "estimate": survey["estimate"], "part": math.nan,
                     "whole": survey["applicable"], "previous": survey["previous_estimate"],
                     "previous_part": math.nan, "previous_whole": math.nan, "change": survey["change"],
                     "p_value": survey["p_value"], "significant": is_true(survey["significant"]),
                     "test": "survey design-based test", "ci_lower": survey["ci_lower"],
                     "ci_upper": survey["ci_upper"]})
    return pd.DataFrame(rows)


def _survey_q1(data: ReportData) -> dict[str, Any] | None:
    from vcpipeline.sampling.results import FORCE

    if data.survey is None or data.survey.empty:
        return None
    force = data.survey[(data.survey["domain"] == FORCE) & (data.survey["question"] == "Q1")]
    return None if force.empty else force.iloc[0].to_dict()


def _verdict(row: pd.Series) -> str:
    if is_missing(row["change"]):
        return "n/a (no previous figure)"
    p = "" if is_missing(row["p_value"]) else f" (p = {row['p_value']:.3f})"
    return ("Yes" if row["significant"] else "No") + p


def headline_table(data: ReportData) -> Table:
    """The reconciled block as a table: figure, this period (n of N), previous, change, significant."""
    table = Table("t-headline", f"Three compliance figures, {data.period.name}, and what each measures",
                  [header("Figure"), header("This period"), header("Previous period"),
                   header("Change (points)"), header("Significant change?"), header("What it measures")])
    for _, row in headline_rows(data).iterrows():
        measure = str(row["measure"])
        key = f"headline:{measure}"
        now = rate_cell(f"{key}:estimate", row["estimate"], 1 if measure != "survey" else 0)
        if measure != "survey":
            now.n_of = (count_cell(f"{key}:part", row["part"]), count_cell(f"{key}:whole", row["whole"]))
        elif not is_missing(row["ci_lower"]):
            now.note = f"95% CI {100 * row['ci_lower']:.0f}–{100 * row['ci_upper']:.0f}%"
        change = row["change"]
        table.rows.append([
            row_header(WHAT[measure][0]),
            now,
            rate_cell(f"{key}:previous", row["previous"], 1 if measure != "survey" else 0),
            Cell("n/a" if is_missing(change) else f"{100 * change:+.1f}", figure=f"{key}:change",
                 value=data_value(change), numeric=True),
            Cell(_verdict(row), figure=f"{key}:significant", value=data_value(is_true(row["significant"]))),
            Cell(WHAT[measure][1], prose=True),
        ])
    return table
