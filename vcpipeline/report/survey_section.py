"""The dip-sample survey on the report's first page, and beside it what the automated check found.

The survey table is the board paper's "Latest Victims Code Survey Results" with its uncertainty,
kept narrow enough to print on A4 (the interval in one column). The comparison puts, per
question, the automated figure (all obligations due in the period) beside the reviewers' (a
sample): they differ because reviewers also judge whether an update was of an "appropriate
quality", and because some questions are measured differently (Q7: a VPS offered, taken or
declined) or not at all (Q8: no system records a VPS's use, "No data" as the paper said).
"""

from __future__ import annotations

import math

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
from vcpipeline.report.model import ALL, ReportData, department_label
from vcpipeline.rules.summaries import compliance_rate

# What the automated figure of a question measures, where it is not the question's own words.
AUTOMATED_NOTES: dict[str, str] = {
    "Q1": "Automated: victims of crimes reported in the period with no obligation breached or met "
          "late. Reviewers judge compliance as a whole, the quality of each contact included.",
    "Q2": "No automated measure: a good level of service is a reviewer's judgement.",
    "Q5": "Updates made within the deadline (5 working days, 1 for enhanced victims) or at the "
          "victim's agreed interval. Timeliness only: the survey also judges whether the update "
          "was present and of an appropriate quality.",
    "Q7": "Measured as a VPS offered, taken or declined (the Code's duty is the offer), not whether "
          "one was taken.",
    "Q8": "No data: no system records whether a VPS was used in court (CPS data to follow).",
    "Q9": "Victims told how their VPS was used, within the deadline after it was.",
}
QUALITY_NOTE = "The survey also judges whether it was done to an appropriate quality."


def _force(data: ReportData) -> pd.DataFrame | None:
    from vcpipeline.sampling.results import FORCE

    if data.survey is None or data.survey.empty:
        return None
    return data.survey[data.survey["domain"] == FORCE].set_index("question")


def survey_table(data: ReportData) -> Table | None:
    """The board paper's survey table, with the interval, the previous quarter, the change and
    its test, the answers counted, and the departments' spread."""
    force = _force(data)
    if force is None:
        return None
    from vcpipeline.sampling.questions import QUESTIONS
    from vcpipeline.sampling.results import FORCE, board_table

    named = data.survey.assign(domain=[d if d == FORCE else department_label(d) for d in data.survey["domain"]])
    spread = dict(zip([q.id for q in QUESTIONS], board_table(named)["Departments"], strict=True))
    table = Table("t-survey", f"Latest Victims Code survey results, dip sample {data.survey_quarter}",
                  [header("Question"), header("Result (95% CI)"), header("Previous quarter"),
                   header("Change (points)"), header("Significant change?"), header("Answered (Yes + No)"),
                   header("Departments (lowest – highest)"), header("Agreement with automated (kappa)")])
    for question in QUESTIONS:
        if question.id not in force.index:
            continue
        row = force.loc[question.id]
        key = f"survey:{question.id}"
        change, p_value = row["change"], row["p_value"]
        verdict = "n/a" if is_missing(change) else (
            ("Yes" if is_true(row["significant"]) else "No") + ("" if is_missing(p_value) else f" (p = {p_value:.3f})"))
        result = rate_cell(f"{key}:estimate", row["estimate"], 0, missing="No data")
        result.note_parts = (rate_cell(f"{key}:ci_lower", row["ci_lower"], 0),
                             rate_cell(f"{key}:ci_upper", row["ci_upper"], 0))
        agreement = Cell("n/a" if is_missing(row["percent_agreement"]) else f"{row['percent_agreement']:.0f}%",
                         figure=f"{key}:percent_agreement", value=data_value(row["percent_agreement"]),
                         numeric=True)
        agreement.note_prefix = "κ "
        agreement.note_parts = (Cell("n/a" if is_missing(row["kappa"]) else f"{row['kappa']:.2f}",
                                     figure=f"{key}:kappa", value=data_value(row["kappa"]), numeric=True),)
        table.rows.append([
            row_header(f"{question.id} {question.text}"),
            result,
            rate_cell(f"{key}:previous_estimate", row["previous_estimate"], 0),
            Cell("n/a" if is_missing(change) else f"{100 * change:+.0f}", figure=f"{key}:change",
                 value=data_value(change), numeric=True),
            Cell(verdict, figure=f"{key}:significant", value=data_value(is_true(row["significant"]))),
            count_cell(f"{key}:applicable", row["applicable"]),
            Cell(str(spread.get(question.id, "")) or "–", css="spread"),
            agreement,
        ])
    return table


def automated_figure(data: ReportData, question) -> tuple[float, int, int]:
    """(rate, met on time, decided) of the question's rules over the period, or the victims'
    Q1; NaN where nothing measures it."""
    if question.id == "Q1":
        victims = data.victims.set_index("department")
        if ALL not in victims.index:
            return math.nan, 0, 0
        row = victims.loc[ALL]
        return float(row["victim_compliance_rate"]), int(row["compliant"]), int(row["victims"])
    rules = list(question.rules or ((question.rule,) if question.rule else ()))
    if not rules:
        return math.nan, 0, 0
    rows = data.by_rule[data.by_rule["rule"].isin(rules)]
    met, late, breached = (int(rows[name].sum()) for name in ("met_on_time", "met_late", "breached"))
    rate = float(compliance_rate(pd.Series([met]), pd.Series([late]), pd.Series([breached]))[0])
    return rate, met, met + late + breached


def comparison_table(data: ReportData) -> Table:
    """Per question: the automated figure (n of N) and the survey's, and what each measures."""
    from vcpipeline.sampling.questions import QUESTIONS

    force = _force(data)
    table = Table("t-automated-survey", "Automated check and dip-sample survey, question by question",
                  [header("Question"), header("Automated (all obligations)"),
                   header(f"Survey ({data.survey_quarter} sample)"), header("Why they can differ")])
    for question in QUESTIONS:
        key = f"compare:{question.id}"
        rate, part, whole = automated_figure(data, question)
        automated = rate_cell(f"{key}:automated", rate, 1, missing="No data")
        if whole:
            automated.n_of = (count_cell(f"{key}:automated_part", part), count_cell(f"{key}:automated_whole", whole))
        surveyed = (math.nan if force is None or question.id not in force.index
                    else force.loc[question.id, "estimate"])
        note = AUTOMATED_NOTES.get(question.id)
        if note is None:
            note = f"Automated: done within the deadline. {QUALITY_NOTE}"
        elif question.id not in ("Q1", "Q2", "Q8"):
            note = f"{note} {QUALITY_NOTE}" if question.id != "Q5" else note
        table.rows.append([row_header(f"{question.id} {question.label}"), automated,
                           rate_cell(f"{key}:survey", surveyed, 0, missing="No data"),
                           Cell(note, prose=True)])
    return table

