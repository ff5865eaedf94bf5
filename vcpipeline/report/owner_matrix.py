"""Department × entitlement, by owner: where the force lets victims down (pure, no I/O).

The board paper's key insight was a spread inside one entitlement: needs assessments at 33% when
response officers had spoken to the victim against 100% when Force Contact had. Department
totals hide it; this table shows every owner's compliance for every entitlement, with the counts
(met on time of decided), and marks the lowest cell of each entitlement among the owners with
enough decided obligations to be a figure (`min_decided`, so one breach of one is not "lowest").
"""

from __future__ import annotations

import pandas as pd

from vcpipeline import settings
from vcpipeline.report.cells import Cell, Table, header, row_header, share_cell
from vcpipeline.report.model import RATE_COLUMN, RULES, ReportData, department_label, rule_label
from vcpipeline.rules.summaries import decided_obligations

SECTION = "owner_rule"
DEFAULT_MIN_DECIDED = 10
LOWEST = "lowest"


def cell_min_decided() -> int:
    """Decided obligations a cell needs to be marked lowest (`VCP_REPORT_CELL_MIN_DECIDED`, default 10)."""
    return settings.positive_whole_number("VCP_REPORT_CELL_MIN_DECIDED", DEFAULT_MIN_DECIDED)


def with_lowest(frame: pd.DataFrame, min_decided: int) -> pd.DataFrame:
    """`frame` (owner, rule, counts, rate) with `decided` and `lowest`: the cell of each rule with
    the lowest rate among owners with at least `min_decided` decided obligations (all ties), when
    those owners' rates differ at all."""
    frame = frame.copy()
    frame["decided"] = decided_obligations(frame["met_on_time"], frame["met_late"], frame["breached"])
    eligible = frame[RATE_COLUMN].where(frame["decided"] >= min_decided)
    by_rule = eligible.groupby(frame["rule"])
    lowest, highest = by_rule.transform("min"), by_rule.transform("max")
    # Only where owners differ: when every owner is at 100% none of them is "lowest".
    frame[LOWEST] = eligible.notna() & (eligible == lowest) & (lowest < highest)
    return frame


def owner_rule_table(data: ReportData, min_decided: int | None = None) -> Table | None:
    """A row per owner, a column per entitlement owed in the period; each cell the rate with
    "met on time of decided" under it; the lowest of each column marked in words and colour."""
    if data.by_owner_and_rule is None or data.by_owner_and_rule.empty:
        return None
    frame = with_lowest(data.by_owner_and_rule, cell_min_decided() if min_decided is None else min_decided)
    owed = frame.groupby("rule")["due"].sum()
    rules = [rule for rule in [*RULES, *sorted(set(owed.index) - set(RULES))] if owed.get(rule, 0) > 0]
    cells = frame.set_index(["owner", "rule"])
    owners = sorted(set(frame["owner"].astype(str)), key=department_label)
    table = Table("t-owner-rule", "Compliance by owner and entitlement: met on time of decided "
                  "(lowest of each entitlement marked)",
                  [header("Owner"), *(header(rule_label(rule)) for rule in rules)])
    for owner in owners:
        row = [row_header(department_label(owner))]
        for rule in rules:
            found = cells.loc[(owner, rule)] if (owner, rule) in cells.index else None
            if found is None or found["decided"] == 0:
                cell = Cell("–", numeric=True)  # nothing decided: no figure, rather than 0 of 0
            else:
                cell = share_cell(f"{SECTION}:{owner}/{rule}", found[RATE_COLUMN], found["met_on_time"],
                                  found["decided"], (RATE_COLUMN, "met_on_time", "decided"))
                if bool(found[LOWEST]):
                    cell.css, cell.marker = LOWEST, "lowest"
            row.append(cell)
        table.rows.append(row)
    return table
