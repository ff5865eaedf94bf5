"""The working-day calendar: GOV.UK's bank holidays and the due-date arithmetic of RULES.md."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from govuk_bank_holidays.bank_holidays import BankHolidays

from vcpipeline.calendar import (
    add_calendar_days,
    add_working_days,
    bank_holidays,
    due_dates,
    due_instants,
    is_working_day,
    local_dates,
    next_working_day,
    start_of_local_day,
)


def days(*values: str) -> np.ndarray:
    return np.array(values, dtype="datetime64[D]")


def utc(*values: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(list(values), utc=True))


@pytest.fixture(scope="module")
def govuk_dates() -> np.ndarray:
    # The package's bundled copy of GOV.UK's JSON: no network.
    listing = BankHolidays(use_cached_holidays=True).get_holidays(
        division=BankHolidays.ENGLAND_AND_WALES
    )
    return np.array(sorted(h["date"] for h in listing), dtype="datetime64[D]")


def test_bank_holidays_match_govuk_in_every_year_it_covers(govuk_dates):
    first, last = govuk_dates.min().item().year, govuk_dates.max().item().year
    ours = bank_holidays(first, last)
    # `holidays` also lists the weekend date a substitute day replaces; GOV.UK lists only the
    # substitute. Those weekend dates are not working days either way, so they change nothing.
    on_weekdays = ours[np.is_busday(ours, weekmask="1111100")]
    assert list(on_weekdays) == list(govuk_dates)
    assert set(ours.tolist()) >= set(govuk_dates.tolist())


def test_every_govuk_bank_holiday_is_not_a_working_day(govuk_dates):
    assert not is_working_day(govuk_dates).any()


def test_one_off_holidays_are_included():
    holidays = set(bank_holidays(2022, 2023).tolist())
    jubilee, funeral, coronation = days("2022-06-03", "2022-09-19", "2023-05-08").tolist()
    assert {jubilee, funeral, coronation} <= holidays


def test_saturday_plus_one_working_day_is_monday():
    assert add_working_days(days("2026-03-07"), 1)[0] == np.datetime64("2026-03-09")


def test_thursday_before_easter_plus_one_working_day_is_tuesday():
    assert add_working_days(days("2026-04-02"), 1)[0] == np.datetime64("2026-04-07")


def test_good_friday_counts_from_the_working_day_before_it():
    assert add_working_days(days("2026-04-03"), 1)[0] == np.datetime64("2026-04-07")


def test_trigger_date_is_day_zero_even_when_it_is_a_working_day():
    assert add_working_days(days("2026-03-02"), 5)[0] == np.datetime64("2026-03-09")


def test_working_days_cross_christmas_and_new_year_substitute_days():
    # 2022: Christmas Day substitute Tue 27 Dec; 2023: New Year's Day substitute Mon 2 Jan.
    assert add_working_days(days("2022-12-23"), 1)[0] == np.datetime64("2022-12-28")
    assert add_working_days(days("2022-12-30"), 1)[0] == np.datetime64("2023-01-03")


def test_working_days_are_vectorised_over_mixed_steps():
    result = add_working_days(days("2026-03-07", "2026-04-02", "NaT"), np.array([1, 5, 3]))
    assert result[0] == np.datetime64("2026-03-09")
    assert result[1] == np.datetime64("2026-04-13")
    assert np.isnat(result[2])


def test_calendar_days_ignore_weekends():
    assert add_calendar_days(days("2020-03-06"), 2)[0] == np.datetime64("2020-03-08")


def test_unknown_deadline_unit_is_an_error():
    with pytest.raises(ValueError, match="unknown deadline unit"):
        due_dates(days("2026-03-02"), 2, "fortnights")


def test_late_evening_utc_falls_on_the_next_local_date_in_summer():
    assert local_dates(utc("2026-06-04T23:30:00Z"))[0] == np.datetime64("2026-06-05")


def test_late_evening_utc_stays_on_its_date_in_winter():
    assert local_dates(utc("2026-01-04T23:30:00Z"))[0] == np.datetime64("2026-01-04")


def test_local_dates_refuse_naive_instants():
    with pytest.raises(ValueError, match="timezone-aware"):
        local_dates(pd.DatetimeIndex(["2026-01-04T23:30:00"]))


def test_local_midnight_is_an_hour_before_utc_midnight_in_summer():
    assert start_of_local_day(days("2026-04-09"))[0] == pd.Timestamp("2026-04-08T23:00:00Z")
    assert start_of_local_day(days("2026-03-10"))[0] == pd.Timestamp("2026-03-10T00:00:00Z")


def test_due_at_is_local_midnight_after_the_due_date():
    # RULES.md worked examples 1 and 2: standard referral (2 working days) and acknowledgement.
    result = due_instants(
        utc("2026-03-02T09:30:00Z", "2026-03-30T09:00:00Z"), np.array([2, 5]), "working_days"
    )
    assert list(result) == [pd.Timestamp("2026-03-05T00:00:00Z"), pd.Timestamp("2026-04-08T23:00:00Z")]


def test_due_at_in_calendar_days_for_the_2015_code():
    result = due_instants(utc("2020-03-06T16:00:00Z"), 2, "calendar_days")
    assert result[0] == pd.Timestamp("2020-03-09T00:00:00Z")


def test_due_date_across_the_clocks_going_back():
    # Fri 23 Oct 2026 + 1 working day = Mon 26 Oct; clocks went back on Sun 25 Oct (GMT again).
    result = due_instants(utc("2026-10-23T12:00:00Z"), 1, "working_days")
    assert result[0] == pd.Timestamp("2026-10-27T00:00:00Z")


def test_next_working_day_after_friday_is_monday():
    assert next_working_day(days("2026-03-06"))[0] == np.datetime64("2026-03-09")

