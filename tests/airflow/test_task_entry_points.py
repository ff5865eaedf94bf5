"""The task package's edge: Airflow's instants converted once, the gate's events, the sensor's poke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pendulum
import pytest

from vcpipeline.tasks import nightly, quarterly_sample, review_ingest
from vcpipeline.tasks.runtime import utc_instant


def test_a_pendulum_instant_becomes_a_plain_utc_datetime_once_at_the_edge():
    local = pendulum.datetime(2026, 7, 1, 2, tz="Europe/London")  # what Airflow hands a task

    instant = utc_instant(local)

    assert type(instant) is datetime and instant.tzinfo is UTC
    assert instant == datetime(2026, 7, 1, 1, tzinfo=UTC)
    assert instant.isoformat() == "2026-07-01T01:00:00+00:00"


def test_the_edge_refuses_a_naive_or_missing_instant():
    with pytest.raises(ValueError, match="naive"):
        utc_instant(datetime(2026, 7, 1, 2))
    with pytest.raises(ValueError, match="no instant"):
        utc_instant(None)


def test_every_nightly_step_refuses_a_naive_instant_before_touching_the_warehouse(tmp_path):
    url = f"sqlite:///{tmp_path / 'never-created.db'}"
    naive = datetime(2026, 7, 1, 2)
    for step in (nightly.evaluate_obligations, nightly.plan_obligations, nightly.load_summaries,
                 nightly.build_reports, nightly.build_quarterly_returns):
        with pytest.raises(ValueError, match="naive"):
            step(naive, url)
    with pytest.raises(ValueError, match="naive"):
        nightly.send_alerts(naive, url, data_engineering_email=None, data_docs_url="",
                            smtp_conn_id="vcp_smtp")
    assert not (tmp_path / "never-created.db").exists()


def test_the_partitions_variable_must_be_a_whole_number_of_at_least_one(tmp_path):
    night = pendulum.datetime(2026, 7, 2, 2, tz="Europe/London")
    for value in ("0", "three"):
        with pytest.raises(ValueError, match="Variable vcp_partitions must be a whole number"):
            nightly.plan_obligations(night, f"sqlite:///{tmp_path / 'never-created.db'}", value)
    assert not (tmp_path / "never-created.db").exists()


def test_no_report_is_due_on_a_night_that_is_not_the_first_of_a_month(tmp_path):
    assert nightly.build_reports(pendulum.datetime(2026, 7, 2, 2, tz="Europe/London"),
                                 f"sqlite:///{tmp_path / 'w.db'}", tmp_path / "report") == []


def test_the_sampled_quarter_is_read_from_the_local_start_of_airflows_interval():
    assert quarterly_sample.sampled_quarter(pendulum.datetime(2026, 7, 1, tz="Europe/London")) == "2026Q3"


@dataclass
class _Run:
    run_id: str
    data_interval_start: datetime
    data_interval_end: datetime
    state: str


class _Event:
    """An Asset event as the gate sees it; counts how often its run is fetched from Airflow."""

    fetched = 0

    def __init__(self, dag_id: str, run: _Run | None):
        self.source_dag_id = dag_id
        self._run = run

    @property
    def source_dag_run(self) -> _Run | None:
        _Event.fetched += 1
        return self._run


def _night(day: int, state: str = "success") -> _Run:
    """The 02:00 BST run over `day` 02:00 to the next day's 02:00, in September 2026."""
    start = datetime(2026, 9, day, 1, tzinfo=UTC)
    return _Run(f"night-{day}", start, start + timedelta(days=1), state)


def test_the_gate_takes_the_newest_succeeded_nightly_run_covering_the_quarter_end_and_stops_there():
    quarter_end = pendulum.datetime(2026, 10, 1, tz="Europe/London")  # the sample run's interval end
    events = [
        _Event("victims_code_nightly", _night(30, "failed")),
        _Event("some_other_dag", _night(30)),
        _Event("victims_code_nightly", None),
        _Event("victims_code_nightly", _night(30)),
        _Event("victims_code_nightly", _night(29)),
    ]
    _Event.fetched = 0

    night = quarterly_sample.quarter_end_night(events, quarter_end)

    assert night is not None and night.run_id == "night-30"
    assert _Event.fetched == 3  # the other DAG's run is never fetched, nor any after the match
    assert quarterly_sample.quarter_end_night(events[:3], quarter_end) is None


def _touch(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_the_returns_sensor_sees_only_new_files_unless_told_to_reingest_everything(tmp_path):
    first = _touch(tmp_path / "2026Q3-IIT.xlsx", b"a")
    review_ingest.remember_ingested(tmp_path, review_ingest.fingerprints([first]))
    _touch(tmp_path / "2026Q3-PPU.xlsx", b"b")

    assert review_ingest.arrived_returns(tmp_path) == ["2026Q3-PPU.xlsx"]
    assert sorted(review_ingest.arrived_returns(tmp_path, everything=True)) == [
        "2026Q3-IIT.xlsx", "2026Q3-PPU.xlsx"
    ]


def test_a_draw_that_cannot_be_made_fails_the_task_without_retries(tmp_path):
    from airflow.sdk.exceptions import AirflowFailException

    from vcpipeline.warehouse.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    start = pendulum.datetime(2026, 7, 1, tz="Europe/London")
    assert quarterly_sample.draw_sample(url, start, size=240, minimum=10, force=False)["status"] == "created"
    with pytest.raises(AirflowFailException, match="re-draw with force"):
        quarterly_sample.draw_sample(url, start, size=10, minimum=10, force=False)


def test_the_nightly_load_hands_ingest_the_source_config_its_resolver_gives(monkeypatch, tmp_path):
    """The task resolves where the source lives (the DAG passes `runtime.source_config`); ingest
    is handed the resolved config and never asks Airflow itself."""
    import dataclasses

    from vcpipeline.ingest import run

    handed = []

    def fake_batch(config, start, end, engine, **kwargs):
        handed.append(config)
        return run.BatchResult(source=config.name, system=config.system, batch_id="b1",
                               interval_start=start, interval_end=end, status="succeeded")

    monkeypatch.setattr(run, "run_source_batch", fake_batch)
    monkeypatch.setattr(nightly, "_migrated_warehouse", lambda url: {})
    elsewhere = "sqlite:////srv/elsewhere/crime_recording.db"

    nightly.extract_validate_load(
        "crime_recording", datetime(2026, 7, 1, 1, tzinfo=UTC), datetime(2026, 7, 2, 1, tzinfo=UTC),
        f"sqlite:///{tmp_path / 'w.db'}",
        source_config=lambda config: dataclasses.replace(config, connection=elsewhere))
    nightly.extract_validate_load(
        "crime_recording", datetime(2026, 7, 1, 1, tzinfo=UTC), datetime(2026, 7, 2, 1, tzinfo=UTC),
        f"sqlite:///{tmp_path / 'w.db'}")

    assert handed[0].connection == elsewhere
    assert handed[1].connection != elsewhere  # outside Airflow: as sources.toml declares it


def test_a_sql_source_takes_its_airflow_connection_when_airflow_has_one(monkeypatch):
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.tasks.runtime import source_config

    configs = {config.name: config for config in load_source_config()}
    crime, drops = configs["crime_recording"], configs["witness_care"]
    monkeypatch.delenv("AIRFLOW_CONN_VCP_SRC_CRIME_RECORDING", raising=False)
    assert source_config(crime) == crime  # no such connection: as declared

    monkeypatch.setenv("AIRFLOW_CONN_VCP_SRC_CRIME_RECORDING", "sqlite:////srv/vcp/crime.db")
    assert source_config(crime).connection == "sqlite:////srv/vcp/crime.db"
    assert source_config(drops) == drops  # a drop folder has no connection
