"""
### Victims Code nightly run

Every night at 02:00 Europe/London: for each source system configured in
`vcpipeline/sources/sources.toml`, extract the changes of the data interval (the previous
02:00 to this 02:00, local), validate them and load them into the warehouse as one batch
(one mapped task per source). When every source has loaded, evaluate each victim's Victims
Code obligations as of the end of the interval (the crimes split into P partitions, one mapped
task each, Variable `vcp_partitions`) and store the compliance summaries that the morning
alerts and the board report read. Then e-mail each team lead their new breaches and the
obligations due soon, and data engineering a digest of the night's data problems (each e-mail
once: the alert log, Asset `vcp_warehouse.alert_log`, stops a retry or rerun sending it again).
On the 1st of a month, the compliance report for the month (and quarter) just ended is written
to `out/report/`. On the first working day after a quarter, the force's quarterly compliance
return (`VCP_FORCE_CODE`) is written to `out/returns/`, and reissued the night that quarter's
dip-sample survey is published.

Reruns and backfills of a night repeat exactly that night's work: every step is keyed on the
run's data interval, never on "now".

**Deadline**: the run must finish by 07:00 local; if not, the data-engineering address
(Variable `vcp_data_engineering_email`) is e-mailed through connection `vcp_smtp`. Task
failures (after retries) go to the same address. The warehouse is connection `vcp_warehouse`.
See docs/operations.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pendulum
from airflow.sdk import AsyncCallback, CronDataIntervalTimetable, DeadlineAlert, dag, task
from vcp_scheduling import DataIntervalEndDeadline  # plugins/ is on Airflow's sys.path

from vcpipeline.tasks import LONDON, assets, email_missed_deadline, task_failure_notifier


@dag(
    dag_id="victims_code_nightly",
    # A data-interval schedule: consecutive runs tile local days exactly, across clock changes.
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone=LONDON),
    start_date=pendulum.datetime(2026, 1, 1, tz=LONDON),
    catchup=False,
    max_active_runs=1,
    tags=["victims-code", "nightly", "warehouse"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": task_failure_notifier(),
    },
    deadline=DeadlineAlert(
        reference=DataIntervalEndDeadline(),
        interval=timedelta(hours=5),  # 02:00 + 5 h = 07:00 local, every night
        callback=AsyncCallback(email_missed_deadline),
        name="finished by 07:00 local",
    ),
)
def victims_code_nightly() -> None:
    @task
    def configured_sources(load_first: bool) -> list[str]:
        from vcpipeline.tasks import nightly

        return nightly.configured_sources(load_first)

    @task(outlets=list(assets.LOADED_BY_BATCH), map_index_template="{{ task.op_kwargs['source'] }}")
    def extract_validate_load(
        source: str,
        data_interval_start: datetime | None = None,
        data_interval_end: datetime | None = None,
    ) -> dict:
        from vcpipeline.tasks import nightly, runtime

        return nightly.extract_validate_load(
            source, data_interval_start, data_interval_end, runtime.warehouse_url(),
            source_config=runtime.source_config,
        )

    @task
    def plan_obligations(batches: list[dict], data_interval_end: datetime | None = None) -> list[dict]:
        # P: Variable vcp_partitions when set, else VCP_PARTITIONS, else the warehouse's default.
        from vcpipeline.tasks import nightly, runtime

        return nightly.plan_obligations(data_interval_end, runtime.warehouse_url(),
                                        runtime.variable(nightly.PARTITIONS_VAR, ""))

    @task(map_index_template="partition {{ task.op_kwargs['work']['partition'] }}")
    def evaluate_partition(work: dict) -> dict:
        # One transaction: a partition killed midway leaves nothing, and its retry redoes it whole.
        from vcpipeline.tasks import nightly, runtime

        return nightly.evaluate_partition(work, runtime.warehouse_url())

    @task(outlets=[assets.OBLIGATIONS])
    def evaluate_obligations(work: list[dict], partitions: list[dict]) -> dict:
        # The merge: PENDING now due -> BREACHED over every partition, and the night's record.
        from vcpipeline.tasks import nightly, runtime

        # A slice reads every partition's result at once; iterating would ask for one past the end.
        return nightly.finish_obligations(work, partitions[:], runtime.warehouse_url())

    @task(outlets=[assets.SUMMARIES])
    def load_summaries(obligations: dict, data_interval_end: datetime | None = None) -> dict:
        from vcpipeline.tasks import nightly, runtime

        return nightly.load_summaries(data_interval_end, runtime.warehouse_url())

    @task(outlets=[assets.ALERT_LOG])
    def send_alerts(summaries: dict, data_interval_end: datetime | None = None) -> dict:
        # A refused e-mail raises, so Airflow retries; the alert log stops a retry re-sending.
        from vcpipeline.tasks import nightly, runtime

        return nightly.send_alerts(
            data_interval_end, runtime.warehouse_url(),
            data_engineering_email=runtime.data_engineering_email(),
            data_docs_url=runtime.data_docs_url(),
            smtp_conn_id=runtime.SMTP_CONN_ID,
        )

    @task
    def build_reports(summaries: dict, data_interval_end: datetime | None = None) -> list[str]:
        # The 02:00 run on the 1st reports the month just ended, and the quarter at quarter end.
        from vcpipeline.tasks import nightly, runtime

        return nightly.build_reports(data_interval_end, runtime.warehouse_url())

    @task
    def build_quarterly_returns(summaries: dict, data_interval_end: datetime | None = None) -> list[str]:
        # The first working day after a quarter, and again when that quarter's survey is published.
        from vcpipeline.tasks import nightly, runtime

        return nightly.build_quarterly_returns(data_interval_end, runtime.warehouse_url())

    # The crime recording system first: the other sources' events are validated against its crimes.
    crime_records = extract_validate_load.override(task_id="load_crime_records").expand(
        source=configured_sources.override(task_id="crime_record_sources")(load_first=True)
    )
    # The others load even when the crime records did not: events of crimes not yet known wait
    # in quarantine and are replayed when their crimes arrive.
    batches = extract_validate_load.override(trigger_rule="all_done").expand(
        source=configured_sources(load_first=False)
    )
    crime_records >> batches
    plan = plan_obligations(batches)
    crime_records >> plan  # but no evaluation on a night whose crime records failed
    # The crimes split into P partitions by a stable hash of crime_ref, one mapped task each.
    obligations = evaluate_obligations(plan, evaluate_partition.expand(work=plan))
    summaries = load_summaries(obligations)
    send_alerts(summaries)
    build_reports(summaries)
    build_quarterly_returns(summaries)


victims_code_nightly()
