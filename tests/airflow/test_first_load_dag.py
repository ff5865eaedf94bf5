"""The first-load DAG under `dag.test()`: a small generated force's history loaded in weekly chunks
(mapped tasks, the crime recording system's first) and evaluated with P = 3 gives the warehouse
that loading the same sources night by night gives (obligations and every summary table); a
second run skips every chunk and changes nothing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pendulum
import pytest
import sqlalchemy as sa

from vcpipeline.orchestration.airflow_env import PROJECT_ROOT

FROM = pendulum.datetime(2026, 3, 1, 2, tz="Europe/London")
TO = pendulum.datetime(2026, 3, 13, 2, tz="Europe/London")  # inside the reports: no volume cliff
CONF = {"from": "2026-03-01T02:00", "to": "2026-03-13T02:00", "period": "week", "data_docs": False}
COMPARED = ("obligations", "compliance_daily", "compliance_monthly", "compliance_quarterly",
            "victim_compliance")
CONTENT = ("crimes", "victims", "case_events")
LINEAGE = {"load_batch_id", "extracted_at"}


@pytest.fixture
def first_load_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "victims_code_first_load.py")).dags[
        "victims_code_first_load"
    ]


def _tables(url: str) -> dict[str, pd.DataFrame]:
    from vcpipeline.warehouse import schema
    from vcpipeline.warehouse.frames import read_frame

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            out = {}
            for name in COMPARED + CONTENT:
                table = getattr(schema, name)
                columns = [c for c in table.columns if c.name not in LINEAGE]
                key = [column.name for column in table.primary_key.columns]
                out[name] = read_frame(conn, sa.select(*columns)).sort_values(key).reset_index(drop=True)
            out["open_quarantine"] = read_frame(conn, sa.select(
                schema.quarantine.c.source_system, schema.quarantine.c.entity,
                schema.quarantine.c.source_row_id, schema.quarantine.c.reasons,
            ).where(schema.quarantine.c.replayed_at.is_(None))).sort_values(
                ["source_system", "entity", "source_row_id"]).reset_index(drop=True)
            return out
    finally:
        engine.dispose()


def _night_by_night(url: str) -> int:
    """What the nightly DAG does each night from FROM to TO (its task functions, P = 1)."""
    from vcpipeline.ingest.windows import nightly_intervals
    from vcpipeline.tasks import nightly

    sources = nightly.configured_sources(True) + nightly.configured_sources(False)
    nights = nightly_intervals(FROM, TO)
    for start, end in nights:
        for source in sources:
            nightly.extract_validate_load(source, start, end, url)
        work = nightly.plan_obligations(end, url, "1")
        nightly.finish_obligations(work, [nightly.evaluate_partition(w, url) for w in work], url)
        nightly.load_summaries(end, url)
    return len(nights)


def _task_results(run, task_id: str) -> list[dict]:
    tis = sorted((ti for ti in run.get_task_instances() if ti.task_id == task_id), key=lambda ti: ti.map_index)
    return [ti.xcom_pull(task_ids=task_id, map_indexes=ti.map_index) for ti in tis]


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, dict[str, pd.DataFrame]]:
    """The force's sources (once per module) and the warehouse night by night gives (SQLite)."""
    from vcpipeline.cli import main as vcp
    from vcpipeline.warehouse.migrate import upgrade

    root = tmp_path_factory.mktemp("first-load-history")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VCP_VAR_DIR", str(root / "var"))
        env.setenv("VCP_OUT_DIR", str(root / "out"))
        assert vcp(["generate", "--crimes", "300", "--start", "2026-03-01", "--days", "14",
                    "--tail-days", "1"]) == 0
        nightly_url = f"sqlite:///{root / 'night-by-night.db'}"
        upgrade(nightly_url)
        assert _night_by_night(nightly_url) == 12
    return root, _tables(nightly_url)


@pytest.mark.slow
def test_the_first_load_in_weekly_chunks_equals_loading_night_by_night_and_a_rerun_skips_it(
    airflow_db, first_load_dag, history, warehouse_url, tmp_path: Path, monkeypatch, pipeline_connections
):
    from vcpipeline.orchestration.dagtest import run_dag_test
    from vcpipeline.warehouse.migrate import upgrade

    root, expected = history
    monkeypatch.setenv("VCP_VAR_DIR", str(root / "var"))
    monkeypatch.setenv("VCP_OUT_DIR", str(tmp_path / "out"))
    upgrade(warehouse_url)

    monkeypatch.setenv("AIRFLOW_VAR_VCP_PARTITIONS", "3")
    pipeline_connections(warehouse_url)
    run = run_dag_test(first_load_dag, TO, run_conf=CONF)
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states

    crime_chunks = _task_results(run, "load_crime_record_chunk")
    other_chunks = _task_results(run, "load_chunk")
    weeks = ["2026-03-01..2026-03-02", "2026-03-02..2026-03-09", "2026-03-09..2026-03-13"]
    assert [c["label"] for c in crime_chunks] == [f"crime_recording {w}" for w in weeks]
    assert [c["label"] for c in other_chunks] == [f"{s} {w}" for s in ("victim_contact", "victim_support",
                                                                      "witness_care") for w in weeks]
    assert {c["status"] for c in crime_chunks + other_chunks} == {"loaded"}
    crime_tis = [ti for ti in run.get_task_instances() if ti.task_id == "load_crime_record_chunk"]
    other_tis = [ti for ti in run.get_task_instances() if ti.task_id == "load_chunk"]
    assert max(ti.end_date for ti in crime_tis) <= min(ti.start_date for ti in other_tis), "crimes first"
    (totals,) = _task_results(run, "reconcile")
    assert totals["chunks"] == 12
    assert totals["rows_extracted"] == totals["rows_loaded"] + totals["rows_quarantined"]
    assert totals["rows_extracted"] == sum(c["rows_extracted"] for c in crime_chunks + other_chunks)
    (evaluated,) = _task_results(run, "evaluate_obligations")
    assert (evaluated["mode"], evaluated["partitions"], evaluated["batches"]) == ("full", 3, 12)
    assert evaluated["as_of"] == datetime.fromisoformat("2026-03-13T02:00:00+00:00").isoformat()

    actual = _tables(warehouse_url)
    assert len(expected["obligations"]) > 100
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(actual[name], frame, check_dtype=False, obj=name)

    rerun = run_dag_test(first_load_dag, TO.add(minutes=1), run_conf=CONF)
    assert rerun.state == "success"
    assert {c["status"] for c in _task_results(rerun, "load_crime_record_chunk")
            + _task_results(rerun, "load_chunk")} == {"skipped"}
    assert _task_results(rerun, "reconcile") == [totals]
    again = _tables(warehouse_url)
    for name, frame in actual.items():
        pd.testing.assert_frame_equal(again[name], frame, check_dtype=False, obj=name)


@pytest.mark.slow
def test_a_run_of_the_crime_recording_system_alone_still_reconciles_and_evaluates(
    airflow_db, first_load_dag, history, tmp_path: Path, monkeypatch, pipeline_connections
):
    """The other sources' mapped task has no chunks to expand and is skipped; that does not skip
    the reconciliation and evaluation after it."""
    from vcpipeline.orchestration.dagtest import run_dag_test
    from vcpipeline.warehouse.migrate import upgrade

    root, _ = history
    monkeypatch.setenv("VCP_VAR_DIR", str(root / "var"))
    monkeypatch.setenv("VCP_OUT_DIR", str(tmp_path / "out"))
    url = f"sqlite:///{tmp_path / 'crimes-only.db'}"
    upgrade(url)
    pipeline_connections(url)
    run = run_dag_test(first_load_dag, TO, run_conf={**CONF, "sources": ["crime_recording"]})
    states = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    assert states[("load_chunk", -1)] == "skipped"
    assert [states[("load_crime_record_chunk", i)] for i in range(3)] == ["success"] * 3
    (totals,) = _task_results(run, "reconcile")
    assert set(totals["by_source"]) == {"crime_recording"}
    assert states[("load_summaries", -1)] == "success"


def test_the_run_s_params_become_utc_instants_and_a_chunk_plan():
    from vcpipeline.tasks import first_load

    params = {"from": "2026-03-01T02:00", "to": "2026-04-01T02:00+01:00", "period": "month"}
    start, end = first_load.history_range(params)
    assert (start.isoformat(), end.isoformat()) == ("2026-03-01T02:00:00+00:00", "2026-04-01T01:00:00+00:00")
    crimes_first = first_load.plan_chunks(params, load_first=True)
    assert [c["label"] for c in crimes_first] == ["crime_recording 2026-03-01..2026-04-01"]
    assert {c["source"] for c in first_load.plan_chunks(params, load_first=False)} == {
        "victim_contact", "victim_support", "witness_care"}
    assert first_load.plan_chunks({**params, "sources": ["crime_recording"]}, load_first=False) == []
    with pytest.raises(ValueError, match="unknown source"):
        first_load.plan_chunks({**params, "sources": ["crime_records"]}, load_first=True)
    with pytest.raises(ValueError, match="after param 'from'"):
        first_load.history_range({"from": "2026-04-01T02:00", "to": "2026-03-01T02:00"})
    with pytest.raises(ValueError, match="not an ISO 8601 timestamp"):
        first_load.history_range({"from": "1 March", "to": "2026-03-01T02:00"})
