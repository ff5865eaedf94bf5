"""One period type: quarters and months in local dates, their UTC instants, and how each command may spell them."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from vcpipeline.periods import PeriodError, QuarterSpelling, month_of, parse_period, parse_quarter


def test_quarter_spans_its_three_months() -> None:
    period = parse_period("2026q1")
    assert period.name == "2026Q1" and period.kind == "quarter"
    assert period.months == ("2026-01", "2026-02", "2026-03")
    assert (period.first, period.after) == (date(2026, 1, 1), date(2026, 4, 1))


def test_month_is_one_month_in_its_quarter() -> None:
    period = parse_period("2026-03")
    assert period.months == ("2026-03",) and period.quarter == "2026Q1"
    assert period.after == date(2026, 4, 1)


def test_december_ends_at_the_new_year() -> None:
    assert parse_period("2025-12").after == date(2026, 1, 1)
    assert parse_period("2025Q4").after == date(2026, 1, 1)


def test_trend_is_the_twelve_months_ending_with_the_period() -> None:
    assert parse_period("2026Q1").trend_months() == tuple(
        [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"])
    assert parse_period("2026-01").trend_months()[0] == "2025-02"


def test_previous_period_is_of_the_same_kind() -> None:
    assert parse_period("2026Q1").previous.name == "2025Q4"
    assert parse_period("2026-01").previous.name == "2025-12"


@pytest.mark.parametrize("text", ["2026Q5", "2026-13", "2026", "Q1 2026", "2026-3-1", ""])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(PeriodError, match="2026Q1"):
        parse_period(text)


def test_a_month_is_named_by_any_of_its_dates() -> None:
    assert month_of(date(2026, 3, 31)).name == "2026-03"
    assert month_of(date(2026, 1, 1)).previous.name == "2025-12"


@pytest.mark.parametrize(("text", "compact", "spaced", "dashed"), [
    ("2026Q1", True, True, True),
    (" 2026q1\n", True, True, True),
    ("2026 Q1", False, True, True),
    ("2026-Q1", False, False, True),
    ("2026 - q1", False, False, True),
    ("2026--Q1", False, False, False),
    ("Q1 2026", False, False, False),
    ("26Q1", False, False, False),
    ("2026Q5", False, False, False),
    ("2026-01", False, False, False),
])
def test_each_command_keeps_its_own_spelling_of_a_quarter(text: str, compact: bool, spaced: bool,
                                                           dashed: bool) -> None:
    """The dip sample takes only `2026Q1`, a report also `2026 Q1`, `vcp generate` also `2026-Q1`."""
    def accepts(spelling: QuarterSpelling) -> bool:
        try:
            return parse_quarter(text, spelling=spelling).name == "2026Q1"
        except PeriodError:
            return False

    assert (accepts("compact"), accepts("spaced"), accepts("dashed")) == (compact, spaced, dashed)
    if spaced:  # a report period is spelled like a spaced quarter
        assert parse_period(text).name == "2026Q1"


def test_a_bad_quarter_names_what_it_got() -> None:
    with pytest.raises(PeriodError, match=r"^quarter must look like 2026Q1, got '2026Q5'$"):
        parse_quarter("2026Q5")


@pytest.mark.parametrize(("text", "start", "end"), [
    ("2026Q1", "2026-01-01T00:00:00Z", "2026-03-31T23:00:00Z"),   # BST starts 29 March
    ("2026-04", "2026-03-31T23:00:00Z", "2026-04-30T23:00:00Z"),
    ("2026Q4", "2026-09-30T23:00:00Z", "2027-01-01T00:00:00Z"),   # GMT again from 25 October
])
def test_bounds_are_the_local_midnights_in_utc(text: str, start: str, end: str) -> None:
    assert parse_period(text).bounds == (pd.Timestamp(start), pd.Timestamp(end))


def test_a_period_contains_its_local_dates_and_never_nat() -> None:
    days = np.array(["2025-12-31", "2026-01-01", "2026-03-31", "2026-04-01", "NaT"], dtype="datetime64[D]")
    assert parse_period("2026Q1").contains(days).tolist() == [False, True, True, False, False]
    assert parse_period("2026-03").contains(date(2026, 3, 31))
