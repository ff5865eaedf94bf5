"""The nightly DAG's partitioned evaluation under `dag.test()`: P = 3 mapped partition tasks give
the warehouse that P = 1 gives (obligations and every summary table), night after night."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pendulum
import pytest
import sqlalchemy as sa

from vcpipeline.orchestration.airflow_env import PROJECT_ROOT

from .conftest import prepare_for_alerts

FIRST_NIGHT = pendulum.datetime(2026, 4, 1, 2, tz="Europe/London")
COMPARED = ("obligations", "compliance_daily", "compliance_monthly", "compliance_quarterly",
            "victim_compliance")


@pytest.fixture
def nightly_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "victims_code_nightly.py")).dags[
        "victims_code_nightly"
    ]


def _warehouse_tables(url: str) -> dict[str, pd.DataFrame]:
    from vcpipeline.warehouse import schema
    from vcpipeline.warehouse.frames import read_frame

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            out = {}
            for name in COMPARED:
                table = getattr(schema, name)
                key = [column.name for column in table.primary_key.columns]
                out[name] = read_frame(conn, sa.select(table)).sort_values(key).reset_index(drop=True)
            return out
    finally:
        engine.dispose()


@pytest.mark.slow
def test_three_partition_tasks_give_the_warehouse_one_partition_gives(
    airflow_db, nightly_dag, warehouse_url, tmp_path: Path, monkeypatch, pipeline_connections, inbox
):
    from vcpipeline.cli import main as vcp
    from vcpipeline.orchestration.dagtest import run_dag_test
    from vcpipeline.warehouse.migrate import upgrade

    monkeypatch.setenv("VCP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("VCP_OUT_DIR", str(tmp_path / "out"))
    assert vcp(["generate", "--crimes", "300", "--start", "2026-01-01", "--days", "92",
                "--tail-days", "1"]) == 0
    one_partition = f"sqlite:///{tmp_path / 'one-partition.db'}"
    for url in (warehouse_url, one_partition):
        upgrade(url)
        prepare_for_alerts(url)

    runs = {}
    for url, partitions in ((one_partition, "1"), (warehouse_url, "3")):
        monkeypatch.setenv("AIRFLOW_VAR_VCP_PARTITIONS", partitions)
        pipeline_connections(url)
        for night in range(2):  # the first night is a full evaluation, the second incremental
            run = run_dag_test(nightly_dag, FIRST_NIGHT.add(days=night))
            states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
            assert run.state == "success", states
            runs[partitions, night] = sorted(
                key[1] for key in states if key[0] == "evaluate_partition")
            summary = next(ti for ti in run.get_task_instances()
                           if ti.task_id == "evaluate_obligations").xcom_pull(task_ids="evaluate_obligations")
            assert summary["partitions"] == int(partitions)
            assert summary["mode"] == ("full" if night == 0 else "incremental")

    assert runs[("1", 0)] == runs[("1", 1)] == [0]
    assert runs[("3", 0)] == runs[("3", 1)] == [0, 1, 2]
    expected, actual = _warehouse_tables(one_partition), _warehouse_tables(warehouse_url)
    assert len(expected["obligations"]) > 100
    for name in COMPARED:
        pd.testing.assert_frame_equal(actual[name], expected[name], check_dtype=False, obj=name)
