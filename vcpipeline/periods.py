"""Quarters (`2026Q1`) and months (`2026-03`): the periods the dip sample, the reports and the
synthetic force count in, as Europe/London local dates.

A period is the run of local dates [first, after), so a month and the quarter containing it
agree and every local date belongs to exactly one month. Its UTC instants are the local
midnights that start `first` and `after` (`calendar.start_of_local_day`).

One grammar names a quarter: four digits, the letter Q (either case), 1-4, with blanks around
the name ignored. What may stand between the year and the Q is each command's promise, kept
here in one place: nothing for the dip sample's id (CONTRACT.md `vcp sample --quarter 2026Q1`),
blanks for a report period (`2026 Q1`), blanks and a dash for `vcp generate --quarter 2026-Q3`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from vcpipeline.calendar import start_of_local_day

TREND_MONTHS = 12

QuarterSpelling = Literal["compact", "spaced", "dashed"]
_QUARTER_SEPARATOR: dict[str, str] = {"compact": "", "spaced": r"\s*", "dashed": r"\s*-?\s*"}
_QUARTER: dict[str, re.Pattern[str]] = {
    spelling: re.compile(rf"(\d{{4}}){separator}[Qq]([1-4])") for spelling, separator in _QUARTER_SEPARATOR.items()
}
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")


class PeriodError(ValueError):
    """A name that is not a period of the kind asked for."""


@dataclass(frozen=True)
class Period:
    """A quarter or a month: its canonical name and its local dates [first, after)."""

    name: str
    kind: str  # "quarter" | "month"
    first: date  # first local date
    after: date  # first local date after the period

    @property
    def months(self) -> tuple[str, ...]:
        """Its months (`YYYY-MM`), first to last."""
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

    @property
    def bounds(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """[start, end) in UTC: the local midnights that begin `first` and `after`."""
        start, end = start_of_local_day(np.array([self.first, self.after], dtype="datetime64[D]"))
        return start, end

    def contains(self, days: date | np.ndarray) -> np.ndarray:
        """Whether each local date (a date or a datetime64[D] array) falls in the period; NaT never does."""
        days = np.asarray(days, dtype="datetime64[D]")
        return (days >= np.datetime64(self.first, "D")) & (days < np.datetime64(self.after, "D"))


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_date(index: int) -> date:
    year, month = divmod(index, 12)
    return date(year, month + 1, 1)


def _month_name(index: int) -> str:
    return f"{_month_date(index):%Y-%m}"


def _quarter(year: int, number: int) -> Period:
    first = date(year, 3 * number - 2, 1)
    return Period(f"{year}Q{number}", "quarter", first, _month_date(_month_index(first) + 3))


def parse_quarter(text: str, *, spelling: QuarterSpelling = "compact") -> Period:
    """`2026Q1` / `2026q1` → the quarter (`spelling` allows `2026 Q1` or `2026-Q1` too); else PeriodError."""
    if match := _QUARTER[spelling].fullmatch(text.strip()):
        return _quarter(int(match.group(1)), int(match.group(2)))
    raise PeriodError(f"quarter must look like 2026Q1, got {text!r}")


def parse_period(text: str) -> Period:
    """`2026Q1` / `2026q1` / `2026 Q1` → the quarter; `2026-03` → the month; anything else: PeriodError."""
    stripped = text.strip()
    if match := _QUARTER["spaced"].fullmatch(stripped):
        return _quarter(int(match.group(1)), int(match.group(2)))
    if (match := _MONTH.fullmatch(stripped)) and 1 <= int(match.group(2)) <= 12:
        first = date(int(match.group(1)), int(match.group(2)), 1)
        return Period(f"{first:%Y-%m}", "month", first, _month_date(_month_index(first) + 1))
    raise PeriodError(f"period must be a quarter like 2026Q1 or a month like 2026-03, got {text!r}")


def month_of(day: date) -> Period:
    """The month a local date lies in."""
    return parse_period(f"{day:%Y-%m}")
