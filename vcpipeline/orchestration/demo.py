"""Run the nightly DAG for a sequence of nights with `dag.test()`: real Airflow, no scheduler.

    python -m vcpipeline.orchestration.demo --first-night 2026-01-02 --nights 3

Sets up a throw-away Airflow home under `var/airflow/demo/` (SQLite metadata DB, this project's
dags/ and plugins/), starts the SMTP sink filing every e-mail under `out/mail/`, points the
`vcp_warehouse` connection at the warehouse (default: `VCP_WAREHOUSE_URL` / `var/warehouse.db`)
and runs night after night, 02:00 Europe/London each, printing where everything went.

Airflow reads its configuration when first imported, so call `run()` before anything in the
process imports airflow, or use `run_in_subprocess()` (what `vcp demo` should do).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from vcpipeline import settings
from vcpipeline.orchestration import airflow_env

LONDON = ZoneInfo("Europe/London")
DAG_ID = "victims_code_nightly"
DATA_ENGINEERING_EMAIL = "data-engineering@force.example"


@dataclass
class NightResult:
    night: date
    state: str
    seconds: float
    run_id: str


@dataclass
class DemoResult:
    airflow_home: Path
    mail_dir: Path
    warehouse_url: str
    nights: list[NightResult] = field(default_factory=list)
    setup_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(night.state == "success" for night in self.nights)


def _absolute_sqlite(url: str) -> str:
    """Tasks may run elsewhere than here: make a relative SQLite path absolute."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(Path(url[len(prefix):]).resolve())
    return url


def run(first_night: date, nights: int, warehouse_url: str | None = None,
        out: Path | None = None) -> DemoResult:
    """Run `nights` consecutive nights starting with the run at 02:00 on `first_night` (local)."""
    started = time.perf_counter()
    home = (settings.var_dir() / "airflow" / "demo").resolve()
    cache = (settings.var_dir() / "airflow").resolve()
    shutil.rmtree(home, ignore_errors=True)
    seeded = airflow_env.seed_metadata_db(home, cache)
    airflow_env.apply(airflow_env.airflow_home_env(home))

    from vcpipeline.orchestration.mailsink import MailSink
    from vcpipeline.warehouse.migrate import upgrade

    url = _absolute_sqlite(warehouse_url or settings.warehouse_url())
    upgrade(url)  # idempotent; the nightly run refuses a warehouse without our schema
    mail_dir = (out or settings.out_dir()) / "mail"
    result = DemoResult(airflow_home=home, mail_dir=mail_dir.resolve(), warehouse_url=url)

    with MailSink(mail_dir) as sink:
        airflow_env.apply(airflow_env.pipeline_env(
            warehouse_url=url, smtp_host=sink.host, smtp_port=sink.port,
            data_engineering_email=DATA_ENGINEERING_EMAIL,
        ))
        airflow_env.migrate_metadata_db()
        if not seeded:
            airflow_env.save_metadata_template(home, cache)

        from airflow.dag_processing.dagbag import DagBag

        from vcpipeline.orchestration.dagtest import run_dag_test

        dag = DagBag(dag_folder=str(airflow_env.PROJECT_ROOT / "dags")).dags[DAG_ID]
        result.setup_seconds = time.perf_counter() - started
        for offset in range(nights):
            night = first_night + timedelta(days=offset)
            t0 = time.perf_counter()
            run_ = run_dag_test(dag, datetime(night.year, night.month, night.day, 2, tzinfo=LONDON))
            result.nights.append(
                NightResult(night, str(run_.state), time.perf_counter() - t0, run_.run_id)
            )
            print(f"night of {night}: {run_.state} in {result.nights[-1].seconds:.1f} s", flush=True)
    return result


def report(result: DemoResult) -> str:
    """Where the outputs are, for people."""
    mails = sorted(result.mail_dir.glob("*.eml")) if result.mail_dir.exists() else []
    lines = [
        f"{len(result.nights)} night(s) of {DAG_ID}: "
        + ", ".join(f"{n.night} {n.state}" for n in result.nights),
        f"  Airflow home (metadata DB, logs): {result.airflow_home}",
        f"  task logs:                        {result.airflow_home / 'logs'}",
        f"  warehouse:                        {result.warehouse_url}",
        f"  e-mail, {len(mails):>3} message(s):         {result.mail_dir}",
        f"  setup {result.setup_seconds:.1f} s; per night "
        + ", ".join(f"{n.seconds:.1f}" for n in result.nights) + " s",
    ]
    return "\n".join(lines)


def run_in_subprocess(first_night: date, nights: int, warehouse_url: str | None = None) -> int:
    """The demo in a fresh interpreter, so the caller's imports cannot clash with Airflow's home."""
    command = [sys.executable, "-m", "vcpipeline.orchestration.demo",
               "--first-night", first_night.isoformat(), "--nights", str(nights)]
    if warehouse_url:
        command += ["--warehouse-url", warehouse_url]
    return subprocess.run(command, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vcpipeline.orchestration.demo",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--first-night", type=date.fromisoformat, default=date(2026, 1, 2),
                        help="local date of the first 02:00 run (default 2026-01-02)")
    parser.add_argument("--nights", type=int, default=3)
    parser.add_argument("--warehouse-url", default=None)
    args = parser.parse_args(argv)
    result = run(args.first_night, args.nights, args.warehouse_url)
    print(report(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
