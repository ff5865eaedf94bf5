"""The nightly DAG's tasks (`victims_code_nightly`), one function per task.

Each step is keyed on the run's data interval (or its end, the "as of" instant), so a rerun or
backfill of the same night does the same work. Each converts the instants it is given once
(`runtime.utc_instant`) and passes aware UTC `datetime`s down. The DAG only wires these together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vcpipeline.tasks.runtime import utc_instant

if TYPE_CHECKING:
    from vcpipeline.sources.config import SourceConfig

# The Airflow Variable that sets P, the partitions of the night's evaluation (rules/partitions.py).
PARTITIONS_VAR = "vcp_partitions"


def configured_sources(load_first: bool | None = None, sources_file: Path | None = None) -> list[str]:
    """The source systems to load each night, in `sources.toml` order.

    `load_first=True` gives the ones loaded before the rest (the crime recording system, whose
    crimes the other sources' events refer to), `False` the rest, `None` all of them.
    """
    from vcpipeline.sources.config import load_source_config

    return [config.name for config in load_source_config(sources_file)
            if load_first is None or config.load_first == load_first]


def _migrated_warehouse(warehouse_url: str) -> dict[str, Any]:
    """Refuse to run against a warehouse without our schema (a wrong or empty database)."""
    from vcpipeline.warehouse.db import display_url
    from vcpipeline.warehouse.migrate import current, head

    revision = current(warehouse_url)
    if revision is None:
        raise RuntimeError(
            f"warehouse {display_url(warehouse_url)} has no schema: run the migrations first"
        )
    return {"warehouse": display_url(warehouse_url), "schema_revision": revision, "schema_head": head()}


def as_declared(config: SourceConfig) -> SourceConfig:
    """A source's config as `sources.toml` declares it (outside Airflow: tests, local runs)."""
    return config


def extract_validate_load(
    source: str, interval_start: datetime | None, interval_end: datetime | None, warehouse_url: str,
    *, source_config: Callable[[SourceConfig], SourceConfig] = as_declared,
) -> dict[str, Any]:
    """Load one source's changes in [interval_start, interval_end) as one batch; its summary (JSON-able).

    `source_config` resolves where the source lives: the DAG passes `runtime.source_config`
    (its Airflow connection, when it has one), so ingest is handed a resolved config and never
    looks at Airflow.

    Raises when the batch could not load (a batch-level validation failure, recorded on the
    batch row with what failed; or an error, after rolling the batch back), so the task fails,
    retries and alerts. See `vcpipeline.ingest.run`.
    """
    if source not in configured_sources():
        raise ValueError(f"unknown source {source!r}: not in sources.toml")
    start, end = utc_instant(interval_start), utc_instant(interval_end)
    if end < start:
        raise ValueError("interval_end is before interval_start")
    schema = _migrated_warehouse(warehouse_url)

    from vcpipeline import settings
    from vcpipeline.ingest.run import BatchFailed, run_source_batch
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.warehouse.db import make_engine

    configs = load_source_config()
    config = source_config(next(c for c in configs if c.name == source))
    engine = make_engine(warehouse_url)
    try:
        result = run_source_batch(config, start, end, engine, configs=configs,
                                  data_docs=settings.out_dir() / "data_docs")
    finally:
        engine.dispose()
    if result.status != "succeeded":
        raise BatchFailed(f"{source} batch {result.batch_id}: {result.message}")
    return {**result.summary(), "interval_start": start.isoformat(),
            "interval_end": end.isoformat(), **schema}


def evaluate_obligations(as_of: datetime | None, warehouse_url: str) -> dict[str, Any]:
    """Bring the stored obligations up to date as of the instant (incrementally: only crimes
    with new or changed rows, plus PENDING ones now due); what was done (JSON-able)."""
    from vcpipeline.rules.store import refresh_obligations
    from vcpipeline.warehouse.db import make_engine

    instant = utc_instant(as_of)
    checked = _migrated_warehouse(warehouse_url)
    engine = make_engine(warehouse_url)
    try:
        return {**refresh_obligations(engine, instant), **checked}
    finally:
        engine.dispose()


def plan_obligations(as_of: datetime | None, warehouse_url: str,
                     partitions: int | str | None = None) -> list[dict[str, Any]]:
    """The night's evaluation plan, once per partition: what the mapped partition tasks expand
    over. P is `partitions` (the DAG passes Variable `vcp_partitions` when set), else
    `VCP_PARTITIONS`, else 1 on SQLite and 4 on PostgreSQL (`rules/partitions.py`)."""
    from vcpipeline.rules.partitions import checked_partitions
    from vcpipeline.rules.store import plan_obligations as plan_night
    from vcpipeline.warehouse.db import make_engine

    instant = utc_instant(as_of)
    count = (checked_partitions(partitions, "Variable vcp_partitions")
             if partitions not in (None, "") else None)
    _migrated_warehouse(warehouse_url)
    engine = make_engine(warehouse_url)
    try:
        plan = plan_night(engine, instant, partitions=count).as_json()
    finally:
        engine.dispose()
    return [{"plan": plan, "partition": partition} for partition in range(plan["partitions"])]


def evaluate_partition(work: dict[str, Any], warehouse_url: str) -> dict[str, Any]:
    """Re-evaluate one partition's crimes as planned, in one transaction (a retry redoes it whole)."""
    from vcpipeline.rules.store import NightPlan, refresh_partition
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(warehouse_url)
    try:
        return refresh_partition(engine, NightPlan.from_json(work["plan"]), int(work["partition"]))
    finally:
        engine.dispose()


def finish_obligations(work: list[dict[str, Any]], results: list[dict[str, Any]],
                       warehouse_url: str) -> dict[str, Any]:
    """After every partition: PENDING obligations now due become BREACHED, the night's batches
    are recorded as evaluated, and the run is logged; the night's summary (JSON-able)."""
    from vcpipeline.rules.store import NightPlan
    from vcpipeline.rules.store import finish_obligations as finish
    from vcpipeline.warehouse.db import make_engine

    checked = _migrated_warehouse(warehouse_url)
    engine = make_engine(warehouse_url)
    try:
        return {**finish(engine, NightPlan.from_json(work[0]["plan"]), list(results)), **checked}
    finally:
        engine.dispose()


def load_summaries(as_of: datetime | None, warehouse_url: str) -> dict[str, Any]:
    """Rebuild the compliance summaries (day/month/quarter x department x rule x service level,
    and per victim) from the stored obligations; what was done (JSON-able)."""
    from vcpipeline.rules.summaries import load_summaries as rebuild
    from vcpipeline.warehouse.db import make_engine

    instant = utc_instant(as_of)
    checked = _migrated_warehouse(warehouse_url)
    engine = make_engine(warehouse_url)
    try:
        return {**rebuild(engine, instant), **checked}
    finally:
        engine.dispose()


def send_alerts(as_of: datetime | None, warehouse_url: str, *, data_engineering_email: str | None,
                data_docs_url: str, smtp_conn_id: str) -> dict[str, Any]:
    """E-mail each team lead their new breaches and obligations due soon, and data engineering the
    night's digest (each e-mail once: the alert log stops a retry or rerun sending it again).

    A refused e-mail raises `DeliveryError`, so Airflow retries; the retry sends only what is missing.
    """
    from vcpipeline.alerts.run import send_nightly_alerts

    return send_nightly_alerts(
        utc_instant(as_of), warehouse_url,
        data_engineering_email=data_engineering_email,
        expected_sources=configured_sources(),
        data_docs_url=data_docs_url,
        smtp_conn_id=smtp_conn_id,
    )


def build_reports(as_of: datetime | None, warehouse_url: str, report_dir: Path | None = None) -> list[str]:
    """The reports due on the night: the 02:00 run on the 1st reports the month just ended, and the
    quarter at quarter end (into `out/report/` unless told otherwise); their paths."""
    from vcpipeline import settings
    from vcpipeline.report import build_period_report, periods_due

    folder = report_dir if report_dir is not None else settings.out_dir() / "report"
    return [str(build_period_report(warehouse_url, period, folder))
            for period in periods_due(utc_instant(as_of))]


def build_quarterly_returns(as_of: datetime | None, warehouse_url: str, returns_dir: Path | None = None) -> list[str]:
    """The force's quarterly compliance return, on the first working day after a quarter (and
    reissued the night that quarter's own survey is published), into `out/returns/` unless told
    otherwise; the manifests' paths. No return without a force code (`VCP_FORCE_CODE`)."""
    import os

    from vcpipeline import settings
    from vcpipeline.returns.run import build_return, force_code, returns_due

    instant = utc_instant(as_of)
    if not os.environ.get("VCP_FORCE_CODE", "").strip():
        return []
    force = force_code()
    folder = returns_dir if returns_dir is not None else settings.out_dir() / "returns"
    return [str(build_return(warehouse_url, quarter, force, folder))
            for quarter in returns_due(instant, warehouse_url, force, folder)]
