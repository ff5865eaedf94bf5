"""
### Victims Code quarterly dip sample

On the **first England & Wales working day of each quarter at 06:00** Europe/London (weekends and
bank holidays, substitute days included, skipped: plugin timetable
`FirstWorkingDayOfQuarterTimetable`), for the quarter just ended (the run's data interval):

1. **wait** until the nightly run covering the quarter's last day has succeeded;
2. **draw** the quarter's dip sample from the warehouse and store it (idempotent; crimes sampled
   in earlier quarters are excluded);
3. **write** one reviewer worksheet per department into the sample folder (Variable
   `vcp_sample_folder`, default `out/sample/`), recording the automated findings shown;
4. **e-mail** the reviewers (Variable `vcp_reviewers_email`, connection `vcp_smtp`) with the
   worksheets attached (they hold crime references and findings, no victim's details), once per
   draw: a rerun does not e-mail again.

**Why the gate reads Asset events.** The nightly run whose data interval holds the quarter's last
local instant (the 02:00 run on the 1st) must have succeeded, or the sample would miss the
quarter's last crimes and findings. `ExternalTaskSensor` matches the other DAG's runs by *logical
date*, which for the same night differs between a scheduled run (the interval start), a manual
or `dag.test()` run (the trigger time) and would silently drift with any change to the nightly
timetable. Instead the gate reads the latest events of the `vcp_warehouse.compliance_summaries`
Asset (written only when the nightly `load_summaries` succeeds), follows each to the nightly run
that produced it, and waits until one whose **data interval** covers the quarter's end is in
state `success`. An Asset schedule cannot express this: Airflow combines an Asset condition with
a time schedule as "either", not "both". It pokes every 10 minutes in reschedule mode (no worker
slot held between pokes) for up to 3 days, then fails and e-mails data engineering.

Redraw a changed population by triggering with `force_redraw` = true (reviewers' answers for
crimes still sampled are kept). Failures (after retries) e-mail `vcp_data_engineering_email`.
See docs/operations.md.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pendulum
from airflow.sdk import Param, PokeReturnValue, dag, task
from vcp_scheduling import FirstWorkingDayOfQuarterTimetable  # plugins/ is on Airflow's sys.path

from vcpipeline.tasks import LONDON, assets, task_failure_notifier


@dag(
    dag_id="victims_code_quarterly_sample",
    schedule=FirstWorkingDayOfQuarterTimetable(at=time(6, 0), timezone=LONDON),
    start_date=pendulum.datetime(2026, 1, 1, tz=LONDON),
    catchup=False,
    max_active_runs=1,
    tags=["victims-code", "quarterly", "dip-sample"],
    doc_md=__doc__,
    params={
        "sample_size": Param(240, type="integer", minimum=1, description="crimes to sample"),
        "min_per_stratum": Param(10, type="integer", minimum=0, description="minimum per department"),
        "force_redraw": Param(False, type="boolean",
                              description="replace a stored sample whose population has changed"),
    },
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": task_failure_notifier(),
    },
)
def victims_code_quarterly_sample() -> None:
    @task.sensor(
        inlets=[assets.SUMMARIES],
        mode="reschedule",
        poke_interval=timedelta(minutes=10).total_seconds(),
        timeout=timedelta(days=3).total_seconds(),
    )
    def quarter_end_night_succeeded(
        data_interval_end: datetime | None = None, inlet_events=None
    ) -> PokeReturnValue:
        from vcpipeline.tasks import quarterly_sample

        events = inlet_events[assets.SUMMARIES].ascending(False).limit(quarterly_sample.EVENTS_TO_SCAN)
        night = quarterly_sample.quarter_end_night(events, data_interval_end)
        return PokeReturnValue(is_done=night is not None, xcom_value=night and night.run_id)

    @task(outlets=[assets.SAMPLES])
    def draw_sample(
        night_run_id: str, data_interval_start: datetime | None = None, params=None
    ) -> dict:
        from vcpipeline.tasks import quarterly_sample, runtime

        sample = quarterly_sample.draw_sample(
            runtime.warehouse_url(), data_interval_start, size=params["sample_size"],
            minimum=params["min_per_stratum"], force=params["force_redraw"],
        )
        return {**sample, "after_night": night_run_id}  # lineage: the night the gate accepted

    @task(outlets=[assets.SAMPLE_FINDINGS])
    def write_worksheets(sample: dict) -> dict:
        from vcpipeline.tasks import quarterly_sample, runtime

        return quarterly_sample.write_quarter_worksheets(
            runtime.warehouse_url(), sample["sample_id"], runtime.sample_folder()
        )

    @task
    def email_reviewers(sample: dict, worksheets: dict) -> dict:
        from vcpipeline.tasks import quarterly_sample, runtime

        return quarterly_sample.email_reviewers(
            runtime.warehouse_url(), sample, worksheets, recipients=runtime.reviewers_email(),
            returns_folder=runtime.returns_folder(), send=runtime.smtp_sender(),
        )

    sample = draw_sample(quarter_end_night_succeeded())
    email_reviewers(sample, write_worksheets(sample))


victims_code_quarterly_sample()
