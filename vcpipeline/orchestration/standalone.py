"""`make airflow`: Airflow's UI on http://localhost:8080 with this project's DAGs, on this machine.

Runs `airflow standalone` (API server + UI, scheduler, DAG processor, triggerer, LocalExecutor)
with the demo's Airflow home `var/airflow/demo/` when `make demo` has left one (so the UI shows
the demo's DAG runs), else its own `var/airflow/standalone/` (kept between runs), a SQLite metadata DB, the
project's dags/ and plugins/, the embedded warehouse as connection `vcp_warehouse`, and every
e-mail filed under `out/mail/` by the SMTP sink. Listens on 127.0.0.1 only; no login needed.
DAGs start paused: unpause `victims_code_nightly` in the UI, or trigger a run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vcpipeline import settings
from vcpipeline.instants import LONDON
from vcpipeline.orchestration import airflow_env, variables
from vcpipeline.orchestration.demo import DATA_ENGINEERING_EMAIL, REVIEWERS_EMAIL, _absolute_sqlite


def ui_airflow_home(var_dir: Path) -> tuple[Path, str]:
    """The Airflow home to open and why: the demo's (`var/airflow/demo/`) when a demo run left
    its metadata DB there, so the UI shows what `make demo` ran; else `make airflow`'s own."""
    demo = (var_dir / "airflow" / "demo").resolve()
    if (demo / "airflow.db").is_file():
        return demo, "the demo's Airflow home: its DAG runs are in the UI (the next `make demo` starts it afresh)"
    return (var_dir / "airflow" / "standalone").resolve(), "make airflow's own home (no demo run found)"


def standalone_env(home: Path, smtp_host: str, smtp_port: int, warehouse_url: str) -> dict[str, str]:
    """The environment `airflow standalone` runs in."""
    env = dict(os.environ)
    env.update(airflow_env.airflow_home_env(home))
    env.update(airflow_env.pipeline_env(
        warehouse_url=warehouse_url, smtp_host=smtp_host, smtp_port=smtp_port,
        data_engineering_email=DATA_ENGINEERING_EMAIL,
    ))
    out = settings.out_dir().resolve()
    port = env.get("AIRFLOW__API__PORT", "8080")
    # The digest links to Data Docs in this UI (unless a base URL is configured).
    base_url = env.get("VCP_AIRFLOW_BASE_URL") or f"http://localhost:{port}"
    env.update(variables.variables_env(
        reviewers_email=REVIEWERS_EMAIL, sample_folder=out / "sample",
        returns_folder=out / "sample" / "returns",
        data_docs_url=variables.default_data_docs_url(base_url),
    ))
    env.update({
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": port,
        # Task processes report to the API server: tell them where it is, whatever the port.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",  # local only: no login form
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": LONDON,
        "VCP_WAREHOUSE_URL": warehouse_url,
        # standalone starts its components as `airflow ...` subprocesses: find ours first.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    })
    return env


def main() -> int:
    from vcpipeline.orchestration.mailsink import MailSink
    from vcpipeline.warehouse.migrate import upgrade

    home, why = ui_airflow_home(settings.var_dir())
    home.mkdir(parents=True, exist_ok=True)
    warehouse_url = _absolute_sqlite(settings.warehouse_url())
    upgrade(warehouse_url)
    airflow = Path(sys.executable).with_name("airflow")
    with MailSink(settings.out_dir() / "mail") as sink:
        env = standalone_env(home, sink.host, sink.port, warehouse_url)
        print(f"Airflow home {home}\n  ({why})\nUI http://127.0.0.1:{env['AIRFLOW__API__PORT']}  "
              f"(e-mail → {sink.folder}/, warehouse {warehouse_url})\nCtrl-C stops everything.",
              flush=True)
        # Its own process group, stopped as a whole: a scheduler's executor workers otherwise
        # outlive `airflow standalone` when only it gets the signal.
        process = subprocess.Popen([str(airflow), "standalone"], env=env, start_new_session=True)
        try:
            return process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    """SIGINT the whole group (what Ctrl-C would), then SIGTERM, then SIGKILL, 30 s apart."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=30)
            os.killpg(process.pid, 0)  # group still alive (e.g. executor workers)?
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


if __name__ == "__main__":
    sys.exit(main())
