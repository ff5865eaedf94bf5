"""The first-load DAG's tasks (`victims_code_first_load`), one function per task.

The run's parameters (`from`, `to`, `period`, `sources`) are converted here, once, to aware UTC
instants and a chunk plan (`ingest.first_load`). Each chunk is handed on as JSON, so a mapped
task and its retries load the same source over the same interval. The evaluation after the
loads is the nightly's own tasks (`tasks.nightly.plan_obligations`, `evaluate_partition`,
`finish_obligations`, `load_summaries`) as of `to`; the DAG only wires these together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from vcpipeline.instants import LONDON, utc_instant
from vcpipeline.tasks.nightly import _migrated_warehouse, as_declared

if TYPE_CHECKING:
    from vcpipeline.sources.config import SourceConfig


def _instant(text: object, name: str) -> datetime:
    """A run parameter (ISO 8601; without an offset, Europe/London wall time) as aware UTC."""
    if isinstance(text, datetime):
        value = text
    else:
        try:
            value = datetime.fromisoformat(str(text or "").strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"param {name!r}: not an ISO 8601 timestamp: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(LONDON))
    return utc_instant(value, f"param {name!r}")


def history_range(params: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The run's `[from, to)` as aware UTC instants; `to` must be after `from`."""
    start, end = _instant(params.get("from"), "from"), _instant(params.get("to"), "to")
    if end <= start:
        raise ValueError("param 'to' must be after param 'from'")
    return start, end


def history_end(params: Mapping[str, Any]) -> datetime:
    """The instant the history is evaluated as of: `to` (where the nightly DAG takes over)."""
    return history_range(params)[1]


def plan_chunks(params: Mapping[str, Any], load_first: bool | None = None,
                sources_file: Path | None = None) -> list[dict[str, Any]]:
    """The chunks to load, as JSON, in load order: `load_first=True` the crime recording
    system's, `False` the other sources', `None` all of them."""
    from vcpipeline.ingest.first_load import plan_chunks as plan
    from vcpipeline.sources.config import load_source_config

    start, end = history_range(params)
    declared = load_source_config(sources_file)
    wanted = [str(name) for name in params.get("sources") or ()]
    unknown = sorted(set(wanted) - {config.name for config in declared})
    if unknown:
        raise ValueError(f"param 'sources': unknown source(s) {', '.join(unknown)}")
    configs = [config for config in declared
               if (load_first is None or config.load_first == load_first)
               and (not wanted or config.name in wanted)]
    return [chunk.as_json() for chunk in plan(configs, start, end, str(params.get("period") or "month"))]


def load_chunk(chunk: Mapping[str, Any], warehouse_url: str, *,
               source_config: Callable[[SourceConfig], SourceConfig] = as_declared,
               data_docs: bool = True) -> dict[str, Any]:
    """Load one chunk as one batch, or skip it if its batch already succeeded; its summary.

    `source_config` resolves where the source lives (the DAG passes `runtime.source_config`);
    `data_docs` builds the batch's Data Docs under `OUT/data_docs` as the nightly does.
    Raises when the batch fails (validation, recorded on the batch row; or an error, after the
    batch was rolled back), so the task fails, retries and alerts, as the nightly load does.
    """
    from vcpipeline import settings
    from vcpipeline.ingest.first_load import Chunk
    from vcpipeline.ingest.first_load import load_chunk as load
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.warehouse.db import make_engine

    planned = Chunk.from_json(dict(chunk))
    schema = _migrated_warehouse(warehouse_url)
    configs = load_source_config()
    declared = next((c for c in configs if c.name == planned.source), None)
    if declared is None:
        raise ValueError(f"unknown source {planned.source!r}: not in sources.toml")
    engine = make_engine(warehouse_url)
    try:
        result = load(planned, source_config(declared), engine, configs=configs,
                      data_docs=settings.out_dir() / "data_docs" if data_docs else None)
    finally:
        engine.dispose()
    return {**result.summary(), **schema}


def reconcile(loaded: Sequence[Mapping[str, Any]], warehouse_url: str) -> dict[str, Any]:
    """Every chunk's batch succeeded and rows extracted = loaded + quarantined, per chunk and in
    total (counts as stored now, after replays); the totals per source (JSON-able)."""
    from vcpipeline.ingest.first_load import Chunk
    from vcpipeline.ingest.first_load import reconcile as check
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(warehouse_url)
    try:
        return check(engine, [Chunk.from_json(dict(summary)) for summary in loaded])
    finally:
        engine.dispose()
