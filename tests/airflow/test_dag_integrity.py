"""Policy for every DAG file: imports cleanly, is owned and tagged, retries, has no cycles, lints clean."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from vcpipeline.orchestration.airflow_env import PROJECT_ROOT

DAGS_FOLDER = PROJECT_ROOT / "dags"
PLUGINS_FOLDER = PROJECT_ROOT / "plugins"
DAG_FILES = sorted(p for p in DAGS_FOLDER.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module", params=DAG_FILES, ids=lambda p: p.name)
def dagbag(request):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(request.param))


def test_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dags, "a DAG file must define at least one DAG"


def test_every_dag_is_tagged_owned_and_retried(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.start_date is not None and dag.start_date.tzinfo is not None, dag_id
        for task in dag.tasks:
            assert task.owner not in {"", "airflow"}, f"{dag_id}.{task.task_id} has no real owner"
            assert task.retries >= 2, f"{dag_id}.{task.task_id} retries {task.retries} < 2"


def test_every_dag_has_no_cycles(dagbag):
    from airflow.utils.dag_cycle_tester import check_cycle

    for dag in dagbag.dags.values():
        check_cycle(dag)


def test_nightly_dag_is_present_and_scheduled_at_two_london_time():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import CronDataIntervalTimetable

    dag = DagBag(dag_folder=str(DAGS_FOLDER / "victims_code_nightly.py")).dags["victims_code_nightly"]
    assert dag.timetable == CronDataIntervalTimetable("0 2 * * *", timezone="Europe/London")
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert set(dag.task_ids) == {
        "crime_record_sources", "load_crime_records", "configured_sources", "extract_validate_load",
        "plan_obligations", "evaluate_partition", "evaluate_obligations", "load_summaries",
        "build_reports", "build_quarterly_returns", "send_alerts",
    }
    etl = dag.get_task("extract_validate_load")
    assert etl.retry_exponential_backoff and etl.retry_exponential_backoff > 1
    assert etl.on_failure_callback, "task failures must e-mail data engineering"
    assert {a.name for a in etl.outlets} >= {"vcp_warehouse.case_events", "vcp_warehouse.quarantine"}
    assert [a.name for a in dag.get_task("evaluate_obligations").outlets] == ["vcp_warehouse.obligations"]
    # The night's plan waits for every load; then one mapped task per partition, then the merge.
    assert dag.get_task("plan_obligations").upstream_task_ids == {"extract_validate_load", "load_crime_records"}
    assert dag.get_task("evaluate_partition").upstream_task_ids == {"plan_obligations"}
    assert dag.get_task("evaluate_obligations").upstream_task_ids == {"plan_obligations", "evaluate_partition"}
    assert dag.get_task("load_summaries").upstream_task_ids == {"evaluate_obligations"}
    (alert,) = dag.deadline
    assert alert.interval == timedelta(hours=5)
    assert alert.callback.path == "vcpipeline.orchestration.notify.email_missed_deadline"


@pytest.mark.slow  # a fresh interpreter importing Airflow: 5-14 s
def test_dag_files_import_nothing_heavy_at_parse_time():
    """Parsing must stay cheap: no pandas, GX or SQLAlchemy ORM work when the DAG processor imports us."""
    code = (
        "import sys, runpy\n"
        f"sys.path.insert(0, {str(PLUGINS_FOLDER)!r})\n"
        "import airflow.sdk\n"
        "before = set(sys.modules)\n"
        "for path in sys.argv[1:]:\n"
        "    runpy.run_path(path)\n"
        "heavy = {'pandas', 'great_expectations', 'vcpipeline.calendar', 'vcpipeline.tasks.nightly',\n"
        "         'vcpipeline.tasks.quarterly_sample', 'vcpipeline.tasks.review_ingest'}\n"
        "print(sorted(heavy & (set(sys.modules) - before)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, DAG_FILES)],
        capture_output=True, text=True, check=True, cwd=PROJECT_ROOT,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_ruff_airflow_rules_pass_on_dags_and_plugins():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "check", "--select", "AIR", str(DAGS_FOLDER), str(PLUGINS_FOLDER)],
        capture_output=True, text=True, cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
