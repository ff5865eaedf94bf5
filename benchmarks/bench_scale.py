"""Benchmark a full evaluation at scale, each task in its own process as the nightly DAG runs it.

    .venv/bin/python benchmarks/bench_scale.py [--victims 5000000] [--compare-victims 1000000]
        [--sqlite-victims 1000000] [--partitions 16] [--parallel 2] [--admin URL]

On a PostgreSQL database of its own (`vcp_bench_scale`, created here and dropped at the end), in
turn: (1) P = 1 against P = 4 on `--compare-victims` victims: the same obligations (an ordered
checksum, key range by key range) and summaries, and the time ratio; (2) SQLite at
`--sqlite-victims` with P = 1; (3) the big one: `--victims` victims with P = `--partitions`.
Each run loads the synthetic history (`synthetic_history.load_synthetic_history`, chunked, one
batch), then evaluates it in full as the DAG would: the plan, each partition, the finish and
the summaries each in a child process (as a Celery worker runs a task), at most `--parallel`
children at a time (2: this machine has 2 cores). Per task: wall time, CPU time of the child
(user + system), CPU time of the PostgreSQL backends it used, and peak RSS of the child
(`os.wait4`'s rusage). Then throughput for the capacity model: rows/s loaded, victims/s and
events/s per partition-second, summaries' victims/s, and MB of warehouse per 100,000 victims.
The 5M run takes about an hour here: run it in the background and once.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

AS_OF = pd.Timestamp("2026-03-31T01:00:00Z")
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DATABASE = "vcp_bench_scale"
# Obligations are compared in key ranges of this many crimes (an md5 of each range, in key order).
CHECK_CRIMES = 50_000


# ----------------------------------------------------------------------------- one task (child)

def run_task(args: argparse.Namespace) -> None:
    """One task of the evaluation in this process; its result and times as JSON in `--out`."""
    sys.path.insert(0, str(Path(__file__).parent))
    from backend_cpu import backends_cpu_seconds, remember_backends
    from synthetic_history import load_synthetic_history

    from vcpipeline.rules.store import (
        NightPlan,
        finish_obligations,
        plan_obligations,
        refresh_partition,
    )
    from vcpipeline.rules.summaries import load_summaries
    from vcpipeline.warehouse.db import make_engine
    from vcpipeline.warehouse.migrate import upgrade

    began, cpu = time.perf_counter(), time.process_time()
    if args.task == "load":
        upgrade(args.url)
    engine = make_engine(args.url)
    pids = remember_backends(engine)
    folder = Path(args.work)
    if args.task == "load":
        result: Any = load_synthetic_history(engine, args.n, as_of=AS_OF)
    elif args.task == "plan":
        result = plan_obligations(engine, AS_OF, full=True, partitions=args.n).as_json()
        (folder / "plan.json").write_text(json.dumps(result))
    elif args.task == "partition":
        plan = NightPlan.from_json(json.loads((folder / "plan.json").read_text()))
        result = refresh_partition(engine, plan, args.n)
        (folder / f"partition-{args.n}.json").write_text(json.dumps(result))
    elif args.task == "finish":
        plan = NightPlan.from_json(json.loads((folder / "plan.json").read_text()))
        results = [json.loads((folder / f"partition-{k}.json").read_text()) for k in range(plan.partitions)]
        result = finish_obligations(engine, plan, results)
    else:
        result = load_summaries(engine, AS_OF)
    server = backends_cpu_seconds(pids)
    engine.dispose()
    Path(args.out).write_text(json.dumps({
        "result": result, "wall": time.perf_counter() - began, "cpu": time.process_time() - cpu,
        "server_cpu": server}))


# ----------------------------------------------------------------------------- the runs (parent)

@dataclass
class Task:
    name: str
    wall: float
    cpu: float  # the child's user + system time (rusage)
    server_cpu: float
    peak_gb: float
    result: Any


def run_children(url: str, work: Path, tasks: list[tuple[str, int]], parallel: int) -> list[Task]:
    """Run each (task, n) in a child process, at most `parallel` at a time; in the given order."""
    pending = list(enumerate(tasks))
    running: dict[int, tuple[int, subprocess.Popen[bytes], float]] = {}
    done: dict[int, Task] = {}
    while pending or running:
        while pending and len(running) < parallel:
            index, (task, n) = pending.pop(0)
            out = work / f"out-{index}.json"
            child = subprocess.Popen([sys.executable, __file__, "--task", task, "--n", str(n),
                                      "--url", url, "--work", str(work), "--out", str(out)])
            running[child.pid] = (index, child, time.perf_counter())
        pid, status, usage = os.wait4(-1, 0)
        index, child, started = running.pop(pid)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise RuntimeError(f"task {tasks[index]} failed with exit code {child.returncode}")
        report = json.loads((work / f"out-{index}.json").read_text())
        task, n = tasks[index]
        done[index] = Task(f"{task} {n}" if task == "partition" else task, time.perf_counter() - started,
                           usage.ru_utime + usage.ru_stime, report["server_cpu"],
                           usage.ru_maxrss / 1024 / 1024, report["result"])
    return [done[index] for index in range(len(tasks))]


def evaluate(url: str, work: Path, partitions: int, parallel: int) -> tuple[list[Task], float]:
    """A full evaluation and the summaries as the DAG runs them; the tasks and the whole wall time."""
    began = time.perf_counter()
    tasks = run_children(url, work, [("plan", partitions)], 1)
    tasks += run_children(url, work, [("partition", k) for k in range(partitions)], parallel)
    tasks += run_children(url, work, [("finish", 0)], 1)
    tasks += run_children(url, work, [("summaries", 0)], 1)
    return tasks, time.perf_counter() - began


def print_tasks(tasks: list[Task]) -> None:
    """Each task's figures; a partition's also its read, evaluate and write seconds."""
    print(f"    {'task':<14}{'wall s':>9}{'CPU s':>9}{'server s':>10}{'peak GB':>9}   read/evaluate/write s")
    for task in tasks:
        steps = ""
        if task.name.startswith("partition"):
            steps = "   " + "/".join(f"{task.result[k]:.1f}" for k in ("read_seconds", "evaluate_seconds",
                                                                          "write_seconds"))
        print(f"    {task.name:<14}{task.wall:9.1f}{task.cpu:9.1f}{task.server_cpu:10.1f}{task.peak_gb:9.2f}{steps}")


def ordered_checksums(url: str) -> dict[str, str]:
    """Per table, an md5 over md5s of key ranges of CHECK_CRIMES crimes, each of the rows as text
    in key order (PostgreSQL; a full table would exceed string_agg's 1 GB)."""
    import hashlib

    keys = {"obligations": "crime_ref, victim_id, rule, trigger_event_id",
            "victim_compliance": "crime_ref, victim_id"}
    engine = sa.create_engine(url)
    sums: dict[str, str] = {}
    with engine.connect() as conn:
        bounds = conn.execute(sa.text(
            "SELECT crime_ref FROM (SELECT crime_ref, row_number() OVER (ORDER BY crime_ref) AS n "
            "FROM crimes) ranked WHERE n % :step = 0 ORDER BY crime_ref"), {"step": CHECK_CRIMES}).scalars().all()
        edges = [None, *bounds, None]
        for table, key in keys.items():
            digest = hashlib.md5()
            for low, high in itertools.pairwise(edges):
                where = " AND ".join(part for part, value in (("crime_ref > :low", low),
                                                              ("crime_ref <= :high", high)) if value)
                digest.update((conn.execute(sa.text(
                    f"SELECT md5(string_agg(t::text, E'\\n' ORDER BY {key})) FROM {table} t"
                    + (f" WHERE {where}" if where else "")), {"low": low, "high": high}).scalar() or "").encode())
            sums[table] = digest.hexdigest()
        for table, key in (("compliance_daily", "due_date, department, owner, rule, enhanced"),
                           ("compliance_monthly", "due_month, department, owner, rule, enhanced")):
            sums[table] = conn.execute(sa.text(
                f"SELECT md5(string_agg(t::text, E'\\n' ORDER BY {key})) FROM {table} t")).scalar()
    engine.dispose()
    return sums


def warehouse_mb(url: str) -> dict[str, float]:
    """MB on disk: each input table, obligations, summaries, and the whole database."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            path = Path(engine.url.database)
            sizes = {"total": path.stat().st_size / 1e6}
        else:
            sizes = {name: conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": name}).scalar() / 1e6
                     for name in ("crimes", "victims", "case_events", "evaluated_events", "obligations",
                                  "victim_compliance", "compliance_daily")}
            sizes["total"] = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar() / 1e6
    engine.dispose()
    return sizes


def fresh_database(admin: str, name: str) -> str:
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return str(sa.make_url(admin).set(database=name).render_as_string(hide_password=False))


def drop_database(admin: str, name: str) -> None:
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


def one_run(label: str, url: str, n_victims: int, partitions: int, parallel: int,
            *, loaded_before: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load (unless `loaded_before`, the row of the run that loaded it), evaluate in full,
    summarise; print and return the figures."""
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as folder:
        work = Path(folder)
        row: dict[str, Any] = {"run": label, "P": partitions, "load": os.getloadavg()}
        if loaded_before:
            row.update(victims=loaded_before["victims"], events=loaded_before["events"])
        else:
            [loaded] = run_children(url, work, [("load", n_victims)], 1)
            rows = sum(loaded.result.values())
            row.update(victims=loaded.result["victims"], events=loaded.result["events"],
                       load_s=loaded.wall, load_rows_s=rows / loaded.wall, load_peak_gb=loaded.peak_gb,
                       load_cpu=loaded.cpu, load_server_cpu=loaded.server_cpu)
            print(f"[{label}] loaded {loaded.result} in {loaded.wall:.0f} s ({rows / loaded.wall:,.0f} rows/s; "
                  f"CPU {loaded.cpu:.0f} s, server {loaded.server_cpu:.0f} s; peak {loaded.peak_gb:.2f} GB)",
                  flush=True)
        tasks, wall = evaluate(url, work, partitions, parallel)
    print(f"[{label}] full evaluation, P = {partitions}, {parallel} at a time: {wall:.0f} s wall "
          f"(load average {os.getloadavg()[0]:.2f})", flush=True)
    print_tasks(tasks)
    parts = [t for t in tasks if t.name.startswith("partition")]
    summaries = tasks[-1]
    row.update(wall=wall, cpu=sum(t.cpu for t in tasks), server_cpu=sum(t.server_cpu for t in tasks),
               largest_peak_gb=max(t.peak_gb for t in tasks), partition_s=sum(t.wall for t in parts),
               partition_cpu=sum(t.cpu + t.server_cpu for t in parts),
               partition_peak_gb=max(t.peak_gb for t in parts), finish_s=tasks[-2].wall,
               finish_cpu=tasks[-2].cpu + tasks[-2].server_cpu, summaries_s=summaries.wall,
               summaries_cpu=summaries.cpu + summaries.server_cpu, summaries_peak_gb=summaries.peak_gb,
               obligations=tasks[-2].result["obligations_total"])
    row.update(victims_per_s=row["victims"] / row["partition_s"],
               events_per_s=row["events"] / row["partition_s"],
               victims_per_cpu_s=row["victims"] / row["partition_cpu"],
               summary_victims_per_s=row["victims"] / row["summaries_s"])
    if not loaded_before:  # a rerun's database also holds the rows it replaced (dead until vacuumed)
        row.update(mb=warehouse_mb(url))
        row.update(mb_per_100k=row["mb"]["total"] / row["victims"] * 1e5)
    print(f"[{label}] {json.dumps(row, default=str)}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victims", type=int, default=5_000_000, help="the P = --partitions run (0: skip)")
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--compare-victims", type=int, default=1_000_000, help="P = 1 vs P = 4 (0: skip)")
    parser.add_argument("--sqlite-victims", type=int, default=1_000_000, help="SQLite, P = 1 (0: skip)")
    parser.add_argument("--parallel", type=int, default=2, help="partition tasks at a time")
    parser.add_argument("--admin", default=ADMIN_URL, help="a PostgreSQL URL to create the database from")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.task:
        run_task(args)
        return
    print(f"as of {AS_OF.isoformat()}; {os.cpu_count()} CPUs; load average {os.getloadavg()}", flush=True)
    rows = []
    try:
        if args.compare_victims:  # the same data twice (the history is seeded): a first load each
            n, runs, sums = args.compare_victims, [], []
            for partitions in (1, 4):
                url = fresh_database(args.admin, args.database)
                runs.append(one_run(f"postgresql {n:,} P={partitions}", url, n, partitions, args.parallel))
                sums.append(ordered_checksums(url))
            runs.append(one_run(f"postgresql {n:,} P=4 rerun", url, n, 4, args.parallel, loaded_before=runs[-1]))
            sums.append(ordered_checksums(url))
            same = all(other == sums[0] for other in sums)
            one, four = runs[0], runs[1]
            print(f"P = 1 vs P = 4 (first loads) and P = 4 again (replacing every row): identical obligations "
                  f"and summaries: {same} ({sums[0]}); P4/P1 ratios: evaluation wall "
                  f"{four['wall'] / one['wall']:.2f}, partitions' summed wall {four['partition_s'] / one['partition_s']:.2f}, "
                  f"CPU (own + PostgreSQL) {(four['cpu'] + four['server_cpu']) / (one['cpu'] + one['server_cpu']):.2f}",
                  flush=True)
            if not same:
                raise SystemExit("P = 4 differs from P = 1")
            rows += runs
        if args.sqlite_victims:
            with tempfile.TemporaryDirectory(prefix="bench_scale_sqlite_") as folder:
                rows.append(one_run(f"sqlite {args.sqlite_victims:,} P=1", f"sqlite:///{folder}/warehouse.db",
                                    args.sqlite_victims, 1, 1))
        if args.victims:
            url = fresh_database(args.admin, args.database)
            rows.append(one_run(f"postgresql {args.victims:,} P={args.partitions}", url, args.victims,
                                args.partitions, args.parallel))
    finally:
        if not args.keep:
            drop_database(args.admin, args.database)
    print_table(rows)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'run':<30}{'victims':>10}{'events':>12}{'load r/s':>10}{'eval s':>8}{'CPU s':>8}{'srv s':>8}"
          f"{'peak GB':>8}{'vict/s':>9}{'evt/s':>10}{'v/CPU s':>9}{'summ v/s':>9}{'MB/100k':>8}")
    for row in rows:
        print(f"{row['run']:<30}{row['victims']:>10,}{row['events']:>12,}"
              f"{row.get('load_rows_s', 0):>10,.0f}{row['wall']:>8.0f}{row['cpu']:>8.0f}{row['server_cpu']:>8.0f}"
              f"{row['largest_peak_gb']:>8.2f}{row['victims_per_s']:>9,.0f}{row['events_per_s']:>10,.0f}"
              f"{row['victims_per_cpu_s']:>9,.0f}{row['summary_victims_per_s']:>9,.0f}"
              f"{row.get('mb_per_100k', 0):>8.0f}")
    print("vict/s, evt/s: per partition-second (victims or events / the partitions' summed wall time); "
          "v/CPU s: victims per CPU second of the partitions (their own and their PostgreSQL backends'); "
          "eval s: plan + partitions + finish + summaries (wall); peak: the largest task's; "
          "MB/100k: the whole database after the run (0: a rerun, not measured).")


if __name__ == "__main__":
    main()
