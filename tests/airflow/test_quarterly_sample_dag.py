"""The quarterly dip-sample DAG with `dag.test()`: real metadata DB, warehouse, SMTP server and files.

The gate is checked for real: the nightly DAG runs (also with `dag.test()`) and the sample DAG
waits for the night whose data interval covers the quarter's end. The tests have no source
systems, so the nightly runs mark the per-source loads successful (`mark_success_pattern`) and
run the rest for real: obligations, summaries (whose Asset event the gate reads) and alerts.
"""

from __future__ import annotations

import pendulum
import pytest
import sqlalchemy as sa

from vcpipeline.orchestration.airflow_env import PROJECT_ROOT
from vcpipeline.orchestration.mailsink import message_text

from .conftest import REVIEWERS, load_quarter_crimes, prepare_for_alerts

LONDON = "Europe/London"
DEPARTMENTS = {"IIT": 5, "PPU": 3, "VVA": 4}
Q3_END_NIGHT = pendulum.datetime(2026, 10, 1, 2, tz=LONDON)  # over 02:00 30 Sep .. 02:00 1 Oct
Q3_RUN = pendulum.datetime(2026, 10, 1, 6, tz=LONDON)  # dag.test infers the quarter just ended


def _dag(file: str, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / file)).dags[dag_id]


def _no_retries(dag):
    """A failing task fails at once instead of waiting minutes for its retries."""
    for task in dag.tasks:
        task.retries = 0
    return dag


@pytest.fixture
def quarterly_dag():
    dag = _no_retries(_dag("victims_code_quarterly_sample.py", "victims_code_quarterly_sample"))
    gate = dag.get_task("quarter_end_night_succeeded")
    gate.poke_interval, gate.timeout = 1, 20  # instead of every 10 minutes for 3 days
    return dag


@pytest.fixture
def nightly_dag():
    return _no_retries(_dag("victims_code_nightly.py", "victims_code_nightly"))


def run_night(nightly_dag, night):
    """The nightly run at 02:00 on `night`, the source loads marked done (no source systems here)."""
    from vcpipeline.orchestration.dagtest import run_dag_test

    return run_dag_test(nightly_dag, night, mark_success_pattern="extract_validate_load|load_crime_records")


@pytest.fixture
def warehouse(migrated_warehouse: str) -> str:
    """Crimes in 2026Q3, the team reference the nightly alerts need."""
    load_quarter_crimes(migrated_warehouse, "2026-07-01", DEPARTMENTS)
    prepare_for_alerts(migrated_warehouse)
    return migrated_warehouse


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def _stored_samples(url: str) -> list[tuple[str, int]]:
    from vcpipeline.warehouse.db import make_engine
    from vcpipeline.warehouse.schema import samples

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.select(samples.c.sample_id, samples.c.sample_size))]
    finally:
        engine.dispose()


def _to_reviewers(inbox) -> list:
    return [m for m in inbox.messages() if m["To"] == REVIEWERS]


@pytest.mark.slow  # three dag.test() runs against each warehouse backend: ~12 s on SQLite
def test_sample_is_drawn_after_the_quarter_end_night_and_reviewers_are_emailed_once(
    airflow_db, quarterly_dag, nightly_dag, warehouse, pipeline_connections, sampling_variables, inbox
):
    from vcpipeline.orchestration.dagtest import run_dag_test

    pipeline_connections(warehouse)
    night = run_night(nightly_dag, Q3_END_NIGHT)
    assert night.state == "success", _states(night)

    run = run_dag_test(quarterly_dag, Q3_RUN)

    assert run.state == "success", _states(run)
    assert run.data_interval_start == pendulum.datetime(2026, 7, 1, tz=LONDON)
    assert run.data_interval_end == pendulum.datetime(2026, 10, 1, tz=LONDON)
    gate = next(ti for ti in run.get_task_instances() if ti.task_id == "quarter_end_night_succeeded")
    assert gate.xcom_pull(task_ids="quarter_end_night_succeeded") == night.run_id
    draw = next(ti for ti in run.get_task_instances() if ti.task_id == "draw_sample")
    assert draw.xcom_pull(task_ids="draw_sample")["after_night"] == night.run_id
    assert _stored_samples(warehouse) == [("2026Q3", sum(DEPARTMENTS.values()))]
    worksheets = sorted(p.name for p in sampling_variables["sample"].glob("*.xlsx"))
    assert worksheets == [f"2026Q3-{d}.xlsx" for d in sorted(DEPARTMENTS)]

    (message,) = _to_reviewers(inbox)
    assert message["Subject"].startswith("Victims Code dip sample 2026Q3: 12 crimes to review by ")
    attached = sorted(part.get_filename() for part in message.iter_attachments())
    assert attached == worksheets
    text = message_text(message)
    assert str(sampling_variables["returns"]) not in text  # a server path means nothing to a reviewer
    assert "2026Q3-PPU.xlsx (3 crime(s))" in text

    rerun = run_dag_test(quarterly_dag, Q3_RUN)
    assert rerun.state == "success", _states(rerun)
    draw = next(ti for ti in rerun.get_task_instances() if ti.task_id == "draw_sample")
    assert draw.xcom_pull(task_ids="draw_sample")["status"] == "unchanged"
    email = next(ti for ti in rerun.get_task_instances() if ti.task_id == "email_reviewers")
    assert email.xcom_pull(task_ids="email_reviewers")["already_sent"] == 1
    assert len(_to_reviewers(inbox)) == 1, "a rerun must not e-mail the reviewers again"


@pytest.mark.slow  # two dag.test() runs and a 3 s sensor timeout: ~9 s
def test_sample_waits_while_only_the_night_before_the_quarter_end_has_succeeded(
    airflow_db, quarterly_dag, nightly_dag, tmp_path, pipeline_connections, sampling_variables,
    inbox, data_engineering_address
):
    """2025Q4 ends at midnight starting 1 January 2026: the night over 30-31 December is not it."""
    from vcpipeline.orchestration.dagtest import run_dag_test
    from vcpipeline.warehouse.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    load_quarter_crimes(url, "2025-10-01", DEPARTMENTS)
    prepare_for_alerts(url)
    pipeline_connections(url)
    night_before = run_night(nightly_dag, pendulum.datetime(2025, 12, 31, 2, tz=LONDON))
    assert night_before.state == "success", _states(night_before)

    quarterly_dag.get_task("quarter_end_night_succeeded").timeout = 3
    run = run_dag_test(quarterly_dag, pendulum.datetime(2026, 1, 2, 6, tz=LONDON))

    assert run.state == "failed"
    states = _states(run)
    assert states["quarter_end_night_succeeded"] == "failed"  # timed out waiting
    assert states["draw_sample"] == "upstream_failed"
    assert _stored_samples(url) == []
    assert _to_reviewers(inbox) == []
    failures = [m for m in inbox.messages() if m["Subject"].startswith("[vcp] task failed")]
    assert [m["To"] for m in failures] == [data_engineering_address]
    assert "quarter_end_night_succeeded" in failures[0]["Subject"]


def test_quarterly_dag_runs_on_the_first_working_day_with_retries_and_the_gate_in_reschedule_mode():
    from datetime import time

    quarterly_dag = _dag("victims_code_quarterly_sample.py", "victims_code_quarterly_sample")
    assert quarterly_dag.timetable.serialize() == {"at": "06:00", "timezone": LONDON}
    assert type(quarterly_dag.timetable).__name__ == "FirstWorkingDayOfQuarterTimetable"
    assert quarterly_dag.catchup is False
    gate = quarterly_dag.get_task("quarter_end_night_succeeded")
    assert gate.mode == "reschedule"
    assert [a.name for a in gate.inlets] == ["vcp_warehouse.compliance_summaries"]
    assert quarterly_dag.get_task("draw_sample").upstream_task_ids == {"quarter_end_night_succeeded"}
    assert [a.name for a in quarterly_dag.get_task("draw_sample").outlets] == ["vcp_warehouse.samples"]
    assert quarterly_dag.get_task("email_reviewers").upstream_task_ids == {"draw_sample", "write_worksheets"}
    assert all(task.retries >= 2 and task.on_failure_callback for task in quarterly_dag.tasks)
    assert quarterly_dag.timetable.at == time(6)


def test_nightly_dag_sends_alerts_after_the_summaries_and_logs_them_as_an_asset():
    alerts = _dag("victims_code_nightly.py", "victims_code_nightly").get_task("send_alerts")
    assert alerts.upstream_task_ids == {"load_summaries"}
    assert alerts.downstream_task_ids == set()
    assert [a.name for a in alerts.outlets] == ["vcp_warehouse.alert_log"]
    assert alerts.retries >= 2


@pytest.mark.slow  # two dag.test() runs of the nightly DAG: ~8 s
def test_nightly_alerts_are_as_of_the_interval_end_and_a_rerun_sends_nothing_again(
    airflow_db, nightly_dag, tmp_path, pipeline_connections, sampling_variables, inbox
):
    from vcpipeline.warehouse.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    prepare_for_alerts(url)
    pipeline_connections(url)
    night = pendulum.datetime(2026, 5, 13, 2, tz=LONDON)

    first = run_night(nightly_dag, night)
    assert first.state == "success", _states(first)
    summary = next(ti for ti in first.get_task_instances() if ti.task_id == "send_alerts").xcom_pull(
        task_ids="send_alerts")
    assert summary["as_of"] == "2026-05-13T01:00:00+00:00"  # 02:00 BST, the interval's end
    keys = [m["X-VCP-Message-Key"] for m in inbox.messages()]
    assert len(keys) == summary["sent"]

    rerun = run_night(nightly_dag, night)
    assert rerun.state == "success", _states(rerun)
    again = next(ti for ti in rerun.get_task_instances() if ti.task_id == "send_alerts").xcom_pull(
        task_ids="send_alerts")
    assert (again["sent"], again["already_sent"]) == (0, summary["sent"])
    assert [m["X-VCP-Message-Key"] for m in inbox.messages()] == keys
