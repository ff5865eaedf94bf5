"""
### Victims Code review ingest

Loads the reviewers' completed dip-sample worksheets and publishes the quarter's survey results.

Reviewers save completed worksheets in the **returns folder** (Variable `vcp_returns_folder`,
default `out/sample/returns/`). Every day at 07:00 Europe/London a run starts and its sensor
looks at the folder every 5 minutes until 19:00: as soon as a worksheet is new or has changed
since it was last ingested (sha256 against `.vcp-ingested.json` in the folder), the run

1. **ingests** every returned worksheet of each affected sample, oldest first (a re-submitted file
   wins), and writes the per-row error report `<sample>-review-errors.csv` next to the returns;
2. **publishes** the survey results in the warehouse (`survey_results`) and the board table as
   `<quarter>-survey-results.md` in the sample folder (Variable `vcp_sample_folder`);
3. **remembers** the ingested files' fingerprints, so the next run waits for something new.

A day without returns ends with the sensor *skipped*, not failed. Trigger it by hand to pick up
returns at once; with `reingest` = true it ingests and publishes every sample with files in the
folder even when nothing changed. Each step is idempotent: answers replace the same crime and
question's, the error report and results are rewritten whole.

**Why a sensor.** The sensor runs in reschedule mode (no worker slot held between pokes) and
compares the folder with what was ingested, which neither Airflow's `FileSensor` (any matching
file) nor an AssetWatcher trigger (runs in the triggerer, fires again until something records the
ingest) does by itself; and it runs in `dag.test()` exactly as in production. A manual run may
overlap a waiting scheduled one (`max_active_runs=2`); the steps that write run one at a time.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, PokeReturnValue, dag, task

from vcpipeline.tasks import LONDON, assets, task_failure_notifier

ONE_AT_A_TIME = {"max_active_tis_per_dag": 1}


@dag(
    dag_id="victims_code_review_ingest",
    schedule=CronTriggerTimetable("0 7 * * *", timezone=LONDON),
    start_date=pendulum.datetime(2026, 1, 1, tz=LONDON),
    catchup=False,
    max_active_runs=2,
    tags=["victims-code", "dip-sample", "survey"],
    doc_md=__doc__,
    params={
        "reingest": Param(False, type="boolean",
                          description="ingest and publish every sample with returns, even unchanged"),
    },
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": task_failure_notifier(),
    },
)
def victims_code_review_ingest() -> None:
    @task.sensor(
        mode="reschedule",
        poke_interval=timedelta(minutes=5).total_seconds(),
        timeout=timedelta(hours=12).total_seconds(),
        soft_fail=True,  # no returns today: skipped, not failed
    )
    def returns_arrived(params=None) -> PokeReturnValue:
        from vcpipeline.tasks import review_ingest, runtime

        files = review_ingest.arrived_returns(runtime.returns_folder(), everything=params["reingest"])
        return PokeReturnValue(is_done=params["reingest"] or bool(files), xcom_value=files)

    @task(outlets=[assets.SAMPLE_REVIEWS], **ONE_AT_A_TIME)
    def ingest_returns(arrived: list[str], params=None) -> dict:
        from vcpipeline.tasks import review_ingest, runtime

        return review_ingest.ingest_review_returns(
            runtime.warehouse_url(), runtime.returns_folder(), everything=params["reingest"]
        )

    @task(outlets=[assets.SURVEY_RESULTS], **ONE_AT_A_TIME)
    def publish_results(ingest: dict) -> dict:
        from vcpipeline.tasks import review_ingest, runtime

        return review_ingest.publish_quarter_results(
            runtime.warehouse_url(), ingest["samples"], runtime.sample_folder()
        )

    @task(**ONE_AT_A_TIME)
    def remember_ingested(ingest: dict, published: dict) -> int:
        from vcpipeline.tasks import review_ingest, runtime

        return len(review_ingest.remember_ingested(runtime.returns_folder(), ingest["ingested"]))

    ingest = ingest_returns(returns_arrived())
    remember_ingested(ingest, publish_results(ingest))


victims_code_review_ingest()
