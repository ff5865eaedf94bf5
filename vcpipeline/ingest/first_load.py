"""A force's first load of its history: chunks of source × period, each one ordinary load batch.

Years of history are too much for one batch (one process holds a batch's rows, validations and
upserts at once), so `[from, to)` is cut into chunks: each configured source's calendar months
(or weeks, or days) at `from`'s local wall time, the crime recording system's chunks first
(the other sources' victims and events are validated against the crimes known, as each night),
each source's chunks in period order. Each chunk is one load batch of that source over that
interval through `run_source_batch`, the nightly's own path: the same windows (a SQL source's
first chunk reads everything before its end, later ones `[start − look-back, end)`; a drop
source reads the files complete by the chunk's end not processed before), the same validation,
quarantine and replay, one transaction per batch.

Resumable: a chunk whose batch (the source's system and the chunk's interval) already succeeded
is skipped, its counts read back. A chunk killed midway leaves no partial batch, because its load
is one transaction (an error marks the batch failed; a killed process leaves no batch row
written by this attempt), and a rerun loads it whole. A chunk that runs after an earlier one
failed still loads correctly: the watermark stays at the last succeeded load, so a SQL window
reaches back to it (and an unprocessed drop file is read by the next chunk); the failed chunk's
rerun then reads its own window again, and the newer extract already stored wins.

Counts: every batch reconciles (rows extracted = loaded + quarantined; a later replay moves rows
from quarantined to loaded within their batch), so the totals over the chunks do too
(`reconcile`). Rows in a SQL chunk's look-back are read by two chunks, so the extracted total
exceeds the source's distinct rows by about look-back / period.
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.ingest.batches import BatchFailed
from vcpipeline.ingest.run import run_source_batch
from vcpipeline.instants import LONDON, utc_instant
from vcpipeline.sources.config import SourceConfig
from vcpipeline.warehouse.load import ReconciliationError, batch_id_for
from vcpipeline.warehouse.schema import load_batches

log = logging.getLogger(__name__)

PERIODS: tuple[str, ...] = ("month", "week", "day")


@dataclass(frozen=True)
class Chunk:
    """One source's load batch over one period of the history: `[start, end)`, aware UTC."""

    source: str
    system: str
    start: datetime
    end: datetime

    @property
    def batch_id(self) -> str:
        return batch_id_for(self.system, self.start, self.end)

    @property
    def label(self) -> str:
        """`crime_recording 2021-04-01..2021-05-01` (local dates): the mapped task's name."""
        zone = ZoneInfo(LONDON)
        return (f"{self.source} {self.start.astimezone(zone):%Y-%m-%d}.."
                f"{self.end.astimezone(zone):%Y-%m-%d}")

    def as_json(self) -> dict[str, str]:
        return {"source": self.source, "system": self.system, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "label": self.label}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(source=str(data["source"]), system=str(data["system"]),
                   start=utc_instant(datetime.fromisoformat(str(data["start"])), "chunk start"),
                   end=utc_instant(datetime.fromisoformat(str(data["end"])), "chunk end"))


def _next_start(day: date, period: str) -> date:
    """The first day of the period after the one holding `day`."""
    if period == "day":
        return day + timedelta(days=1)
    if period == "week":  # weeks from Monday
        return day + timedelta(days=7 - day.weekday())
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def period_bounds(start: datetime, end: datetime, period: str = "month",
                  local_tz: str = LONDON) -> list[tuple[datetime, datetime]]:
    """`[start, end)` cut where local calendar periods begin (the 1st of a month, a Monday, a
    day), at `start`'s local wall time: from 02:00 on 15 April by month gives 15 April–1 May
    02:00, 1 May–1 June 02:00, ..., the last cut short at `end`. Across clock changes the wall
    time holds, as the nightly's days do."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    first, last = utc_instant(start, "from"), utc_instant(end, "to")
    if last <= first:
        raise ValueError("the first load's end must be after its start")
    zone = ZoneInfo(local_tz)
    local = first.astimezone(zone)
    bounds, lower, day = [], first, local.date()
    while lower < last:
        day = _next_start(day, period)
        upper = min(datetime.combine(day, local.timetz().replace(tzinfo=zone)).astimezone(UTC), last)
        if upper > lower:
            bounds.append((lower, upper))
            lower = upper
    return bounds


def plan_chunks(configs: Sequence[SourceConfig], start: datetime, end: datetime,
                period: str = "month", sources: Sequence[str] | None = None) -> list[Chunk]:
    """Every chunk of the first load in the order they load: the sources loaded first (the crime
    recording system), then the others, in `sources.toml` order; each source's periods in order."""
    known = {config.name for config in configs}
    unknown = sorted(set(sources or ()) - known)
    if unknown:
        raise ValueError(f"unknown source(s): {', '.join(unknown)} (not in sources.toml)")
    chosen = [c for c in configs if not sources or c.name in sources]
    ordered = [c for c in chosen if c.load_first] + [c for c in chosen if not c.load_first]
    bounds = period_bounds(start, end, period)
    return [Chunk(config.name, config.system, lower, upper)
            for config in ordered for lower, upper in bounds]


@dataclass
class ChunkResult:
    """What one chunk did: `loaded` now, or `skipped` (its batch had already succeeded)."""

    chunk: Chunk
    status: str
    rows_extracted: int
    rows_loaded: int
    rows_quarantined: int
    rows_replayed: int = 0
    extract: str = ""
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-able, no row values: what the mapped task returns and `vcp first-load` prints."""
        return {**self.chunk.as_json(), "batch_id": self.chunk.batch_id, "status": self.status,
                "rows_extracted": self.rows_extracted, "rows_loaded": self.rows_loaded,
                "rows_quarantined": self.rows_quarantined,
                "rows_replayed_from_earlier_batches": self.rows_replayed, "extract": self.extract,
                "wall_seconds": round(self.wall_seconds, 3), "cpu_seconds": round(self.cpu_seconds, 3),
                "peak_rss_mb": round(self.peak_rss_mb, 1), "notes": list(self.notes)}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def succeeded_batch(conn: sa.Connection, chunk: Chunk) -> tuple[int, int, int] | None:
    """(extracted, loaded, quarantined) of the chunk's batch if it has succeeded, else None."""
    row = conn.execute(
        sa.select(load_batches.c.rows_extracted, load_batches.c.rows_loaded,
                  load_batches.c.rows_quarantined)
        .where(load_batches.c.batch_id == chunk.batch_id, load_batches.c.status == "succeeded")
    ).one_or_none()
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


def load_chunk(chunk: Chunk, config: SourceConfig, engine: Engine, *,
               configs: Sequence[SourceConfig] | None = None,
               data_docs: Path | None = None) -> ChunkResult:
    """Load one chunk as one batch (`run_source_batch`), or skip it if its batch already succeeded.

    Raises `BatchFailed` when the batch fails validation (the batch row says why) and re-raises
    any error after the batch has been rolled back and marked failed, as the nightly task does.
    """
    if config.name != chunk.source or config.system != chunk.system:
        raise ValueError(f"chunk {chunk.label} is not a chunk of source {config.name}")
    wall, cpu = time.perf_counter(), time.process_time()
    with engine.connect() as conn:
        done = succeeded_batch(conn, chunk)
    if done is not None:
        log.info("first load: %s already loaded (batch %s): skipped", chunk.label, chunk.batch_id)
        return ChunkResult(chunk, "skipped", *done, peak_rss_mb=_peak_rss_mb())
    result = run_source_batch(config, chunk.start, chunk.end, engine, configs=configs,
                              data_docs=data_docs)
    if result.status != "succeeded":
        raise BatchFailed(f"{chunk.label} batch {result.batch_id}: {result.message}")
    return ChunkResult(chunk, "loaded", result.rows_extracted, result.rows_loaded,
                       result.rows_quarantined, rows_replayed=result.healed,
                       extract="full" if result.full else "incremental",
                       wall_seconds=time.perf_counter() - wall,
                       cpu_seconds=time.process_time() - cpu, peak_rss_mb=_peak_rss_mb(),
                       notes=list(result.notes))


def reconcile(engine: Engine, chunks: Sequence[Chunk]) -> dict[str, Any]:
    """The first load's counts from the batches as stored now (after any replay), per source and
    in total; raises `ReconciliationError` if a chunk's batch is missing, not succeeded, or does
    not add up (extracted = loaded + quarantined)."""
    ids = [chunk.batch_id for chunk in chunks]
    with engine.connect() as conn:
        rows = {row.batch_id: row for row in conn.execute(
            sa.select(load_batches.c.batch_id, load_batches.c.status, load_batches.c.rows_extracted,
                      load_batches.c.rows_loaded, load_batches.c.rows_quarantined)
            .where(load_batches.c.batch_id.in_(sa.bindparam("ids", expanding=True))), {"ids": ids})}
    problems, by_source = [], {}
    for chunk in chunks:
        row = rows.get(chunk.batch_id)
        if row is None or row.status != "succeeded":
            problems.append(f"{chunk.label}: {'not loaded' if row is None else row.status}")
            continue
        if row.rows_extracted != row.rows_loaded + row.rows_quarantined:
            problems.append(f"{chunk.label}: {row.rows_extracted} extracted != {row.rows_loaded} "
                            f"loaded + {row.rows_quarantined} quarantined")
        totals = by_source.setdefault(chunk.source, {"chunks": 0, "rows_extracted": 0,
                                                     "rows_loaded": 0, "rows_quarantined": 0})
        totals["chunks"] += 1
        for name in ("rows_extracted", "rows_loaded", "rows_quarantined"):
            totals[name] += int(getattr(row, name))
    if problems:
        raise ReconciliationError("first load incomplete or not reconciled: " + "; ".join(problems))
    total = {name: sum(t[name] for t in by_source.values())
             for name in ("chunks", "rows_extracted", "rows_loaded", "rows_quarantined")}
    return {**total, "by_source": by_source}


def run_first_load(configs: Sequence[SourceConfig], chunks: Sequence[Chunk], engine: Engine, *,
                   data_docs: Path | None = None,
                   on_chunk: Callable[[ChunkResult], None] | None = None) -> list[ChunkResult]:
    """Load the chunks one after another in one process (`vcp first-load`); stops at the first
    chunk that fails (raising), so a rerun resumes from it."""
    by_name = {config.name: config for config in configs}
    results = []
    for chunk in chunks:
        result = load_chunk(chunk, by_name[chunk.source], engine, configs=configs, data_docs=data_docs)
        results.append(result)
        if on_chunk is not None:
            on_chunk(result)
    return results
