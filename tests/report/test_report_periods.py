"""Which reports fall due on a night (the periods themselves: tests/periods)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from vcpipeline import periods
from vcpipeline.report import periods as report_periods
from vcpipeline.report import periods_due


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


def test_the_report_uses_the_one_period_type() -> None:
    assert report_periods.Period is periods.Period and report_periods.parse_period is periods.parse_period
    assert report_periods.PeriodError is periods.PeriodError
