"""Frames to one self-contained HTML page: the board paper, generated.

Pure: `render_report(ReportData) -> str`, no I/O. The page has no script, no web font and no
external resource (CSS and SVG inline), so it reads offline and prints. Every figure in a table
cell carries `data-figure="section:key:column"` and `data-value` (the unrounded number, empty when
there is none), which is how the tests check each printed figure against the summary tables.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from vcpipeline.report import agreed_method, charts, headline, owner_matrix, survey_section
from vcpipeline.report.cells import (
    Cell,
    Table,
    count_cell,
    header,
    rate_cell,
    row_header,
)
from vcpipeline.report.cells import is_missing as _is_missing
from vcpipeline.report.model import (
    ALL,
    COUNT_COLUMNS,
    RATE_COLUMN,
    RULES,
    ReportData,
    department_label,
    rule_label,
)
from vcpipeline.report.wording import entity_label, source_label, team_label
from vcpipeline.rules.summaries import decided_obligations

# One short "how measured" note per figure; docs/report.md says the same at length.
HOW_MEASURED: dict[str, str] = {
    "summary": (
        "Obligations are counted in the period of their local due date (Europe/London), with the "
        "status they had when the rule engine last evaluated them. Compliance = met on time ÷ "
        "(met on time + met late + breached); pending obligations are not yet decided and are left out. "
        "Waived obligations (the victim opted out of services, or agreed another plan before the update "
        "was due) are not judged: counted on their own, never in the rate."
    ),
    "by_rule": (
        "One obligation per victim and trigger, per RULES.md; each row is one Victims Code "
        "entitlement, labelled with the board-paper question it answers."
    ),
    "by_department": "The department that owns the crime (crime recording system) at the last load.",
    "by_owner": (
        "The owner is the department that must meet the obligation: the crime's department, except "
        "that updates, the outcome and the VPS owed at or after the first charge naming the victim "
        "are Witness Care's, who keep the victim informed once a case goes to court."
    ),
    "agreed_method": agreed_method.HOW_MEASURED,
    "trend": (
        "The same compliance rate for each of the last twelve months (by local due date). A month "
        "with nothing decided has no point; the line breaks there."
    ),
    "enhanced": (
        "Enhanced-service victims (under 18, vulnerable, intimidated, persistently targeted, a "
        "serious offence, domestic abuse or hate crime) are owed updates within 1 working day "
        "instead of 5."
    ),
    "victims": (
        "A victim is Victims Code compliant (board-paper Q1) when none of their obligations due in "
        "the period was breached or met late."
    ),
    "teams": (
        "Obligations due in the period by the crime's owning team (crimes.team): the ten teams with "
        "the lowest compliance among those with at least {min_decided} decided obligations "
        "(VCP_REPORT_TEAM_MIN_DECIDED), ties by more breaches. Ranked by rate, not by the number of "
        "breaches, which would list only the largest teams."
    ),
    "survey": (
        "Reviewers' answers on the quarterly dip sample, design-weighted by department; 95% "
        "Korn–Graubard interval; the change against the previous quarter is significant when its "
        "two-sided p-value is below 0.05; agreement compares reviewers with the automated findings "
        "they were shown (Cohen's kappa)."
    ),
    "data_quality": (
        "Load batches whose interval ended in the period, by source system; quarantined rows by "
        "the check they failed, in words (a row failing several is counted under each; the "
        "CSV keeps each check's technical name in `reason`)."
    ),
    "owner_rule": (
        "Each obligation under its owner (RULES.md v2), for each entitlement: met on time of "
        "decided (met on time, met late, breached). The lowest cell of each entitlement is marked "
        "among owners with at least {min_decided} decided obligations (VCP_REPORT_CELL_MIN_DECIDED)."
    ),
    "compare": (
        "Automated: every obligation due in the period (Q1: every victim of a crime reported in "
        "it). Survey: reviewers' answers on the quarter's dip sample, design-weighted."
    ),
}

SERVICES: tuple[str, ...] = ("enhanced", "standard")


COUNT_HEADERS: dict[str, str] = {
    "due": "Due", "met_on_time": "Met on time", "met_late": "Met late", "breached": "Breached",
    "pending": "Pending", "waived": "Waived (victim opted out / plan changed)", RATE_COLUMN: "Compliance",
}


def _count_cells(section: str, key: str, row: pd.Series) -> list[Cell]:
    cells = [count_cell(f"{section}:{key}:{name}", row[name]) for name in COUNT_COLUMNS]
    cells.append(rate_cell(f"{section}:{key}:{RATE_COLUMN}", row[RATE_COLUMN]))
    return cells


# --- sections ----------------------------------------------------------------------------------

def compliance_table(section: str, frame: pd.DataFrame, key: str, caption: str, key_header: str,
                     label=lambda value: value) -> Table:
    """A row per `key` value with the counts and the compliance rate."""
    table = Table(f"t-{section}", caption,
                  [header(key_header), *(header(COUNT_HEADERS[c]) for c in (*COUNT_COLUMNS, RATE_COLUMN))])
    for _, row in frame.iterrows():
        table.rows.append([row_header(label(str(row[key]))), *_count_cells(section, str(row[key]), row)])
    return table


def trend_table(data: ReportData) -> Table:
    months = data.period.trend_months()
    rules = [ALL, *RULES]
    table = Table("t-trend", "Compliance by month and entitlement, last 12 months (by local due date)",
                  [header("Month"), header("Due (all)"), *(header(rule_label(r)) for r in rules)])
    trend = data.trend.set_index(["month", "rule"])
    for month in months:
        due = trend["due"].get((month, ALL), 0)
        row = [row_header(month), count_cell(f"trend:{month}/{ALL}:due", due)]
        for rule in rules:
            value = trend[RATE_COLUMN].get((month, rule), math.nan)
            row.append(rate_cell(f"trend:{month}/{rule}:{RATE_COLUMN}", value))
        table.rows.append(row)
    return table


def trend_charts(data: ReportData) -> list[tuple[str, Any]]:
    months = list(data.period.trend_months())
    trend = data.trend.set_index(["month", "rule"])[RATE_COLUMN]
    made = []
    for i, rule in enumerate([ALL, *RULES]):
        values = [trend.get((month, rule), math.nan) for month in months]
        made.append((rule_label(rule), charts.line_chart(
            f"c-trend-{i}", f"{rule_label(rule)}: compliance by month", months, values,
            description=f"Monthly compliance, {months[0]} to {months[-1]}.")))
    return made


def enhanced_table(data: ReportData) -> Table:
    table = Table("t-enhanced", "Enhanced and standard victims: obligations due and compliance, by entitlement",
                  [header("Entitlement"), *(header(f"{s.capitalize()}: {what}")
                                            for s in SERVICES for what in ("due", "breached", "compliance"))])
    rows = data.enhanced.set_index(["service", "rule"]).to_dict("index")
    nothing = {"due": 0, "breached": 0, RATE_COLUMN: math.nan}
    for rule in [ALL, *RULES]:
        row = [row_header(rule_label(rule))]
        for service in SERVICES:
            key, found = f"{service}/{rule}", rows.get((service, rule), nothing)
            row.append(count_cell(f"enhanced:{key}:due", found["due"]))
            row.append(count_cell(f"enhanced:{key}:breached", found["breached"]))
            row.append(rate_cell(f"enhanced:{key}:{RATE_COLUMN}", found[RATE_COLUMN]))
        table.rows.append(row)
    return table


def victims_table(data: ReportData) -> Table:
    table = Table("t-victims", "Victims Code compliant victims (Q1), by department",
                  [header("Department"), header("Victims (crime reported in the period)"), header("Compliant"),
                   header("Compliant share")])
    for _, row in data.victims.iterrows():
        key = str(row["department"])
        table.rows.append([
            row_header(department_label(key)),
            count_cell(f"victims:{key}:victims", row["victims"]),
            count_cell(f"victims:{key}:compliant", row["compliant"]),
            rate_cell(f"victims:{key}:victim_compliance_rate", row["victim_compliance_rate"]),
        ])
    return table


def teams_table(data: ReportData) -> Table:
    from vcpipeline.report.data import team_min_decided

    table = Table("t-teams", f"Teams with the lowest compliance (of teams with at least {team_min_decided()} "
                  "decided obligations)",
                  [header("Rank"), header("Team"), header("Compliance"), header("Breached"),
                   header("Met late"), header("Decided"), header("Due")])
    for rank, (_, row) in enumerate(data.teams.iterrows(), start=1):
        key = f"{row['department']}/{row['team']}"
        decided = int(decided_obligations(row["met_on_time"], row["met_late"], row["breached"]))
        table.rows.append([
            Cell(str(rank), numeric=True), row_header(team_label(str(row["department"]), str(row["team"]))),
            rate_cell(f"teams:{key}:{RATE_COLUMN}", row[RATE_COLUMN]),
            count_cell(f"teams:{key}:breached", row["breached"]),
            count_cell(f"teams:{key}:met_late", row["met_late"]),
            count_cell(f"teams:{key}:decided", decided),
            count_cell(f"teams:{key}:due", row["due"]),
        ])
    return table


LOAD_HEADERS: dict[str, str] = {
    "batches": "Batches", "failed": "Failed batches", "rows_extracted": "Rows extracted",
    "rows_loaded": "Rows loaded", "rows_quarantined": "Rows quarantined",
}


def loads_table(data: ReportData) -> Table:
    table = Table("t-loads", "Rows loaded and quarantined, by source system",
                  [header("Source system"), *(header(text) for text in LOAD_HEADERS.values())])
    for _, row in data.loads.iterrows():
        key = str(row["source_system"])
        table.rows.append([row_header(source_label(key)),
                           *(count_cell(f"loads:{key}:{name}", row[name]) for name in LOAD_HEADERS)])
    return table


def quarantine_table(data: ReportData) -> Table:
    table = Table("t-quarantine", "Quarantined rows by the check they failed",
                  [header("Source system"), header("Rows of"), header("What failed"), header("Rows")])
    for _, row in data.quarantine.iterrows():
        key = f"{row['source_system']}/{row['entity']}/{row['reason']}"
        table.rows.append([Cell(source_label(str(row["source_system"]))), Cell(entity_label(str(row["entity"]))),
                           row_header(str(row["what_failed"])), count_cell(f"quarantine:{key}:rows", row["rows"])])
    return table


def _bars(frame: pd.DataFrame, key: str, label=lambda v: v) -> list[tuple[str, float | None]]:
    return [(label(str(row[key])), None if _is_missing(row[RATE_COLUMN]) else float(row[RATE_COLUMN]))
            for _, row in frame.iterrows()]


def _enhanced_bars(data: ReportData) -> list[tuple[str, float | None]]:
    frame = data.enhanced.set_index(["service", "rule"])[RATE_COLUMN]
    return [(f"{rule_label(rule)}, {service}", None if _is_missing(frame.get((service, rule)))
             else float(frame.get((service, rule))))
            for rule in [ALL, *RULES] for service in SERVICES]


# --- the page ----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(loader=PackageLoader("vcpipeline.report", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def _instant_text(value: Any) -> str:
    if value is None:
        return "not yet evaluated"
    from vcpipeline.report.periods import LONDON

    return pd.Timestamp(value).tz_convert(LONDON).strftime("%d %B %Y %H:%M %Z")


def render_report(data: ReportData) -> str:
    """The report page for one period (see the module docstring)."""
    from vcpipeline.report.commentary import render_commentary
    from vcpipeline.report.data import team_min_decided

    overall = data.overall.iloc[0]
    force_victims = data.victims.set_index("department")
    key_figures = [
        ("Obligations due", count_cell("overall:ALL:due", overall["due"])),
        ("Compliance", rate_cell(f"overall:ALL:{RATE_COLUMN}", overall[RATE_COLUMN])),
        ("Breached", count_cell("overall:ALL:breached", overall["breached"])),
        ("Met late", count_cell("overall:ALL:met_late", overall["met_late"])),
        ("Pending", count_cell("overall:ALL:pending", overall["pending"])),
        ("Waived (victim opted out / plan changed)", count_cell("overall:ALL:waived", overall["waived"])),
        ("Met updates by the victim's agreed method", agreed_method.headline_cell(data)),
        ("Victims Code compliant victims (Q1)",
         rate_cell("victims:ALL:victim_compliance_rate",
                   force_victims["victim_compliance_rate"].get(ALL, math.nan))),
    ]
    context = {
        "data": data,
        "title": f"Victims Code compliance: {data.period.label}",
        "generated": _instant_text(pd.Timestamp(data.generated_at)),
        "evaluated": _instant_text(data.evaluated_as_of),
        "headline": key_figures,
        "how": {**HOW_MEASURED,
                "teams": HOW_MEASURED["teams"].format(min_decided=team_min_decided()),
                "owner_rule": HOW_MEASURED["owner_rule"].format(min_decided=owner_matrix.cell_min_decided())},
        "rule_chart": charts.bar_chart("c-rule", "Compliance by entitlement",
                                       _bars(data.by_rule, "rule", rule_label)),
        "rule_table": compliance_table("by_rule", data.by_rule, "rule", "Compliance by entitlement "
                                       "(Victims Code right / board-paper question)", "Entitlement", rule_label),
        "department_chart": charts.bar_chart("c-department", "Compliance by department",
                                             _bars(data.by_department, "department", department_label)),
        "department_table": compliance_table("by_department", data.by_department, "department",
                                             "Compliance by department (the crime's)", "Department",
                                             department_label),
        "owner_table": compliance_table("by_owner", data.by_owner, "owner", "Compliance by owner "
                                        "(the department that must meet the obligation)", "Owner",
                                        department_label),
        "agreed_method_chart": agreed_method.agreed_method_chart(data),
        "agreed_method_table": agreed_method.agreed_method_table(data),
        "victims_table": victims_table(data),
        "trend_charts": trend_charts(data),
        "trend_table": trend_table(data),
        "enhanced_chart": charts.bar_chart("c-enhanced", "Compliance, enhanced and standard victims",
                                           _enhanced_bars(data)),
        "enhanced_table": enhanced_table(data),
        "teams_table": teams_table(data),
        "survey_table": survey_section.survey_table(data),
        "headline_table": headline.headline_table(data),
        "why_differ": headline.WHY_THEY_DIFFER,
        "owner_rule_table": owner_matrix.owner_rule_table(data),
        "comparison_table": survey_section.comparison_table(data),
        "commentary": None if data.commentary is None else render_commentary(data.commentary),
        "as_of_iso": "" if data.evaluated_as_of is None else pd.Timestamp(data.evaluated_as_of).isoformat(),
        "loads_table": loads_table(data),
        "quarantine_table": quarantine_table(data),
    }
    return _environment().get_template("report.html.j2").render(**context)


def render_index(entries: Sequence[tuple[str, str]] | Iterable[tuple[str, str]], title: str) -> str:
    """A plain list page of reports: (href, label) pairs, newest first."""
    return _environment().get_template("index.html.j2").render(title=title, entries=list(entries))
