"""DAG parse time: seconds to import each DAG file beyond importing Airflow itself (budget < 1 s).

    .venv/bin/python benchmarks/bench_parse.py

Each file is timed in a fresh interpreter (so nothing is cached from another file), after
`airflow.sdk` and the providers the DAGs use are imported, the way the DAG processor's
long-lived process has them. Also reports the one-off cost of importing Airflow, and whether
parsing pulled in anything heavy (pandas, Great Expectations, the pipeline's logic).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 1.0
REPEATS = 3

_PROBE = r"""
import json, os, runpy, sys, time
sys.path.insert(0, os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"])
t0 = time.perf_counter()
import airflow.sdk  # noqa: F401
import airflow.providers.smtp.notifications.smtp  # noqa: F401
t1 = time.perf_counter()
before = set(sys.modules)
runpy.run_path(sys.argv[1])
t2 = time.perf_counter()
heavy = {"pandas", "great_expectations", "vcpipeline.tasks.nightly", "vcpipeline.tasks.quarterly_sample",
         "vcpipeline.tasks.review_ingest", "vcpipeline.calendar", "sqlalchemy.orm"}
print(json.dumps({"airflow_import": t1 - t0, "dag_import": t2 - t1,
                  "heavy": sorted(heavy & (set(sys.modules) - before))}))
"""


def _env(home: Path) -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    import os

    from vcpipeline.orchestration.airflow_env import airflow_home_env

    return {**os.environ, **airflow_home_env(home, ROOT)}


def measure(dag_file: Path, env: dict[str, str]) -> dict:
    runs = []
    for _ in range(REPEATS):
        out = subprocess.run([sys.executable, "-c", _PROBE, str(dag_file)], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "dag_import": min(r["dag_import"] for r in runs),
        "airflow_import": min(r["airflow_import"] for r in runs),
        "heavy": runs[0]["heavy"],
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="vcp-bench-parse-") as home:
        env = _env(Path(home))
        failures = 0
        print(f"{'DAG file':40} {'parse s':>8} {'airflow s':>10}  heavy imports")
        for dag_file in sorted((ROOT / "dags").glob("*.py")):
            result = measure(dag_file, env)
            over = result["dag_import"] >= BUDGET_SECONDS or result["heavy"]
            failures += bool(over)
            print(f"{dag_file.name:40} {result['dag_import']:8.3f} {result['airflow_import']:10.2f}  "
                  f"{', '.join(result['heavy']) or '-'}{'  OVER BUDGET' if over else ''}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
