"""The nightly run's steps, one function per Airflow task, callable from the CLI and tests too.

Each step is keyed on the run's data interval (or its end, the "as of" instant), so a rerun or
backfill of the same night does the same work. The Airflow DAG (`dags/victims_code_nightly.py`)
only wires these together; it imports this module inside its tasks.

PLACEHOLDER BODIES: the orchestration scaffold ships these with the final signatures; they check
what they can (the source is configured, the warehouse is reachable and migrated) and describe
what they were asked. The extract/validate/load, rule-engine and summary work replaces them.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

SOURCES_FILE = Path(__file__).resolve().parent / "sources" / "sources.toml"
DEFAULT_SOURCES = ("crime_recording", "victim_contact", "victim_support", "witness_care")


def configured_sources(sources_file: Path = SOURCES_FILE) -> list[str]:
    """The names of the source systems to load each night, in the order the rule set lists them."""
    if not sources_file.exists():
        return list(DEFAULT_SOURCES)
    with sources_file.open("rb") as handle:
        config = tomllib.load(handle)
    return [entry["name"] for entry in config.get("sources", [])]


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
    """Load one source's changes in [interval_start, interval_end) as one batch; its summary (JSON-able)."""
    if source not in configured_sources():
        raise ValueError(f"unknown source {source!r}: not in {SOURCES_FILE.name}")
    if interval_end < interval_start:
        raise ValueError("interval_end is before interval_start")
    return {
        "source": source,
        "interval_start": _instant(interval_start),
        "interval_end": _instant(interval_end),
        **_migrated_warehouse(warehouse_url),
        "rows_extracted": 0,
        "rows_loaded": 0,
        "rows_quarantined": 0,
        "placeholder": True,
    }


def evaluate_obligations(as_of: datetime, warehouse_url: str) -> dict[str, Any]:
    """Evaluate every obligation as of the instant and store it; counts by status (JSON-able)."""
    return {"as_of": _instant(as_of), **_migrated_warehouse(warehouse_url), "placeholder": True}


def load_summaries(as_of: datetime, warehouse_url: str) -> dict[str, Any]:
    """Store the compliance summaries (force, department, rule) as of the instant (JSON-able)."""
    return {"as_of": _instant(as_of), **_migrated_warehouse(warehouse_url), "placeholder": True}
