"""The report's "Updates by the victim's agreed method" section (pure, no I/O).

The board paper's primary concern, victims who asked for a phone call getting e-mails, as a
figure: of the met obligations that keep the victim informed and had an agreed method of contact
to compare (`channel_as_agreed` not empty, RULES.md v2), the share met by that method, per crime
department and month of the local due date, with the counts it is made of ("n of N").
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from vcpipeline.report import charts
from vcpipeline.report.cells import Cell, Table, header, is_missing, row_header, share_cell
from vcpipeline.report.model import AGREED_RATE, ALL, ReportData, department_label

SECTION = "agreed_method"
FIGURES: tuple[str, str, str] = (AGREED_RATE, "agreed_method_kept", "agreed_method_compared")

HOW_MEASURED = (
    "Obligations that keep the victim informed (investigation updates, the outcome, VPS feedback, "
    "agreed updates) that were met, on time or late, while an agreement naming a method of contact "
    "was in force: the share met by that method (n of N). Met without an agreed method, not met, or "
    "waived: not counted. By the crime's department and the month of the local due date."
)


def _month_label(month: str) -> str:
    return "Whole period" if month == ALL else pd.Timestamp(f"{month}-01").strftime("%B %Y")


def columns_shown(data: ReportData) -> list[str]:
    """The period's months, and the whole period when it has more than one."""
    months = list(data.period.months)
    return [*months, ALL] if len(months) > 1 else months


def _share(rows: dict, month: str, department: str) -> Cell:
    found = rows[(month, department)]
    return share_cell(f"{SECTION}:{month}/{department}", found[AGREED_RATE], found["agreed_method_kept"],
                      found["agreed_method_compared"], FIGURES)


def agreed_method_table(data: ReportData) -> Table:
    """A row per crime department (and all of them), a column per month (and the whole period)."""
    months = columns_shown(data)
    table = Table("t-agreed-method", "Met updates by the victim's agreed method of contact, by department "
                  "and month: share (met by the agreed method of those with one agreed)",
                  [header("Department"), *(header(_month_label(month)) for month in months)])
    rows = data.agreed_method.set_index(["month", "department"]).to_dict("index")
    departments = [d for d in dict.fromkeys(data.agreed_method["department"].astype(str)) if d != ALL]
    for department in [*departments, ALL]:
        table.rows.append([row_header(department_label(department)),
                           *(_share(rows, month, department) for month in months)])
    return table


def agreed_method_chart(data: ReportData) -> Any:
    """The whole period's share per department, all departments first."""
    period = data.agreed_method[data.agreed_method["month"] == ALL]
    ordered = pd.concat([period[period["department"] == ALL], period[period["department"] != ALL]])
    bars = [(department_label(str(row["department"])),
             None if is_missing(row[AGREED_RATE]) else float(row[AGREED_RATE]))
            for _, row in ordered.iterrows()]
    return charts.bar_chart("c-agreed-method", "Met updates by the victim's agreed method, by department",
                            bars, missing="no agreed method to compare")


def headline_cell(data: ReportData) -> Cell:
    """The force's share for the whole period, with its n of N."""
    rows = data.agreed_method.set_index(["month", "department"]).to_dict("index")
    return _share(rows, ALL, ALL)
