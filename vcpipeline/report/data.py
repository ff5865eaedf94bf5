"""Read a period's figures from the warehouse: one query per section, from the summary tables.

The compliance sections sum the rows of `compliance_quarterly` (a quarter) or
`compliance_monthly` (a month, and the twelve months of the trend) and recompute the rate from
the summed counts (rates do not add up), by the crime's `department` or by the obligation's
`owner`; the updates by the victim's agreed method sum the same tables' `agreed_method_*` counts
per month and department. Victims come from `victim_compliance` (periods of the
crime report), the teams from `obligations` joined to `crimes.team` (the summaries have no
team), data quality from `load_batches` and `quarantine`, the survey from `survey_results`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline import settings
from vcpipeline.calendar import start_of_local_day
from vcpipeline.report.attrition_read import read_attrition
from vcpipeline.report.breakdowns import breakdown_section, read_victim_groups
from vcpipeline.report.model import (
    AGREED_COLUMNS,
    ALL,
    COUNT_COLUMNS,
    RATE_COLUMN,
    RULES,
    ReportData,
    with_agreed_rate,
    with_rate,
)
from vcpipeline.report.periods import Period
from vcpipeline.report.wording import check_words
from vcpipeline.rules.summaries import decided_obligations, victim_compliance_rate
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import (
    compliance_monthly,
    compliance_quarterly,
    crimes,
    load_batches,
    obligation_runs,
    obligations,
    quarantine,
    victim_compliance,
)

TOP_TEAMS = 10
DEFAULT_TEAM_MIN_DECIDED = 30
NO_TEAM = "(no team recorded)"


def _sums(table: sa.Table) -> list[Any]:
    return [sa.func.coalesce(sa.func.sum(table.c[name]), 0).label(name) for name in COUNT_COLUMNS]


def _period_filter(table: sa.Table, period: Period) -> Any:
    if table is compliance_quarterly:
        return table.c.due_quarter == period.name
    return table.c.due_month.in_(period.months)


def _summary_table(period: Period) -> sa.Table:
    return compliance_quarterly if period.kind == "quarter" else compliance_monthly


def _grouped(conn: sa.Connection, period: Period, *keys: str) -> pd.DataFrame:
    """The period's counts summed by `keys` over its summary table, with the rate."""
    table = _summary_table(period)
    query = (sa.select(*(table.c[key] for key in keys), *_sums(table))
             .where(_period_filter(table, period)))
    if keys:
        query = query.group_by(*(table.c[key] for key in keys)).order_by(*(table.c[key] for key in keys))
    frame = read_frame(conn, query)
    if frame.empty and not keys:
        frame = pd.DataFrame({name: [0] for name in COUNT_COLUMNS})
    return with_rate(frame)


def _in_rule_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Every rule in the board paper's order, zero rows for those that owed nothing."""
    present = frame.set_index("rule")
    order = [*RULES, *sorted(set(present.index) - set(RULES))]
    filled = present.reindex(order)
    filled[list(COUNT_COLUMNS)] = filled[list(COUNT_COLUMNS)].fillna(0)
    return with_rate(filled.rename_axis("rule").reset_index())


def read_overall(conn: sa.Connection, period: Period) -> pd.DataFrame:
    return _grouped(conn, period)


def read_by_rule(conn: sa.Connection, period: Period) -> pd.DataFrame:
    return _in_rule_order(_grouped(conn, period, "rule"))


def read_by_department(conn: sa.Connection, period: Period) -> pd.DataFrame:
    return _grouped(conn, period, "department")


def read_by_owner(conn: sa.Connection, period: Period) -> pd.DataFrame:
    """By owner: the department that must meet each obligation (the crime's, or witness care
    after charge for the rules the rule set hands over, RULES.md v2)."""
    return _grouped(conn, period, "owner")


def read_agreed_method(conn: sa.Connection, period: Period) -> pd.DataFrame:
    """Updates by the victim's agreed method per month of the period and crime department, with
    ALL rows (every department; the whole period): every department seen in the period gets a row
    in every month (0 of 0 where it had nothing to compare)."""
    table = compliance_monthly
    sums = [sa.func.coalesce(sa.func.sum(table.c[name]), 0).label(name) for name in AGREED_COLUMNS]
    frame = read_frame(conn, sa.select(table.c.due_month.label("month"), table.c.department, *sums)
                       .where(table.c.due_month.in_(period.months))
                       .group_by(table.c.due_month, table.c.department))
    frame = frame.astype({"month": "str", "department": "str", **dict.fromkeys(AGREED_COLUMNS, "int64")})
    departments = [*sorted(set(frame["department"])), ALL]
    with_all = pd.concat([frame, frame.groupby("month", as_index=False)[list(AGREED_COLUMNS)].sum()
                          .assign(department=ALL)], ignore_index=True)
    with_all = pd.concat([with_all, with_all.groupby("department", as_index=False)[list(AGREED_COLUMNS)].sum()
                          .assign(month=ALL)], ignore_index=True)
    grid = pd.MultiIndex.from_product([[*period.months, ALL], departments], names=["month", "department"])
    full = with_all.set_index(["month", "department"]).reindex(grid).reset_index()
    return with_agreed_rate(full)


def read_enhanced(conn: sa.Connection, period: Period) -> pd.DataFrame:
    """By service level and rule, with an ALL-rules row per service level."""
    frame = _grouped(conn, period, "enhanced", "rule")
    frame["service"] = np.where(frame["enhanced"].astype("boolean").fillna(False), "enhanced", "standard")
    totals = frame.groupby("service", as_index=False)[list(COUNT_COLUMNS)].sum().assign(rule=ALL)
    both = pd.concat([frame[["service", "rule", *COUNT_COLUMNS]], totals], ignore_index=True)
    return with_rate(both)


def read_trend(conn: sa.Connection, period: Period) -> pd.DataFrame:
    """Month by rule over the twelve months ending with the period, with an ALL-rules row per month."""
    months = list(period.trend_months())
    table = compliance_monthly
    frame = read_frame(conn, sa.select(table.c.due_month.label("month"), table.c.rule, *_sums(table))
                       .where(table.c.due_month.in_(months))
                       .group_by(table.c.due_month, table.c.rule)
                       .order_by(table.c.due_month, table.c.rule))
    frame = frame.astype({"month": "str", "rule": "str"})
    totals = frame.groupby("month", as_index=False)[list(COUNT_COLUMNS)].sum().assign(rule=ALL)
    return with_rate(pd.concat([frame, totals], ignore_index=True))


def read_victims(conn: sa.Connection, period: Period) -> pd.DataFrame:
    """Victims of crimes reported in the period, compliant (Q1) or not, by department and ALL."""
    table = victim_compliance
    column = table.c.report_quarter if period.kind == "quarter" else table.c.report_month
    compliant = sa.func.sum(sa.case((table.c.compliant, 1), else_=0))
    frame = read_frame(conn, sa.select(table.c.department, sa.func.count().label("victims"),
                                       sa.func.coalesce(compliant, 0).label("compliant"))
                       .where(column == period.name)
                       .group_by(table.c.department).order_by(table.c.department))
    frame = frame.astype({"department": "str", "victims": "int64", "compliant": "int64"})
    total = pd.DataFrame({"department": [ALL], "victims": [int(frame["victims"].sum())],
                          "compliant": [int(frame["compliant"].sum())]})
    frame = pd.concat([frame, total], ignore_index=True)
    frame["victim_compliance_rate"] = victim_compliance_rate(frame["compliant"], frame["victims"])
    return frame


def due_at_bounds(period: Period) -> tuple[datetime, datetime]:
    """(low, high] of `due_at` for the period's local due dates: `due_at` is the first instant
    after the due date, i.e. the local midnight that ends it."""
    low, high = start_of_local_day(np.array([period.first, period.after], dtype="datetime64[D]"))
    return low.to_pydatetime(), high.to_pydatetime()


def read_teams(conn: sa.Connection, period: Period, top: int = TOP_TEAMS,
               min_decided: int | None = None) -> pd.DataFrame:
    """The `top` teams with the lowest compliance among those with at least `min_decided`
    decided obligations due in the period (`team_min_decided()` by default), by the crime's
    owning team (obligations × crimes.team: the summaries have no team).

    Ranked by rate, not by the number of breaches: a count ranks the largest teams first
    whatever their record. Ties go to the team with more breaches, then by name. The counts
    stay beside the rate, so a small team's figure reads as the few obligations it is.
    """
    minimum = team_min_decided() if min_decided is None else min_decided
    low, high = due_at_bounds(period)
    in_period = sa.and_(obligations.c.due_at > low, obligations.c.due_at <= high)
    team = sa.func.coalesce(crimes.c.team, NO_TEAM).label("team")
    status = obligations.c.status
    counted = read_frame(conn, sa.select(
        obligations.c.department, team, sa.func.count().label("due"),
        *(sa.func.sum(sa.case((status == code, 1), else_=0)).label(name)
          for name, code in (("met_on_time", "MET"), ("met_late", "MET_LATE"),
                             ("breached", "BREACHED"), ("pending", "PENDING"), ("waived", "WAIVED"))))
        .select_from(obligations.outerjoin(crimes, crimes.c.crime_ref == obligations.c.crime_ref))
        .where(in_period)
        .group_by(obligations.c.department, team))
    columns = ["department", "team", *COUNT_COLUMNS]
    if counted.empty:
        return with_rate(pd.DataFrame({name: pd.Series([], dtype="str" if name in ("department", "team")
                                                        else "int64") for name in columns}))
    counted = with_rate(counted.astype({"department": "str", "team": "str"})[columns])
    decided = decided_obligations(counted["met_on_time"], counted["met_late"], counted["breached"])
    eligible = counted[(decided >= minimum) & (counted["team"] != NO_TEAM)]
    ranked = eligible.sort_values([RATE_COLUMN, "breached", "department", "team"],
                                  ascending=[True, False, True, True], ignore_index=True)
    return ranked.head(top)


def team_min_decided() -> int:
    """The fewest decided obligations a team needs to be ranked (`VCP_REPORT_TEAM_MIN_DECIDED`,
    default 30): below it one breach swings the rate by several points."""
    return settings.positive_whole_number("VCP_REPORT_TEAM_MIN_DECIDED", DEFAULT_TEAM_MIN_DECIDED)


def read_by_owner_and_rule(conn: sa.Connection, period: Period) -> pd.DataFrame:
    """Owner × entitlement (RULES.md v2: compliance by department counts obligations by owner):
    where the paper's 33% (response officers) vs 100% (Force Contact) needs assessment shows."""
    return _grouped(conn, period, "owner", "rule")


def _batch_window(period: Period) -> Any:
    low, high = start_of_local_day(np.array([period.first, period.after], dtype="datetime64[D]"))
    return sa.and_(load_batches.c.interval_start >= low.to_pydatetime(),
                   load_batches.c.interval_start < high.to_pydatetime())


def read_loads(conn: sa.Connection, period: Period) -> pd.DataFrame:
    """Load batches that started in the period, by source system."""
    table = load_batches
    query = (sa.select(table.c.source_system, sa.func.count().label("batches"),
                       sa.func.sum(sa.case((table.c.status == "failed", 1), else_=0)).label("failed"),
                       *(sa.func.coalesce(sa.func.sum(table.c[name]), 0).label(name)
                         for name in ("rows_extracted", "rows_loaded", "rows_quarantined")))
             .where(_batch_window(period))
             .group_by(table.c.source_system).order_by(table.c.source_system))
    frame = read_frame(conn, query)
    numbers = ["batches", "failed", "rows_extracted", "rows_loaded", "rows_quarantined"]
    if frame.empty:
        return pd.DataFrame({"source_system": pd.Series([], dtype="str"),
                             **{name: pd.Series([], dtype="int64") for name in numbers}})
    return frame.astype({"source_system": "str", **dict.fromkeys(numbers, "int64")})


def read_quarantine(conn: sa.Connection, period: Period) -> pd.DataFrame:
    """Quarantined rows of the period's batches by source, entity and failed expectation, with
    what failed in plain words (`what_failed`)."""
    query = (sa.select(quarantine.c.source_system, quarantine.c.entity, quarantine.c.reasons,
                       sa.func.count().label("rows"))
             .select_from(quarantine.join(load_batches, load_batches.c.batch_id == quarantine.c.batch_id))
             .where(_batch_window(period))
             .group_by(quarantine.c.source_system, quarantine.c.entity, quarantine.c.reasons))
    frame = read_frame(conn, query)
    columns = ["source_system", "entity", "reason", "rows"]
    if frame.empty:
        return pd.DataFrame({name: pd.Series([], dtype="int64" if name == "rows" else "str")
                             for name in [*columns, "what_failed"]})
    frame = frame.astype({"source_system": "str", "entity": "str", "reasons": "str", "rows": "int64"})
    frame["reason"] = frame["reasons"].str.split(";")
    exploded = frame.explode("reason")
    exploded["reason"] = exploded["reason"].str.strip()
    exploded = exploded[exploded["reason"] != ""]
    grouped = exploded.groupby(["source_system", "entity", "reason"], as_index=False)["rows"].sum()
    grouped = grouped.sort_values(["rows", "source_system", "entity", "reason"],
                                  ascending=[False, True, True, True], ignore_index=True)[columns]
    return grouped.assign(what_failed=grouped["reason"].map(check_words))


def read_evaluated_as_of(conn: sa.Connection) -> datetime | None:
    """The instant the obligations were last evaluated as of (max keeps the column's UTC type)."""
    return conn.execute(sa.select(sa.func.max(obligation_runs.c.as_of))).scalar()


def read_survey(conn: sa.Connection, period: Period) -> pd.DataFrame | None:
    from vcpipeline.sampling.results import read_survey_results

    results = read_survey_results(conn, period.quarter)
    return None if results.empty else results


def read_report_data(conn: sa.Connection, period: Period, generated_at: datetime | None = None,
                     data_docs_href: str = "../data_docs/index.html") -> ReportData:
    """Every section of the period's report, read in one transaction (a consistent snapshot)."""
    return ReportData(
        period=period,
        generated_at=generated_at or datetime.now(UTC),
        evaluated_as_of=read_evaluated_as_of(conn),
        overall=read_overall(conn, period),
        previous_overall=read_overall(conn, period.previous),
        previous_victims=read_victims(conn, period.previous),
        by_owner_and_rule=read_by_owner_and_rule(conn, period),
        by_rule=read_by_rule(conn, period),
        by_department=read_by_department(conn, period),
        by_owner=read_by_owner(conn, period),
        agreed_method=read_agreed_method(conn, period),
        trend=read_trend(conn, period),
        enhanced=read_enhanced(conn, period),
        victims=read_victims(conn, period),
        teams=read_teams(conn, period),
        survey=read_survey(conn, period),
        survey_quarter=period.quarter,
        loads=read_loads(conn, period),
        quarantine=read_quarantine(conn, period),
        data_docs_href=data_docs_href,
        extra_sections=(breakdown_section(read_victim_groups(conn, period), period),
                        read_attrition(conn, period)),
    )

