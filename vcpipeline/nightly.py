"""The nightly run's steps, one function per Airflow task, callable from the CLI and tests too.

Each step is keyed on the run's data interval (or its end, the "as of" instant), so a rerun or
backfill of the same night does the same work. The Airflow DAG (`dags/victims_code_nightly.py`)
only wires these together; it imports this module inside its tasks.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any


def configured_sources(load_first: bool | None = None, sources_file: Path | None = None) -> list[str]:
    """The source systems to load each night, in `sources.toml` order.

    `load_first=True` gives the ones loaded before the rest (the crime recording system, whose
    crimes the other sources' events refer to), `False` the rest, `None` all of them.
    """
    from vcpipeline.sources.config import load_source_config

    return [config.name for config in load_source_config(sources_file)
            if load_first is None or config.load_first == load_first]


def _instant(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the nightly run works on instants")
    return value.isoformat()


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


def extract_validate_load(
    source: str, interval_start: datetime, interval_end: datetime, warehouse_url: str
) -> dict[str, Any]:
    """Load one source's changes in [interval_start, interval_end) as one batch; its summary (JSON-able).

    Raises when the batch could not load (a batch-level validation failure, recorded on the
    batch row with what failed; or an error, after rolling the batch back), so the task fails,
    retries and alerts. See `vcpipeline.ingest.run`.
    """
    if source not in configured_sources():
        raise ValueError(f"unknown source {source!r}: not in sources.toml")
    if interval_end < interval_start:
        raise ValueError("interval_end is before interval_start")
    start, end = _instant(interval_start), _instant(interval_end)
    schema = _migrated_warehouse(warehouse_url)

    from vcpipeline import settings
    from vcpipeline.ingest.run import BatchFailed, run_source_batch
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.warehouse.db import make_engine

    configs = load_source_config()
    config = next(c for c in configs if c.name == source)
    engine = make_engine(warehouse_url)
    try:
        result = run_source_batch(config, interval_start, interval_end, engine, configs=configs,
                                  data_docs=settings.out_dir() / "data_docs")
    finally:
        engine.dispose()
    if result.status != "succeeded":
        raise BatchFailed(f"{source} batch {result.batch_id}: {result.message}")
    return {**result.summary(), "interval_start": start, "interval_end": end, **schema}


def evaluate_obligations(as_of: datetime, warehouse_url: str) -> dict[str, Any]:
    """Bring the stored obligations up to date as of the instant (incrementally: only crimes
    with new or changed rows, plus PENDING ones now due); what was done (JSON-able)."""
    from vcpipeline.rules.store import refresh_obligations
    from vcpipeline.warehouse.db import make_engine

    _instant(as_of)
    checked = _migrated_warehouse(warehouse_url)
    engine = make_engine(warehouse_url)
    try:
        return {**refresh_obligations(engine, as_of), **checked}
    finally:
        engine.dispose()


def load_summaries(as_of: datetime, warehouse_url: str) -> dict[str, Any]:
    """Rebuild the compliance summaries (day/month/quarter x department x rule x service level,
    and per victim) from the stored obligations; what was done (JSON-able)."""
    from vcpipeline.rules.summaries import load_summaries as rebuild
    from vcpipeline.warehouse.db import make_engine

    _instant(as_of)
    checked = _migrated_warehouse(warehouse_url)
    engine = make_engine(warehouse_url)
    try:
        return {**rebuild(engine, as_of), **checked}
    finally:
        engine.dispose()
