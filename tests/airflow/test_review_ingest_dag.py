"""The review-ingest DAG with `dag.test()`: simulated reviewers' returns in a real folder, a real warehouse."""

from __future__ import annotations

from pathlib import Path

import pendulum
import pytest
import sqlalchemy as sa

from vcpipeline.orchestration.airflow_env import PROJECT_ROOT

from .conftest import load_quarter_crimes

LONDON = "Europe/London"


@pytest.fixture
def review_dag():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "victims_code_review_ingest.py")).dags[
        "victims_code_review_ingest"
    ]
    for task in dag.tasks:
        task.retries = 0
    sensor = dag.get_task("returns_arrived")
    sensor.poke_interval, sensor.timeout = 1, 2  # instead of every 5 minutes for 12 hours
    return dag


@pytest.fixture
def returned(tmp_path: Path, sampling_variables: dict[str, Path]) -> str:
    """2026Q3 drawn, its worksheets written and filled in by simulated reviewers, plus one file
    that is no workbook at all; the warehouse URL."""
    from vcpipeline.sampling.simulate import simulate_returns
    from vcpipeline.tasks import quarterly_sample
    from vcpipeline.warehouse.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    load_quarter_crimes(url, "2026-07-01", {"IIT": 4, "PPU": 3})
    quarterly_sample.draw_quarter_sample(url, "2026Q3", size=240, minimum=10)
    sheets = quarterly_sample.write_quarter_worksheets(url, "2026Q3", sampling_variables["sample"])
    simulate_returns([sampling_variables["sample"] / name for name in sheets["worksheets"]],
                     sampling_variables["returns"])
    (sampling_variables["returns"] / "2026Q3-VVA.xlsx").write_text("not a workbook")
    return url


def _count(url: str, table: str) -> int:
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


def _states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


@pytest.mark.slow  # three dag.test() runs and a 2 s sensor timeout: ~10 s
def test_returns_are_ingested_with_an_error_report_published_and_a_rerun_changes_nothing(
    airflow_db, review_dag, returned, pipeline_connections, sampling_variables
):
    from vcpipeline.orchestration.dagtest import run_dag_test

    pipeline_connections(returned)
    returns, sample = sampling_variables["returns"], sampling_variables["sample"]

    run = run_dag_test(review_dag, pendulum.datetime(2026, 10, 20, 7, tz=LONDON))

    assert run.state == "success", _states(run)
    answers = _count(returned, "sample_reviews")
    assert answers > 0
    assert _count(returned, "survey_results") > 0
    errors = (returns / "2026Q3-review-errors.csv").read_text()
    assert errors.splitlines()[0] == "file,row,crime_ref,kind,problem"
    assert "2026Q3-VVA.xlsx,1,,unreadable file," in errors
    assert (sample / "2026Q3-survey-results.md").read_text().startswith("#")
    manifest = (returns / ".vcp-ingested.json").read_text()
    assert all(name in manifest for name in ("2026Q3-IIT.xlsx", "2026Q3-PPU.xlsx", "2026Q3-VVA.xlsx"))

    # Nothing new: the sensor gives up for the day and the run ends without ingesting.
    quiet = run_dag_test(review_dag, pendulum.datetime(2026, 10, 21, 7, tz=LONDON))
    assert quiet.state == "success"
    assert _states(quiet) == {"returns_arrived": "skipped", "ingest_returns": "skipped",
                              "publish_results": "skipped", "remember_ingested": "skipped"}

    # By hand, everything again: same answers, same error report.
    again = run_dag_test(review_dag, pendulum.datetime(2026, 10, 21, 12, tz=LONDON),
                         run_conf={"reingest": True})
    assert again.state == "success", _states(again)
    assert _count(returned, "sample_reviews") == answers
    assert (returns / "2026Q3-review-errors.csv").read_text() == errors


def test_review_dag_checks_the_folder_daily_in_reschedule_mode_and_writes_one_run_at_a_time():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import CronTriggerTimetable

    dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "victims_code_review_ingest.py")).dags[
        "victims_code_review_ingest"
    ]
    assert dag.timetable == CronTriggerTimetable("0 7 * * *", timezone=LONDON)
    sensor = dag.get_task("returns_arrived")
    assert (sensor.mode, sensor.soft_fail) == ("reschedule", True)
    assert [a.name for a in dag.get_task("ingest_returns").outlets] == ["vcp_warehouse.sample_reviews"]
    assert [a.name for a in dag.get_task("publish_results").outlets] == ["vcp_warehouse.survey_results"]
    for task_id in ("ingest_returns", "publish_results", "remember_ingested"):
        assert dag.get_task(task_id).max_active_tis_per_dag == 1
    assert dag.get_task("remember_ingested").upstream_task_ids == {"ingest_returns", "publish_results"}
