"""Report periods: a quarter (`2026Q1`) or a month (`2026-03`), in Europe/London local dates.

A period is the set of obligations whose **local due date** falls in it (the summary tables'
"day"), so a month and the quarter containing it agree, and every obligation belongs to exactly
one month. The trend charts look back twelve months ending with the period's last month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
TREND_MONTHS = 12

_QUARTER = re.compile(r"^\s*(\d{4})\s*[Qq]([1-4])\s*$")
_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


class PeriodError(ValueError):
    """A period that is neither `YYYYQn` nor `YYYY-MM`."""


@dataclass(frozen=True)
class Period:
    """A reporting period: its canonical name and its months (`YYYY-MM`), first to last."""

    name: str
    kind: str  # "quarter" | "month"
    first: date  # first local date
    after: date  # first local date after the period

    @property
    def months(self) -> tuple[str, ...]:
        return tuple(_month_name(m) for m in range(_month_index(self.first), _month_index(self.after)))

    @property
    def last_month(self) -> str:
        return self.months[-1]

    @property
    def quarter(self) -> str:
        """The quarter the period is (or lies in): the dip sample's unit."""
        return f"{self.first.year}Q{(self.first.month - 1) // 3 + 1}"

    @property
    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        start = _month_index(self.first) - (3 if self.kind == "quarter" else 1)
        year, month = divmod(start, 12)
        return parse_period(f"{year}Q{month // 3 + 1}" if self.kind == "quarter" else f"{year}-{month + 1:02d}")

    def trend_months(self, count: int = TREND_MONTHS) -> tuple[str, ...]:
        """The `count` months ending with the period's last month, oldest first."""
        last = _month_index(self.after) - 1
        return tuple(_month_name(m) for m in range(last - count + 1, last + 1))

    @property
    def label(self) -> str:
        if self.kind == "quarter":
            return f"{self.name} ({self.first:%B %Y} to {_month_date(_month_index(self.after) - 1):%B %Y})"
        return f"{self.first:%B %Y}"


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_date(index: int) -> date:
    year, month = divmod(index, 12)
    return date(year, month + 1, 1)


def _month_name(index: int) -> str:
    return f"{_month_date(index):%Y-%m}"


def parse_period(text: str) -> Period:
    """`2026Q1` / `2026q1` → the quarter; `2026-03` → the month; anything else: PeriodError."""
    if match := _QUARTER.match(text):
        year, number = int(match.group(1)), int(match.group(2))
        first = date(year, 3 * number - 2, 1)
        return Period(f"{year}Q{number}", "quarter", first, _month_date(_month_index(first) + 3))
    if (match := _MONTH.match(text)) and 1 <= int(match.group(2)) <= 12:
        first = date(int(match.group(1)), int(match.group(2)), 1)
        return Period(f"{first:%Y-%m}", "month", first, _month_date(_month_index(first) + 1))
    raise PeriodError(f"period must be a quarter like 2026Q1 or a month like 2026-03, got {text!r}")


def local_date(as_of: datetime | date) -> date:
    """The Europe/London date of an instant (a plain date is taken as already local)."""
    if isinstance(as_of, datetime):
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise ValueError(f"naive datetime {as_of!r}: pass an instant or a local date")
        return as_of.astimezone(LONDON).date()
    return as_of


def periods_due(as_of: datetime | date) -> list[str]:
    """The periods whose report is due on `as_of`'s local date: on the 1st of a month the month
    just ended, and on the 1st of a quarter also the quarter just ended; otherwise none."""
    today = local_date(as_of)
    if today.day != 1:
        return []
    ended = parse_period(_month_name(_month_index(today) - 1))
    due = [ended.name]
    if today.month in (1, 4, 7, 10):
        due.append(ended.quarter)
    return due
