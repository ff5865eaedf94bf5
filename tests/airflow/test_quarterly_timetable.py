"""The sampling timetable: first England & Wales working day of each quarter, over the quarter just ended."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pendulum
import pytest

from vcpipeline.orchestration import timetables as quarters

LONDON = ZoneInfo("Europe/London")
PLUGIN_CLASS = "vcp_scheduling.FirstWorkingDayOfQuarterTimetable"


@pytest.mark.parametrize(
    ("quarter_begins", "first_working_day"),
    [
        (date(2026, 1, 1), date(2026, 1, 2)),  # New Year's Day, a Thursday
        (date(2026, 4, 1), date(2026, 4, 1)),  # Wednesday; Easter is 3-6 April
        (date(2026, 7, 1), date(2026, 7, 1)),
        (date(2026, 10, 1), date(2026, 10, 1)),
        (date(2027, 1, 1), date(2027, 1, 4)),  # New Year's Day a Friday, then a weekend
        (date(2027, 4, 1), date(2027, 4, 1)),  # Easter Monday 2027 is 29 March
        (date(2024, 4, 1), date(2024, 4, 2)),  # Easter Monday 1 April 2024
        (date(2028, 1, 1), date(2028, 1, 4)),  # Saturday; substitute holiday Monday 3 January
        (date(2029, 4, 1), date(2029, 4, 3)),  # Easter Sunday; Easter Monday 2 April
        (date(2028, 10, 1), date(2028, 10, 2)),  # Sunday
    ],
)
def test_first_working_day_of_quarter_skips_weekends_and_bank_holidays(quarter_begins, first_working_day):
    assert quarters.first_working_day_on_or_after(quarter_begins) == first_working_day


def test_quarter_run_covers_the_quarter_just_ended_in_local_time():
    run = quarters.quarter_run(date(2026, 1, 1), time(6, 0), "Europe/London")
    assert run.quarter == "2026Q1"
    assert run.quarter_start == datetime(2026, 1, 1, tzinfo=LONDON)
    assert run.quarter_end == datetime(2026, 4, 1, tzinfo=LONDON)  # 23:00 UTC on 31 March (BST)
    assert run.run_at == datetime(2026, 4, 1, 6, 0, tzinfo=LONDON)


def test_a_start_date_inside_a_quarter_waits_for_the_next_whole_quarter():
    run = quarters.first_quarter_run_from(datetime(2026, 2, 10, tzinfo=LONDON), time(6), "Europe/London")
    assert run.quarter == "2026Q2"
    exact = quarters.first_quarter_run_from(datetime(2026, 1, 1, tzinfo=LONDON), time(6), "Europe/London")
    assert exact.quarter == "2026Q1"


# Through Airflow: the plugin manager must find the timetable in ./plugins.


@pytest.fixture(scope="module")
def timetable_class():
    from airflow import plugins_manager

    registered = plugins_manager.get_timetables_plugins()
    assert PLUGIN_CLASS in registered, f"plugin not registered: {sorted(registered)}"
    return registered[PLUGIN_CLASS]


def test_plugin_manager_registers_timetable_and_deadline_reference(timetable_class):
    from airflow import plugins_manager

    assert plugins_manager.get_import_errors() == {}
    assert "vcp_scheduling.DataIntervalEndDeadline" in plugins_manager.get_deadline_references_plugins()


def test_timetable_survives_airflow_serialization(timetable_class):
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    original = timetable_class(at=time(7, 30), timezone="Europe/London")
    encoded = encode_timetable(original)
    assert encoded["__type"] == PLUGIN_CLASS
    restored = decode_timetable(encoded)
    assert restored == original
    assert restored.at == time(7, 30)
    assert "07:30" in restored.description


def test_a_dag_scheduled_on_the_timetable_round_trips_through_dag_serialization(timetable_class):
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG(
        "quarterly_probe",
        schedule=timetable_class(at=time(6), timezone="Europe/London"),
        start_date=pendulum.datetime(2026, 1, 1, tz="Europe/London"),
        tags=["test"],
    ) as dag:
        pass
    restored = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
    assert restored.timetable == timetable_class(at=time(6), timezone="Europe/London")


def _schedule(timetable, start: datetime, runs: int) -> list:
    from airflow.timetables.base import TimeRestriction

    restriction = TimeRestriction(earliest=pendulum.instance(start), latest=None, catchup=True)
    infos, last = [], None
    for _ in range(runs):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        infos.append(info)
        last = info.data_interval
    return infos


def test_next_dagrun_info_runs_on_first_working_days_of_2026_and_2027(timetable_class):
    timetable = timetable_class(at=time(6, 0), timezone="Europe/London")
    infos = _schedule(timetable, datetime(2025, 10, 1, tzinfo=LONDON), 6)
    local_runs = [info.run_after.in_timezone("Europe/London") for info in infos]
    assert [(r.date(), r.time()) for r in local_runs] == [
        (date(2026, 1, 2), time(6)),  # Q4 2025, after New Year's Day
        (date(2026, 4, 1), time(6)),  # Q1 2026, 06:00 BST
        (date(2026, 7, 1), time(6)),
        (date(2026, 10, 1), time(6)),
        (date(2027, 1, 4), time(6)),  # after New Year's Day (Friday) and the weekend
        (date(2027, 4, 1), time(6)),
    ]
    # Each data interval is the whole quarter just ended, local midnight to local midnight, and
    # consecutive intervals tile with no gap or overlap across the clock changes.
    first = infos[1].data_interval
    assert first.start == pendulum.datetime(2026, 1, 1, tz="Europe/London")
    assert first.end == pendulum.datetime(2026, 4, 1, tz="Europe/London")
    assert all(a.data_interval.end == b.data_interval.start for a, b in itertools.pairwise(infos))
    assert infos[1].logical_date == first.start


def test_next_dagrun_info_after_easter_monday_on_the_first(timetable_class):
    timetable = timetable_class(at=time(6, 0), timezone="Europe/London")
    (info,) = _schedule(timetable, datetime(2024, 1, 1, tzinfo=LONDON), 1)
    assert info.run_after == pendulum.datetime(2024, 4, 2, 6, tz="Europe/London")


def test_without_catchup_the_latest_ended_quarter_runs_first(timetable_class):
    from airflow.timetables.base import TimeRestriction

    timetable = timetable_class(at=time(6, 0), timezone="Europe/London")
    restriction = TimeRestriction(
        earliest=pendulum.datetime(2020, 1, 1, tz="Europe/London"), latest=None, catchup=False
    )
    info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    now = pendulum.now("Europe/London")
    assert info.data_interval.end <= now
    assert now - info.data_interval.end < pendulum.duration(days=93)


def test_no_start_date_means_never_scheduled(timetable_class):
    from airflow.timetables.base import TimeRestriction

    timetable = timetable_class()
    restriction = TimeRestriction(earliest=None, latest=None, catchup=True)
    assert timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction) is None


def test_manual_run_covers_the_last_ended_quarter(timetable_class):
    timetable = timetable_class()
    interval = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2026, 5, 20, 12, tz="UTC"))
    assert interval.start == pendulum.datetime(2026, 1, 1, tz="Europe/London")
    assert interval.end == pendulum.datetime(2026, 4, 1, tz="Europe/London")
