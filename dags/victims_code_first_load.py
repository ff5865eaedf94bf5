"""
### Victims Code first load of a force's history

Triggered by hand, once, before the nightly DAG takes over: loads the sources' history
`[from, to)` (params; ISO 8601, without an offset Europe/London time) into the warehouse in
chunks, one chunk per source and calendar `period` (month, week or day), each chunk one load
batch through the nightly's own extract → validate → load. The crime recording system's chunks
load first (one mapped task each, one at a time, in period order), then the other sources'
(their victims and events are validated against the crimes known). Then the counts are
reconciled (every chunk's batch succeeded; rows extracted = loaded + quarantined) and every
victim's obligations are evaluated as of `to` by the nightly's partitioned tasks (Variable
`vcp_partitions`, or param `partitions`), then the compliance summaries. No e-mail, report or
return: the nightly run after `to` sends what is due.

**Resume**: trigger again with the same params. Chunks whose batch already succeeded are
skipped; a chunk killed midway left nothing (its load is one transaction) and loads whole.
Pause `victims_code_nightly` while this runs. See docs/operations.md, "First load of a force's
history". The warehouse is connection `vcp_warehouse`.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from vcpipeline.tasks import LONDON, assets, task_failure_notifier

# One chunk at a time per mapped task: a source's chunks load in period order (each window and
# watermark follows the one before), and the warehouse takes one batch's writes at a time.
ONE_CHUNK_AT_A_TIME = 1
# Partitions evaluated side by side: the full evaluation of years of history is the heaviest step.
PARTITIONS_AT_A_TIME = 4


@dag(
    dag_id="victims_code_first_load",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz=LONDON),
    catchup=False,
    max_active_runs=1,
    tags=["victims-code", "first-load", "warehouse"],
    doc_md=__doc__,
    params={
        "from": Param(type="string", description="start of the history (ISO 8601; naive = London)"),
        "to": Param(type="string", description="end, exclusive: the first nightly interval's start"),
        "period": Param("month", enum=["month", "week", "day"], description="one chunk per source per"),
        "sources": Param([], type="array", items={"type": "string"},
                         description="only these sources (empty: every source in sources.toml)"),
        "partitions": Param(None, type=["null", "integer"], minimum=1,
                            description="P for the evaluation (empty: Variable vcp_partitions)"),
        "data_docs": Param(True, type="boolean", description="build each chunk's Data Docs"),
    },
    default_args={
        "owner": "data-engineering",
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": task_failure_notifier(),
    },
)
def victims_code_first_load() -> None:
    @task
    def plan_chunks(load_first: bool, params=None) -> list[dict]:
        from vcpipeline.tasks import first_load

        return first_load.plan_chunks(params, load_first)

    @task(outlets=list(assets.LOADED_BY_BATCH), max_active_tis_per_dagrun=ONE_CHUNK_AT_A_TIME,
          map_index_template="{{ task.op_kwargs['chunk']['label'] }}")
    def load_chunk(chunk: dict, params=None) -> dict:
        # Skipped when its batch already succeeded; one transaction, so a kill leaves nothing.
        from vcpipeline.tasks import first_load, runtime

        return first_load.load_chunk(chunk, runtime.warehouse_url(),
                                     source_config=runtime.source_config,
                                     data_docs=params["data_docs"])

    @task(trigger_rule="none_failed")  # a run of some sources only has no chunks of the others
    def reconcile(crime_records: list[dict], others: list[dict]) -> dict:
        from vcpipeline.tasks import first_load, runtime

        # Slices read every mapped result at once; iterating would ask for one past the end.
        return first_load.reconcile([*crime_records[:], *others[:]], runtime.warehouse_url())

    @task
    def plan_obligations(totals: dict, params=None) -> list[dict]:
        from vcpipeline.tasks import first_load, nightly, runtime

        partitions = params["partitions"] or runtime.variable(nightly.PARTITIONS_VAR, "")
        return nightly.plan_obligations(first_load.history_end(params), runtime.warehouse_url(),
                                        partitions)

    @task(max_active_tis_per_dagrun=PARTITIONS_AT_A_TIME,
          map_index_template="partition {{ task.op_kwargs['work']['partition'] }}")
    def evaluate_partition(work: dict) -> dict:
        from vcpipeline.tasks import nightly, runtime

        return nightly.evaluate_partition(work, runtime.warehouse_url())

    @task(outlets=[assets.OBLIGATIONS])
    def evaluate_obligations(work: list[dict], partitions: list[dict]) -> dict:
        from vcpipeline.tasks import nightly, runtime

        return nightly.finish_obligations(work, partitions[:], runtime.warehouse_url())

    @task(outlets=[assets.SUMMARIES])
    def load_summaries(obligations: dict, params=None) -> dict:
        from vcpipeline.tasks import first_load, nightly, runtime

        return nightly.load_summaries(first_load.history_end(params), runtime.warehouse_url())

    # The crime recording system's chunks first: the other sources' events are validated against them.
    crime_records = load_chunk.override(task_id="load_crime_record_chunk").expand(
        chunk=plan_chunks.override(task_id="plan_crime_record_chunks")(load_first=True)
    )
    others = load_chunk.override(trigger_rule="none_failed").expand(chunk=plan_chunks(load_first=False))
    crime_records >> others
    plan = plan_obligations(reconcile(crime_records, others))
    obligations = evaluate_obligations(plan, evaluate_partition.expand(work=plan))
    load_summaries(obligations)


victims_code_first_load()
