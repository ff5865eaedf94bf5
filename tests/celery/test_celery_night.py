"""A real CeleryExecutor night: Airflow 3.3's API server, scheduler, DAG processor and two Celery
workers on this machine (Redis broker, PostgreSQL metadata database), the nightly DAG triggered
through the REST API with Variable `vcp_partitions` = 4, and the warehouse it leaves compared row
for row with a `dag.test()` run of the same night (P = 4 too) on a second PostgreSQL warehouse.

Slow (a few minutes) and outside the default suite: `make test-celery` (CI runs it).
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import psutil
import pytest
import sqlalchemy as sa

from .cluster import CeleryCluster, wait_for

DAG_ID = "victims_code_nightly"
NIGHT = datetime(2026, 4, 2, 2, tzinfo=ZoneInfo("Europe/London"))  # as tests/airflow/test_nightly_run.py
RUN_ID = "celery__2026-04-02"
PARTITIONS = 4
DATA_ENGINEERING = "data-engineering@force.example"
# What the synthetic force is, as the nightly dag.test() tests generate it.
GENERATE = ["generate", "--crimes", "300", "--start", "2026-01-01", "--days", "90", "--tail-days", "1"]
# Columns that record when something happened on this machine (or how long it took), not data:
# the two runs differ there and nowhere else. quarantine.id is a sequence: the order in which the
# concurrent load tasks inserted their rows.
VOLATILE = {"started_at", "finished_at", "sent_at", "loaded_at", "quarantined_at", "replayed_at",
            "processed_at", "updated_at", "read_seconds", "evaluate_seconds", "write_seconds",
            "total_seconds"}
BAD_STATES = {"failed", "up_for_retry", "upstream_failed"}


def _without_airflow(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items()
            if not k.startswith("AIRFLOW") and k not in {"VCP_PARTITIONS", "VCP_WAREHOUSE_URL"}}


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving the given databases, sampled (the server
    is shared with other work, so its total says nothing): a backend counts with its last
    sample, so what one did in its last interval, or in a life shorter than that, is missed."""

    def __init__(self, *databases: str) -> None:
        self.databases = databases
        self._seen: dict[tuple[int, float], tuple[str, float]] = {}

    def sample(self) -> None:
        for process in psutil.process_iter(["name", "cmdline", "create_time"]):
            if process.info["name"] != "postgres":
                continue
            title = " ".join(process.info["cmdline"] or [])
            database = next((d for d in self.databases if f" {d} " in title), None)
            if database is None:
                continue
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            self._seen[process.pid, process.info["create_time"]] = (database, times.user + times.system)

    def seconds(self) -> dict[str, float]:
        totals = dict.fromkeys(self.databases, 0.0)
        for database, cpu in self._seen.values():
            totals[database] += cpu
        return totals


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dag_test_reference(var_dir: Path, out_dir: Path, warehouse_url: str, log: Path) -> dict:
    """The same night with `dag.test()` in a fresh interpreter: the demo's runner
    (`vcpipeline.orchestration.demo`: a SQLite-metadata Airflow home, the synthetic force's team
    leads, an SMTP sink), with Variable `vcp_partitions` = 4 from the environment."""
    env = _without_airflow(dict(os.environ)) | {
        "VCP_VAR_DIR": str(var_dir), "VCP_OUT_DIR": str(out_dir),
        "AIRFLOW_VAR_VCP_PARTITIONS": str(PARTITIONS),
    }
    command = [sys.executable, "-m", "vcpipeline.orchestration.demo", "--first-night",
               NIGHT.date().isoformat(), "--nights", "1", "--no-sample", "--warehouse-url", warehouse_url]
    started, cpu = time.perf_counter(), _children_cpu()
    backends = BackendCpu(sa.make_url(warehouse_url).database)
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            while process.poll() is None and time.perf_counter() - started < 900:
                backends.sample()
                # dag.test() would wait out the DAG's retries (minutes): a failed task ends it.
                if "Task failed with exception" in log.read_text(errors="replace"):
                    break
                time.sleep(0.5)
        finally:
            if process.poll() is None:  # over time
                process.kill()
            process.wait()
    text = log.read_text(errors="replace")
    assert process.returncode == 0, text[-6000:]
    night = re.search(rf"night of {NIGHT.date()}: success in ([\d.]+) s", text)
    assert night, text[-3000:]
    return {"night": float(night.group(1)), "wall": time.perf_counter() - started,
            "cpu": _children_cpu() - cpu, "server": sum(backends.seconds().values())}


def _mail(folder: Path) -> list[tuple[str, str]]:
    from vcpipeline.orchestration.mailsink import read_message

    return sorted((str(m["To"]), str(m["Subject"])) for m in map(read_message, folder.glob("*.eml")))


def task_instances(cluster: CeleryCluster) -> list[dict]:
    body = cluster.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{RUN_ID}/taskInstances",
                       params={"limit": 1000}).json()
    return body["task_instances"]


def _task_logs(cluster: CeleryCluster, tis: list[dict]) -> str:
    """The tails of the attempt logs of the given task instances, for a failure message."""
    run = cluster.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={RUN_ID}"
    paths = [path for ti in tis for path in sorted((run / f"task_id={ti['task_id']}").rglob("attempt=*.log"))]
    return "\n".join(f"--- {path.relative_to(cluster.home)}\n{path.read_text(errors='replace')[-3000:]}"
                     for path in paths)


def run_night(cluster: CeleryCluster, backends: BackendCpu, timeout: float = 900) -> dict:
    """Variable vcp_partitions = 4, the DAG unpaused, the night triggered for NIGHT's logical
    date; returns the finished run. Fails at once when a task fails or is to be retried."""
    cluster.post("/api/v2/variables", {"key": "vcp_partitions", "value": str(PARTITIONS)})
    cluster.patch(f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
    cluster.post(f"/api/v2/dags/{DAG_ID}/dagRuns",
                 {"dag_run_id": RUN_ID, "logical_date": NIGHT.isoformat()})

    def finished() -> dict | None:
        bad = [ti for ti in task_instances(cluster) if ti["state"] in BAD_STATES]
        if bad:
            states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in bad}
            raise AssertionError(f"tasks went wrong under Celery: {states}\n{_task_logs(cluster, bad)}")
        run = cluster.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{RUN_ID}").json()
        return run if run["state"] in {"success", "failed"} else None

    def alive() -> None:
        cluster.check_alive()
        backends.sample()

    return wait_for(f"run {RUN_ID}", finished, timeout, every=0.5, alive=alive)


def warehouse_tables(url: str) -> dict[str, pd.DataFrame]:
    """Every warehouse table without its VOLATILE columns, in the order of its key."""
    from vcpipeline.warehouse import schema
    from vcpipeline.warehouse.frames import read_frame

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = {}
            for table in schema.metadata.sorted_tables:
                kept = [c for c in table.columns if c.name not in VOLATILE and c.name != "id"]
                key = [c.name for c in table.primary_key.columns if c in kept]
                if len(key) < len(table.primary_key.columns):  # quarantine: its natural key
                    (unique,) = [u for u in table.constraints if isinstance(u, sa.UniqueConstraint)]
                    key = [c.name for c in unique.columns]
                frame = read_frame(conn, sa.select(*kept))
                tables[table.name] = frame.sort_values(key).reset_index(drop=True)
            return tables
    finally:
        engine.dispose()


@pytest.mark.celery
def test_a_night_on_two_celery_workers_leaves_the_warehouse_dag_test_leaves(
    databases, redis_broker, measured, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from vcpipeline.cli import main as vcp
    from vcpipeline.orchestration import airflow_env
    from vcpipeline.orchestration.demo import load_team_reference
    from vcpipeline.orchestration.mailsink import MailSink
    from vcpipeline.warehouse.migrate import upgrade

    started, cpu_started, load_before = time.perf_counter(), time.process_time(), os.getloadavg()
    var_dir, out_dir = tmp_path / "var", tmp_path / "out"
    monkeypatch.setenv("VCP_VAR_DIR", str(var_dir))
    monkeypatch.setenv("VCP_OUT_DIR", str(out_dir))
    assert vcp(GENERATE) == 0
    shutil.copytree(var_dir, tmp_path / "reference-var")  # the same sources and landing drops

    metadata_url = databases.create("vcp_celery_meta")
    warehouse_url = databases.create("vcp_celery_wh")
    reference_url = databases.create("vcp_celery_ref")
    reference = dag_test_reference(tmp_path / "reference-var", tmp_path / "reference-out",
                                   reference_url, tmp_path / "dag-test.log")

    upgrade(warehouse_url)
    load_team_reference(warehouse_url)  # the same made-up leads as the reference's (seeded)
    with MailSink(tmp_path / "mail") as sink:
        cluster = CeleryCluster(
            home=tmp_path / "airflow", metadata_url=metadata_url, broker_url=redis_broker,
            extra_env=airflow_env.pipeline_env(
                warehouse_url=warehouse_url, smtp_host=sink.host, smtp_port=sink.port,
                data_engineering_email=DATA_ENGINEERING,
            ) | {"VCP_VAR_DIR": str(var_dir), "VCP_OUT_DIR": str(out_dir),
                 # The fallback the Variable overrides: four partition tasks show that the
                 # workers read vcp_partitions from the metadata DB, through the API server.
                 "VCP_PARTITIONS": "1"},
        )
        try:
            booting = time.perf_counter()
            cluster.start()
            cluster.wait_until_ready(DAG_ID)
            ready = time.perf_counter()
            backends = BackendCpu("vcp_celery_meta", "vcp_celery_wh")
            backends.sample()
            cpu, before = cluster.cpu_seconds(), backends.seconds()
            run = run_night(cluster, backends)
            night_wall = time.perf_counter() - ready
            night_cpu = cluster.cpu_seconds() - cpu
            backends.sample()
            server = {db: s - before[db] for db, s in backends.seconds().items()}
            tis = task_instances(cluster)
        finally:
            leftovers = cluster.stop()
    assert leftovers == [], f"processes outlived the deployment: {leftovers}"

    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in tis}
    assert run["state"] == "success", states
    assert (run["data_interval_start"], run["data_interval_end"]) == (
        "2026-04-01T01:00:00Z", "2026-04-02T01:00:00Z")
    partitions = sorted((ti for ti in tis if ti["task_id"] == "evaluate_partition"),
                        key=lambda ti: ti["map_index"])
    assert [(ti["rendered_map_index"], ti["state"]) for ti in partitions] == [
        (f"partition {p}", "success") for p in range(PARTITIONS)]
    assert all(state == "success" for state in states.values()), states
    workers = {cluster.worker_hostname(n) for n in (1, 2)}
    hosts = {ti["hostname"] for ti in tis}
    assert hosts == workers, f"every task on the two Celery workers, each taking some: {hosts}"

    expected, actual = warehouse_tables(reference_url), warehouse_tables(warehouse_url)
    filled = {name for name, frame in expected.items() if len(frame)}
    assert filled >= {"crimes", "victims", "case_events", "load_batches", "quarantine",
                      "obligations", "obligation_runs", "compliance_daily", "victim_compliance",
                      "summary_runs", "alert_messages", "alert_log"}, filled
    assert len(expected["obligations"]) > 100
    assert expected.keys() == actual.keys()
    for name in expected:
        pd.testing.assert_frame_equal(actual[name], expected[name], check_dtype=False, obj=name)
    # The same e-mails reached the mail server: each team lead's and the digest.
    assert _mail(sink.folder) == _mail(tmp_path / "reference-out" / "mail") != []

    by_worker = {h: sum(ti["hostname"] == h for ti in partitions) for h in sorted(workers)}
    partition_seconds = ", ".join(f"{ti['duration']:.1f}" for ti in partitions)
    waits = [(datetime.fromisoformat(ti["start_date"]) - datetime.fromisoformat(ti["queued_when"]))
             .total_seconds() for ti in tis if ti["queued_when"] and ti["start_date"]]
    measured.extend([
        f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (1 min)",
        f"dag.test() night (P = {PARTITIONS}, one process): {reference['night']:.1f} s; its whole "
        f"subprocess {reference['wall']:.1f} s wall, {reference['cpu']:.1f} s CPU "
        f"(its warehouse's PostgreSQL backends {reference['server']:.1f} s CPU, sampled)",
        f"CeleryExecutor start (migrate, 5 processes, DAG parsed, workers ready): "
        f"{ready - booting:.1f} s",
        f"CeleryExecutor night (trigger to success, {len(tis)} task instances, partitions by "
        f"worker {by_worker}): {night_wall:.1f} s wall, {night_cpu:.1f} s CPU in Airflow's "
        f"processes; PostgreSQL backends, sampled: warehouse {server['vcp_celery_wh']:.1f} s, "
        f"metadata {server['vcp_celery_meta']:.1f} s CPU; inside the tasks "
        f"{sum(ti['duration'] or 0 for ti in tis):.1f} s in all (partitions "
        f"{partition_seconds} s), queued to running "
        f"{sum(waits) / len(waits):.1f} s on average",
        f"compared {sum(map(len, expected.values()))} rows in {len(filled)} filled tables of "
        f"{len(expected)}",
        f"the whole test: {time.perf_counter() - started:.1f} s wall, "
        f"{time.process_time() - cpu_started:.1f} s CPU in pytest's process",
    ])
