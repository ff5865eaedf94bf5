"""The nightly DAG end to end with `dag.test()`: real metadata DB, real warehouse, real SMTP server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pendulum
import pytest

from vcpipeline.orchestration.airflow_env import PROJECT_ROOT
from vcpipeline.orchestration.mailsink import message_text

from .conftest import prepare_for_alerts

NIGHT = pendulum.datetime(2026, 4, 2, 2, tz="Europe/London")  # the run at 02:00 on Thursday 2 April


@pytest.fixture
def nightly_dag():
    """A fresh parse per test, so a test may change retries without touching the others."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "victims_code_nightly.py")).dags[
        "victims_code_nightly"
    ]


@pytest.fixture
def warehouse(warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated warehouse (SQLite, then PostgreSQL) with its team reference, and a small
    synthetic force's sources."""
    from vcpipeline.cli import main as vcp
    from vcpipeline.warehouse.migrate import upgrade

    monkeypatch.setenv("VCP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("VCP_OUT_DIR", str(tmp_path / "out"))
    assert vcp(["generate", "--crimes", "300", "--start", "2026-01-01", "--days", "90",
                "--tail-days", "1"]) == 0
    upgrade(warehouse_url)
    prepare_for_alerts(warehouse_url)
    return warehouse_url


def _states(run) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}


def _deadlines(run) -> list:
    from airflow import settings
    from airflow.models.deadline import Deadline

    session = settings.Session()
    try:
        return session.query(Deadline).filter(Deadline.dagrun_id == run.id).all()
    finally:
        session.close()


@pytest.mark.slow
def test_a_night_loads_every_source_then_evaluates_and_reruns_idempotently(
    airflow_db, nightly_dag, warehouse, pipeline_connections, inbox
):
    from vcpipeline.orchestration.dagtest import run_dag_test

    pipeline_connections(warehouse)
    run = run_dag_test(nightly_dag, NIGHT)

    assert run.state == "success", _states(run)
    # The data interval is the local day before the run: 02:00 to 02:00 Europe/London (BST here).
    assert run.data_interval_start == pendulum.datetime(2026, 4, 1, 1, tz="UTC")
    assert run.data_interval_end == pendulum.datetime(2026, 4, 2, 1, tz="UTC")
    mapped = sorted(ti.rendered_map_index for ti in run.get_task_instances()
                    if ti.map_index >= 0 and ti.task_id != "evaluate_partition")
    assert mapped == ["crime_recording", "victim_contact", "victim_support", "witness_care"]
    partitions = sorted(ti.rendered_map_index for ti in run.get_task_instances()
                        if ti.task_id == "evaluate_partition")
    default = 1 if warehouse.startswith("sqlite") else 4  # VCP_PARTITIONS unset
    assert partitions == [f"partition {p}" for p in range(default)]
    assert _states(run)[("load_crime_records", 0)] == "success"
    batch = next(
        ti for ti in run.get_task_instances() if ti.task_id == "extract_validate_load"
    ).xcom_pull(task_ids="extract_validate_load", map_indexes=0)
    assert batch["interval_start"] == "2026-04-01T01:00:00+00:00"
    assert batch["interval_end"] == "2026-04-02T01:00:00+00:00"
    (deadline,) = _deadlines(run)  # 5 hours after the interval's end: 07:00 BST
    assert pendulum.instance(deadline.deadline_time) == pendulum.datetime(2026, 4, 2, 7, tz="Europe/London")

    rerun = run_dag_test(nightly_dag, NIGHT)
    assert rerun.state == "success"
    assert (rerun.data_interval_start, rerun.data_interval_end) == (
        run.data_interval_start, run.data_interval_end
    )
    failures = [m for m in inbox.messages() if m["Subject"].startswith("[vcp] task failed")]
    assert failures == [], "a successful night sends no failure mail"


@pytest.mark.slow
def test_task_failure_is_emailed_to_data_engineering(
    airflow_db, nightly_dag, tmp_path, pipeline_connections, inbox, data_engineering_address
):
    """A warehouse connection pointing at a database without our schema fails every load for real."""
    from vcpipeline.orchestration.dagtest import run_dag_test

    pipeline_connections(f"sqlite:///{tmp_path / 'not-a-warehouse.db'}")
    for task in nightly_dag.tasks:  # one quick retry instead of minutes of back-off
        task.retries, task.retry_delay = 1, pendulum.duration(seconds=1)
    run = run_dag_test(nightly_dag, NIGHT.add(days=1))

    assert run.state == "failed"
    failed = [key for key, state in _states(run).items() if state == "failed"]
    assert len(failed) == 4
    assert _states(run)[("evaluate_obligations", -1)] == "upstream_failed"
    assert all(ti.try_number == 2 for ti in run.get_task_instances() if ti.map_index >= 0)
    messages = inbox.messages()
    assert len(messages) == 4, "one e-mail per failed task instance, after its retries"
    for message in messages:
        assert message["To"] == data_engineering_address
        assert message["Subject"].startswith(("[vcp] task failed: victims_code_nightly.extract_validate_load",
                                              "[vcp] task failed: victims_code_nightly.load_crime_records"))
        assert "has no schema" not in message_text(message), "exception text stays out of e-mail"


def test_deadline_callback_emails_data_engineering_through_the_triggerer_path(
    airflow_db, pipeline_connections, inbox, data_engineering_address, tmp_path
):
    """Run the callback as Airflow's triggerer does: a CallbackTrigger importing it by path."""
    from airflow.triggers.callback import CallbackTrigger

    pipeline_connections(f"sqlite:///{tmp_path / 'w.db'}")
    context = {
        "dag_run": {
            "dag_id": "victims_code_nightly",
            "dag_run_id": "scheduled__2026-04-01T01:00:00+00:00",
            "state": "running",
            "data_interval_start": "2026-04-01T01:00:00Z",
            "data_interval_end": "2026-04-02T01:00:00Z",
        },
        "deadline": {"id": "x", "deadline_time": "2026-04-02T06:00:00Z"},
    }
    trigger = CallbackTrigger(
        callback_path="vcpipeline.orchestration.notify.email_missed_deadline",
        callback_kwargs={"context": context},
    )

    async def run_trigger() -> list:
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(run_trigger())
    assert events[-1]["state"] == "success", events[-1]
    (message,) = inbox.messages()
    assert message["To"] == data_engineering_address
    assert message["Subject"].startswith("[vcp] deadline missed: victims_code_nightly")
    assert "2026-04-02T06:00:00Z" in message_text(message)
