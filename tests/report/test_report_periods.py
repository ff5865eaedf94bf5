"""Report periods: quarters and months in local dates, and which reports fall due on a night."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from vcpipeline.report import periods_due
from vcpipeline.report.periods import PeriodError, parse_period


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


def test_on_the_first_of_a_quarter_the_month_and_the_quarter_just_ended_are_due() -> None:
    assert periods_due(date(2026, 4, 1)) == ["2026-03", "2026Q1"]
    assert periods_due(date(2026, 1, 1)) == ["2025-12", "2025Q4"]


def test_on_the_first_of_another_month_only_the_month_is_due() -> None:
    assert periods_due(date(2026, 5, 1)) == ["2026-04"]


def test_on_other_days_nothing_is_due() -> None:
    assert periods_due(date(2026, 4, 2)) == []
    assert periods_due(date(2026, 3, 31)) == []


def test_an_instant_counts_by_its_local_date() -> None:
    # 23:30 UTC on 31 March 2026 is 00:30 BST on 1 April: the quarter has ended locally.
    assert periods_due(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == ["2026-03", "2026Q1"]
    # 00:30 UTC on 1 April is still 1 April locally; 23:30 UTC on 1 April is 2 April.
    assert periods_due(datetime(2026, 4, 1, 23, 30, tzinfo=UTC)) == []
    assert periods_due(datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))) == []  # 23:30 UTC 31 Dec


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        periods_due(datetime(2026, 4, 1, 2, 0))
