"""Quarter arithmetic for the sampling schedule: "the first working day of each quarter, at HH:MM".

Pure date logic, so it is tested without Airflow; `plugins/vcp_scheduling.py` wraps it in a
`Timetable`. Quarters are Europe/London calendar quarters; working days come from
`vcpipeline.calendar` (England & Wales bank holidays), imported lazily because the Airflow DAG
processor imports this module when it parses a DAG and must not pay for pandas there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def quarter_start(day: date) -> date:
    """The first day of the calendar quarter containing `day`."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def next_quarter_start(start: date) -> date:
    """The first day of the quarter after the one starting on (or containing) `start`."""
    first = quarter_start(start)
    return date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)


def previous_quarter_start(start: date) -> date:
    """The first day of the quarter before the one containing `start`."""
    return quarter_start(quarter_start(start) - timedelta(days=1))


def quarter_name(start: date) -> str:
    """`2026Q1` for the quarter containing `start` (the form `vcp sample --quarter` takes)."""
    return f"{start.year}Q{(start.month - 1) // 3 + 1}"


def first_working_day_on_or_after(day: date) -> date:
    """The first England & Wales working day on or after `day` (substitute bank holidays included)."""
    import numpy as np

    from vcpipeline.calendar import next_working_day

    before = np.array([day - timedelta(days=1)], dtype="datetime64[D]")
    return next_working_day(before)[0].astype(date)


@dataclass(frozen=True)
class QuarterRun:
    """One sampling run: the quarter just ended (the data interval) and when the run may start."""

    quarter_start: datetime  # local midnight starting the quarter just ended
    quarter_end: datetime  # local midnight starting the next quarter (exclusive)
    run_at: datetime  # the first working day of the next quarter, at the configured local time

    @property
    def quarter(self) -> str:
        return quarter_name(self.quarter_start.date())


def quarter_run(ended_quarter_start: date, at: time, tz: str) -> QuarterRun:
    """The run for the quarter starting on `ended_quarter_start`, all instants timezone-aware in `tz`."""
    zone = ZoneInfo(tz)
    start = quarter_start(ended_quarter_start)
    end = next_quarter_start(start)
    run_day = first_working_day_on_or_after(end)
    return QuarterRun(
        quarter_start=datetime.combine(start, time(0), tzinfo=zone),
        quarter_end=datetime.combine(end, time(0), tzinfo=zone),
        run_at=datetime.combine(run_day, at, tzinfo=zone),
    )


def first_quarter_run_from(earliest: datetime, at: time, tz: str) -> QuarterRun:
    """The first run whose quarter starts at or after `earliest` (the DAG's start date)."""
    local = earliest.astimezone(ZoneInfo(tz))
    start = quarter_start(local.date())
    if local != datetime.combine(start, time(0), tzinfo=local.tzinfo):
        start = next_quarter_start(start)
    return quarter_run(start, at, tz)


def latest_quarter_run_before(now: datetime, at: time, tz: str) -> QuarterRun:
    """The latest run whose quarter has ended by `now` (what catchup=False schedules first)."""
    local = now.astimezone(ZoneInfo(tz))
    return quarter_run(previous_quarter_start(local.date()), at, tz)
