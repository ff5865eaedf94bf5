"""England & Wales working days and the Victims Code's due-date arithmetic.

Deadlines are counted on Europe/London local dates (RULES.md "Units and clocks").
Every function takes and returns numpy/pandas arrays so the rule engine never
loops over rows; the bank-holiday table is built once per span of years.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from vcpipeline.instants import LONDON as LONDON  # re-exported: its one spelling is there

DeadlineUnit = Literal["working_days", "calendar_days"]
_DAY = np.timedelta64(1, "D")


@lru_cache(maxsize=8)
def _bank_holidays(first_year: int, last_year: int) -> np.ndarray:
    import holidays  # imported here: building the table is the only use

    table = holidays.country_holidays("GB", subdiv="ENG", years=range(first_year, last_year + 1))
    return np.array(sorted(table), dtype="datetime64[D]")


def bank_holidays(first_year: int, last_year: int) -> np.ndarray:
    """England & Wales bank holidays (substitute days included) in the years, inclusive."""
    return _bank_holidays(first_year, last_year)


def _years_spanned(dates: np.ndarray, reach_days: int) -> tuple[int, int]:
    """The years a computation over `dates` can touch, reaching `reach_days` either way."""
    valid = dates[~np.isnat(dates)]
    if valid.size == 0:
        return 2000, 2000
    lo = (valid.min() - reach_days * _DAY).astype("datetime64[Y]").astype(int) + 1970
    hi = (valid.max() + reach_days * _DAY).astype("datetime64[Y]").astype(int) + 1970
    return int(lo), int(hi)


@lru_cache(maxsize=8)
def _busdaycalendar(first_year: int, last_year: int) -> np.busdaycalendar:
    return np.busdaycalendar(weekmask="1111100", holidays=_bank_holidays(first_year, last_year))


def _calendar_for(dates: np.ndarray, reach_days: int) -> np.busdaycalendar:
    # Round the span out to whole decades so successive calls share one cached calendar.
    lo, hi = _years_spanned(dates, reach_days)
    return _busdaycalendar(lo - lo % 10, hi - hi % 10 + 9)


def _as_days(dates: np.ndarray | pd.Series | pd.Index) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[D]")


def local_dates(instants: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """The Europe/London calendar date on which each UTC instant fell (NaT stays NaT)."""
    index = pd.DatetimeIndex(instants)
    if index.tz is None:
        raise ValueError("local_dates needs timezone-aware instants")
    return index.tz_convert(LONDON).tz_localize(None).to_numpy().astype("datetime64[D]")


def start_of_local_day(dates: np.ndarray) -> pd.DatetimeIndex:
    """The UTC instant at which each Europe/London local date begins.

    UK clocks change at 01:00 UTC, so local midnight always exists and is never ambiguous.
    """
    naive = pd.DatetimeIndex(_as_days(dates).astype("datetime64[ns]"))
    return naive.tz_localize(LONDON).tz_convert("UTC")


def is_working_day(dates: np.ndarray) -> np.ndarray:
    """True where the local date is a Monday–Friday that is not a bank holiday."""
    days = _as_days(dates)
    result = np.zeros(days.shape, dtype=bool)
    ok = ~np.isnat(days)
    result[ok] = np.is_busday(days[ok], busdaycal=_calendar_for(days, 0))
    return result


def add_working_days(dates: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """The n-th working day after each date; the date itself is day 0 whatever kind of day it is.

    `roll="backward"` makes a weekend or holiday count from the working day before it,
    so Saturday + 1 is Monday and Thursday 2 April 2026 + 1 is Tuesday 7 April.
    """
    days = _as_days(dates)
    steps = np.broadcast_to(np.asarray(n, dtype=np.int64), days.shape)
    result = np.full(days.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    ok = ~np.isnat(days)
    if ok.any():
        reach = int(np.abs(steps[ok]).max()) * 2 + 14
        cal = _calendar_for(days[ok], reach)
        result[ok] = np.busday_offset(days[ok], steps[ok], roll="backward", busdaycal=cal)
    return result


def add_calendar_days(dates: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """d + n days."""
    return _as_days(dates) + np.asarray(n, dtype=np.int64) * _DAY


def due_dates(trigger_dates: np.ndarray, n: np.ndarray | int, unit: DeadlineUnit | np.ndarray) -> np.ndarray:
    """The last local date on which an obligation triggered on each date is met on time.

    `unit` is one unit for all rows or an array of units, one per row.
    """
    days = _as_days(trigger_dates)
    steps = np.broadcast_to(np.asarray(n, dtype=np.int64), days.shape)
    units = np.broadcast_to(np.asarray(unit), days.shape)
    working = units == "working_days"
    unknown = ~working & (units != "calendar_days")
    if unknown.any():
        raise ValueError(f"unknown deadline unit(s): {sorted(set(units[unknown].tolist()))}")
    result = add_calendar_days(days, steps)
    if working.any():
        result[working] = add_working_days(days[working], steps[working])
    return result


def due_instants(trigger_instants: pd.Series | pd.DatetimeIndex, n: np.ndarray | int,
                 unit: DeadlineUnit | np.ndarray) -> pd.DatetimeIndex:
    """`due_at`: the first instant after the due date, i.e. local midnight starting the next day."""
    return start_of_local_day(due_dates(local_dates(trigger_instants), n, unit) + _DAY)


def next_working_day(dates: np.ndarray) -> np.ndarray:
    """The first working day strictly after each date (used for the AT_RISK window)."""
    return add_working_days(dates, 1)
