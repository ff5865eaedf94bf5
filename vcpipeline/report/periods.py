"""Which reports fall due on a night; the periods themselves are `vcpipeline.periods`.

A report covers the obligations whose **local due date** falls in its period (the summary
tables' "day"). The period type is re-exported here for the report's modules and plugin.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from vcpipeline import calendar
from vcpipeline.instants import utc_instant
from vcpipeline.periods import TREND_MONTHS, Period, PeriodError, month_of, parse_period

__all__ = ["LONDON", "TREND_MONTHS", "Period", "PeriodError", "local_date", "parse_period", "periods_due"]

LONDON = ZoneInfo(calendar.LONDON)


def local_date(as_of: datetime | date) -> date:
    """The Europe/London date of an instant (a plain date is taken as already local)."""
    if isinstance(as_of, datetime):
        return utc_instant(as_of, "as_of").astimezone(LONDON).date()
    return as_of


def periods_due(as_of: datetime | date) -> list[str]:
    """The periods whose report is due on `as_of`'s local date: on the 1st of a month the month
    just ended, and on the 1st of a quarter also the quarter just ended; otherwise none."""
    today = local_date(as_of)
    if today.day != 1:
        return []
    ended = month_of(today).previous
    due = [ended.name]
    if today.month in (1, 4, 7, 10):
        due.append(ended.quarter)
    return due
