"""Run the nightly DAG for a sequence of nights with `dag.test()`: real Airflow, no scheduler.

    python -m vcpipeline.orchestration.demo --first-night 2026-10-08 --nights 7

Sets up a throw-away Airflow home under `var/airflow/demo/` (SQLite metadata DB, this project's
dags/ and plugins/), starts the SMTP sink filing every e-mail under `out/mail/`, points the
`vcp_warehouse` connection at the warehouse (default: `VCP_WAREHOUSE_URL` / `var/warehouse.db`),
loads the synthetic force's team reference (the morning alerts' recipients) and runs night after
night, 02:00 Europe/London each, printing where everything went.

Then the quarter's dip sample, as the force would live it: the sample DAG for the quarter ended
before the last night (it waits for the night covering the quarter's end: when the nights asked
for start later, that night is run first, and the watermarks catch the gap up), demo reviewers
fill in the worksheets (`sampling.simulate`), and the review-ingest DAG loads them and publishes
the survey results. `--no-sample` stops after the nights.

Airflow reads its configuration when first imported, so call `run()` before anything in the
process imports airflow, or use `run_in_subprocess()` (what `vcp demo` should do).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from vcpipeline import instants, settings
from vcpipeline.orchestration import airflow_env, timetables, variables

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import DAG

LONDON = ZoneInfo(instants.LONDON)
DAG_ID = "victims_code_nightly"
SAMPLE_DAG_ID = "victims_code_quarterly_sample"
REVIEW_DAG_ID = "victims_code_review_ingest"
DATA_ENGINEERING_EMAIL = "data-engineering@force.example"
REVIEWERS_EMAIL = "dip-sample-reviewers@force.example"
TEAMS_SEED = 42  # the same made-up leads as `vcp alerts --write-synthetic-teams`


@dataclass
class NightResult:
    night: date
    state: str
    seconds: float
    run_id: str


@dataclass
class RunResult:
    """One run of a sampling DAG (or the demo reviewers' step)."""

    what: str
    state: str
    seconds: float
    detail: str = ""


@dataclass
class DemoResult:
    airflow_home: Path
    mail_dir: Path
    warehouse_url: str
    nights: list[NightResult] = field(default_factory=list)
    setup_seconds: float = 0.0
    out_dir: Path = field(default_factory=lambda: settings.out_dir().resolve())
    quarter: str | None = None
    sampling: list[RunResult] = field(default_factory=list)
    teams_loaded: int = 0

    @property
    def ok(self) -> bool:
        return all(r.state == "success" for r in [*self.nights, *self.sampling])


def _absolute_sqlite(url: str) -> str:
    """Tasks may run elsewhere than here: make a relative SQLite path absolute."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(Path(url[len(prefix):]).resolve())
    return url


def run(first_night: date, nights: int, warehouse_url: str | None = None,
        out: Path | None = None, *, sample: bool = True, teams_file: Path | None = None) -> DemoResult:
    """Run `nights` consecutive nights starting with the run at 02:00 on `first_night` (local),
    then (with `sample`) the quarter's dip sample, the demo reviewers and the review ingest."""
    started = time.perf_counter()
    if out is not None:
        os.environ["VCP_OUT_DIR"] = str(out)  # the tasks' data docs, samples and results go there too
    out = settings.out_dir()
    home = (settings.var_dir() / "airflow" / "demo").resolve()
    cache = (settings.var_dir() / "airflow").resolve()
    shutil.rmtree(home, ignore_errors=True)
    seeded = airflow_env.seed_metadata_db(home, cache)
    airflow_env.apply(airflow_env.airflow_home_env(home))
    # A newcomer reads the demo's own lines; Airflow's INFO task logs would bury them.
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

    from vcpipeline.orchestration.mailsink import MailSink
    from vcpipeline.warehouse.migrate import upgrade

    url = _absolute_sqlite(warehouse_url or settings.warehouse_url())
    upgrade(url)  # idempotent; the nightly run refuses a warehouse without our schema
    mail_dir = out / "mail"
    result = DemoResult(airflow_home=home, mail_dir=mail_dir.resolve(), warehouse_url=url,
                        out_dir=out.resolve())
    result.teams_loaded = load_team_reference(url, teams_file)
    nights_to_run = demo_nights(first_night, nights, sample=sample)

    with MailSink(mail_dir) as sink:
        airflow_env.apply(airflow_env.pipeline_env(
            warehouse_url=url, smtp_host=sink.host, smtp_port=sink.port,
            data_engineering_email=DATA_ENGINEERING_EMAIL,
        ))
        airflow_env.apply(variables.variables_env(
            reviewers_email=REVIEWERS_EMAIL, sample_folder=(out / "sample").resolve(),
            returns_folder=(out / "sample" / "returns").resolve(),
            data_docs_url=variables.default_data_docs_url(),  # Data Docs in `make airflow`'s UI
        ))
        airflow_env.migrate_metadata_db()
        if not seeded:
            airflow_env.save_metadata_template(home, cache)

        from airflow.dag_processing.dagbag import DagBag

        from vcpipeline.orchestration.dagtest import run_dag_test

        dags = DagBag(dag_folder=str(airflow_env.PROJECT_ROOT / "dags")).dags
        dag = dags[DAG_ID]
        result.setup_seconds = time.perf_counter() - started
        for night in nights_to_run:
            t0 = time.perf_counter()
            run_ = run_dag_test(dag, datetime(night.year, night.month, night.day, 2, tzinfo=LONDON))
            result.nights.append(
                NightResult(night, str(run_.state), time.perf_counter() - t0, run_.run_id)
            )
            print(f"night of {night}: {run_.state} in {result.nights[-1].seconds:.1f} s", flush=True)
        if sample and nights_to_run and result.ok:
            run_quarter(dags, nights_to_run[-1], out, result)
    return result


def demo_nights(first_night: date, nights: int, *, sample: bool) -> list[date]:
    """The nights to run: `nights` from `first_night`, and, for the sample, first the night
    covering the end of the quarter it samples when that is earlier (the sample waits for it)."""
    chosen = [first_night + timedelta(days=offset) for offset in range(nights)]
    if sample and chosen:
        quarter_end_night = _quarter_run_before(chosen[-1]).quarter_end.date()
        if quarter_end_night < first_night:
            chosen.insert(0, quarter_end_night)
    return chosen


def _quarter_run_before(night: date) -> timetables.QuarterRun:
    """The sampling run for the quarter that ended before the night's 02:00 run."""
    return timetables.latest_quarter_run_before(
        datetime(night.year, night.month, night.day, 2, tzinfo=LONDON), time_of_day(6), instants.LONDON)


def _quick(dag: DAG, sensor_id: str, timeout: float) -> DAG:
    """A demo does not wait minutes: poke every second, give up after `timeout`, retry fast."""
    sensor = dag.get_task(sensor_id)
    sensor.poke_interval, sensor.timeout = 1, timeout
    for task in dag.tasks:
        task.retry_delay = timedelta(seconds=2)
    return dag


def run_quarter(dags: dict[str, DAG], last_night: date, out: Path, result: DemoResult) -> None:
    """The sample DAG for the quarter ended before `last_night`, the demo reviewers, the ingest DAG."""
    from vcpipeline.orchestration.dagtest import run_dag_test
    from vcpipeline.sampling.simulate import simulate_returns

    quarter_run = _quarter_run_before(last_night)
    result.quarter = quarter_run.quarter
    # dag.test() infers the data interval (the quarter just ended) from the run's time.
    sample_dag = _quick(dags[SAMPLE_DAG_ID], "quarter_end_night_succeeded", 30)
    t0 = time.perf_counter()
    run_ = run_dag_test(sample_dag, quarter_run.run_at)
    result.sampling.append(RunResult(f"{SAMPLE_DAG_ID} {quarter_run.quarter}", str(run_.state),
                                     time.perf_counter() - t0))
    print(f"dip sample {quarter_run.quarter}: {run_.state} in {result.sampling[-1].seconds:.1f} s",
          flush=True)
    if run_.state != "success":
        return

    sample_folder, returns = out / "sample", out / "sample" / "returns"
    t0 = time.perf_counter()
    worksheets = sorted(sample_folder.glob(f"{quarter_run.quarter}-*.xlsx"))
    returned = simulate_returns(worksheets, returns, response_rate=0.95)
    result.sampling.append(RunResult("demo reviewers", "success", time.perf_counter() - t0,
                                     f"{len(returned)} worksheet(s) returned"))

    review_dag = _quick(dags[REVIEW_DAG_ID], "returns_arrived", 10)
    t0 = time.perf_counter()
    run_ = run_dag_test(review_dag, datetime.combine(quarter_run.run_at.date() + timedelta(days=14),
                                                     time_of_day(7), tzinfo=LONDON))
    result.sampling.append(RunResult(f"{REVIEW_DAG_ID} {quarter_run.quarter}", str(run_.state),
                                     time.perf_counter() - t0))
    print(f"review ingest {quarter_run.quarter}: {run_.state} in {result.sampling[-1].seconds:.1f} s",
          flush=True)


def synthetic_force_teams() -> pd.DataFrame:
    """Every (department, team) in the synthetic crime recording system, read straight from it
    (the warehouse is still empty before the first night)."""
    import pandas as pd
    import sqlalchemy as sa

    from vcpipeline.errors import InputError
    from vcpipeline.sources.common import map_codes
    from vcpipeline.sources.config import source_config

    config = source_config("crime_recording")
    url = sa.make_url(config.connection)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise InputError(f"no synthetic force in {url.database}: run `vcp generate` first")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            native = pd.read_sql(sa.text("SELECT DISTINCT reporting_unit, owning_team FROM crimes"), conn)
            areas = pd.read_sql(sa.text("SELECT DISTINCT court_area FROM crimes"), conn)
    finally:
        engine.dispose()
    units = config.codes("reporting_unit")
    native = native.dropna().astype("str")
    native = native[native["reporting_unit"].isin(list(units)) & (native["owning_team"] != "")]
    teams = pd.DataFrame({"department": map_codes(native["reporting_unit"], units),
                          "team": native["owning_team"]}).drop_duplicates()
    # The witness care teams serving the crimes' court areas (alerts after charge go to them).
    witness_care = sorted(set(areas["court_area"].dropna().astype("str").map(config.codes("court_area"))
                              .dropna()))
    teams = pd.concat([teams, pd.DataFrame({"department": "WITNESS_CARE", "team": witness_care})],
                      ignore_index=True)
    # The source's bad rows put some teams under a unit they do not belong to: the warehouse
    # quarantines those rows, and a team must have one department in the reference.
    return teams[~teams["team"].duplicated(keep=False)]


def load_team_reference(warehouse_url: str, teams_file: Path | None = None) -> int:
    """Store the team reference the morning alerts route by: `teams_file` (as written by
    `vcp alerts --write-synthetic-teams`), else made-up leads for the synthetic force's teams."""
    from datetime import UTC

    from vcpipeline.alerts.reference import (
        read_team_reference,
        store_team_leads,
        synthetic_team_reference,
    )
    from vcpipeline.warehouse.db import make_engine

    reference = (read_team_reference(teams_file) if teams_file is not None
                 else synthetic_team_reference(synthetic_force_teams(), TEAMS_SEED))
    engine = make_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            return store_team_leads(conn, reference, datetime.now(UTC))
    finally:
        engine.dispose()


def report(result: DemoResult) -> str:
    """Where the outputs are, for people."""
    mails = sorted(result.mail_dir.glob("*.eml")) if result.mail_dir.exists() else []
    sample_folder = result.out_dir / "sample"
    lines = [
        f"{len(result.nights)} night(s) of {DAG_ID}: "
        + ", ".join(f"{n.night} {n.state}" for n in result.nights),
        *(f"{r.what}: {r.state} in {r.seconds:.1f} s" + (f" ({r.detail})" if r.detail else "")
          for r in result.sampling),
        f"  Airflow home (metadata DB, logs): {result.airflow_home}",
        f"  task logs:                        {result.airflow_home / 'logs'}",
        f"  warehouse:                        {result.warehouse_url}",
        f"  team leads loaded:                {result.teams_loaded}",
        f"  e-mail, {len(mails):>3} message(s):         {result.mail_dir}",
        f"  validation Data Docs:             {result.out_dir / 'data_docs' / 'index.html'}",
    ]
    if result.quarter:
        lines += [
            f"  dip sample worksheets:            {sample_folder}",
            f"  reviewers' returns, error report: {sample_folder / 'returns'}",
            f"  survey results table:             "
            f"{sample_folder / (result.quarter + '-survey-results.md')}",
        ]
    lines.append(f"  setup {result.setup_seconds:.1f} s; per night "
                 + ", ".join(f"{n.seconds:.1f}" for n in result.nights) + " s")
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
    parser.add_argument("--no-sample", dest="sample", action="store_false",
                        help="stop after the nights (no dip sample, reviewers or review ingest)")
    parser.add_argument("--teams", type=Path, default=None, metavar="FILE",
                        help="team reference CSV (default: made-up leads for the synthetic force)")
    args = parser.parse_args(argv)
    result = run(args.first_night, args.nights, args.warehouse_url, sample=args.sample,
                 teams_file=args.teams)
    print(report(result))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
