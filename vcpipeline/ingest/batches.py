"""A batch's bookkeeping and load, inside the caller's transaction: its result, the upserts of
the rows that passed, the quarantine of the rest (with their raw native row, minus personal
data), the files processed, the source's watermark, and closing the quarantine entries a newer
extract superseded; what the warehouse already knows (its crimes and victims) for validation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.ingest.checks import ValidatedBatch
from vcpipeline.ingest.extract import (
    DOOR_REASONS,
    KINDS,
    NATIVE_POSITION,
    NATIVE_TABLE,
    WATERMARK_UNREADABLE,
    native_watermark,
)
from vcpipeline.ingest.privacy import DERIVED_FROM_PII, raw_rows
from vcpipeline.ingest.typed import typed_canonical
from vcpipeline.ingest.windows import stored_watermark
from vcpipeline.sources.config import SourceConfig
from vcpipeline.sources.drop_files import DropFile
from vcpipeline.warehouse import load
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import (
    crimes,
    load_batches,
    processed_files,
    quarantine,
    source_watermarks,
    victims,
)

log = logging.getLogger(__name__)


class BatchFailed(RuntimeError):
    """A batch-level validation failure: nothing of the batch was loaded."""


@dataclass
class BatchResult:
    """What one source's batch did (counts are canonical rows: crimes + victims + events)."""

    source: str
    system: str
    batch_id: str
    interval_start: datetime
    interval_end: datetime
    status: str = "running"
    full: bool = False
    read: str = ""
    files: list[str] = field(default_factory=list)
    extracted: dict[str, int] = field(default_factory=dict)
    loaded: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    healed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    # Reported, not failing: files of the wrong kind in the landing folder, source counts that
    # do not match the extract, rows already quarantined for an unreadable watermark.
    notes: list[str] = field(default_factory=list)
    source_rows: dict[str, int] = field(default_factory=dict)

    @property
    def rows_extracted(self) -> int:
        return sum(self.extracted.values())

    @property
    def rows_loaded(self) -> int:
        return sum(self.loaded.values())

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined.values())

    @property
    def message(self) -> str:
        if self.failures:
            return "batch not loaded: " + " | ".join(self.failures)
        mode = "full" if self.full else "incremental"
        return f"{mode}: {self.read}"

    def summary(self) -> dict[str, Any]:
        """JSON-able, no row values: what the Airflow task returns and `vcp ingest` prints."""
        return {
            "source": self.source, "batch_id": self.batch_id, "status": self.status,
            "interval_start": self.interval_start.isoformat(),
            "interval_end": self.interval_end.isoformat(),
            "extract": "full" if self.full else "incremental", "read": self.read,
            "files": list(self.files),
            "rows_extracted": self.rows_extracted, "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "by_entity": {kind: {"extracted": self.extracted.get(kind, 0),
                                 "loaded": self.loaded.get(kind, 0),
                                 "quarantined": self.quarantined.get(kind, 0)} for kind in KINDS},
            "quarantine_reasons": dict(self.reasons),
            "rows_replayed_from_earlier_batches": self.healed,
            "failures": list(self.failures),
            "notes": list(self.notes),
            "source_rows": dict(self.source_rows),
        }


def upsert(conn: sa.Connection, kind: str, frame: pd.DataFrame, batch_id: str) -> int:
    """The warehouse's upsert for a canonical kind (looked up at call time)."""
    return getattr(load, f"upsert_{kind}")(conn, frame, batch_id)


def quarantine_frame(failed: pd.DataFrame, native: Mapping[str, pd.DataFrame],
                     config: SourceConfig, table: str) -> pd.DataFrame:
    """Failed rows of one native table as `quarantine_rows` wants them: id, reasons, raw row.

    A row id repeated in the batch (a verbatim duplicate that also failed) gets `#2`, `#3`, …
    so each quarantined row keeps its own entry.
    """
    rows = failed[failed[NATIVE_TABLE] == table]
    width = quarantine.c.source_row_id.type.length - 8  # room for a `#n` suffix
    ids = (rows["source_row_id"].astype("string").fillna("").str.replace("\x00", "", regex=False)
           .str.slice(0, width))
    repeat = ids.groupby(ids).cumcount().to_numpy()
    ids = ids.where(repeat == 0, ids + "#" + pd.Series(repeat + 1, index=ids.index).astype("string"))
    derived_columns = list(DERIVED_FROM_PII.get(config.name, {}).get(table, ()))
    derived = rows[derived_columns] if derived_columns else None
    positions = rows[NATIVE_POSITION].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "source_row_id": ids.to_numpy(),
        "reasons": rows["reasons"].to_numpy(),
        "raw_row": raw_rows(native[table].iloc[positions], config, table, derived),
    })


def _upsert_processed_files(conn: sa.Connection, system: str, files: Sequence[DropFile],
                            batch_id: str) -> None:
    if not files:
        return
    now = datetime.now(UTC)
    statement = load._insert(conn, processed_files)
    statement = statement.on_conflict_do_update(
        index_elements=["source_system", "file_name"],
        set_={"content_sha256": statement.excluded.content_sha256,
              "batch_id": statement.excluded.batch_id,
              "processed_at": statement.excluded.processed_at},
    )
    conn.execute(statement, [
        {"source_system": system, "file_name": drop.name, "content_sha256": drop.sha256,
         "batch_id": batch_id, "processed_at": now} for drop in files
    ])


def _advance_watermark(conn: sa.Connection, system: str, watermark: datetime | None) -> None:
    """Move the source's watermark forward (never back: an older night's rerun keeps it)."""
    if watermark is None:
        return
    current = stored_watermark(conn, system)
    if current is not None and current >= watermark:
        return
    statement = load._insert(conn, source_watermarks).values(
        source_system=system, watermark=watermark, updated_at=datetime.now(UTC))
    conn.execute(statement.on_conflict_do_update(
        index_elements=["source_system"],
        set_={"watermark": statement.excluded.watermark, "updated_at": statement.excluded.updated_at},
    ))


def _row_keys(entries: pd.DataFrame) -> pd.Series:
    """Quarantine entries' source-row keys: native table + row id, without a `#n` repeat suffix."""
    base_ids = entries["source_row_id"].astype("string").str.replace(r"#\d+$", "", regex=True)
    return entries["entity"].astype("string") + "\x1f" + base_ids


def _close_entries(conn: sa.Connection, ids: list[int], superseded_at: datetime) -> None:
    if ids:
        conn.execute(sa.update(quarantine).where(quarantine.c.id.in_(sa.bindparam("ids", expanding=True)))
                     .values(replayed_at=superseded_at), {"ids": ids})


def close_superseded(conn: sa.Connection, system: str, batch_id: str, interval_end: datetime,
                     extracted: pd.DataFrame) -> int:
    """Close the open quarantine entries that a newer extract of the same source row superseded.

    The latest extract of a row decides, for quarantine as for the warehouse. Looking back:
    entries of earlier batches for rows this batch read again are closed (the row loaded, or is
    quarantined again under this batch). Looking forward: this batch's own entries for rows a
    later batch has already read and quarantined (an older night run or rerun after a newer one)
    are closed too. So a bad source row is counted once, whatever order the nights ran in.
    Closed entries get `replayed_at` = the interval end of the batch whose extract superseded
    them (deterministic, so reruns match).
    """
    earlier = sa.select(load_batches.c.batch_id).where(
        load_batches.c.source_system == system, load_batches.c.interval_end < interval_end)
    open_rows = read_frame(conn, sa.select(
        quarantine.c.id, quarantine.c.entity, quarantine.c.source_row_id,
    ).where(
        quarantine.c.source_system == system, quarantine.c.replayed_at.is_(None),
        quarantine.c.batch_id != batch_id, quarantine.c.batch_id.in_(earlier),
    ))
    closed = 0
    if not open_rows.empty and not extracted.empty:
        seen = pd.Index((extracted[NATIVE_TABLE].astype("string") + "\x1f"
                         + extracted["source_row_id"].astype("string")).unique())
        ids = open_rows.loc[_row_keys(open_rows).isin(seen).to_numpy(), "id"].astype(int).tolist()
        _close_entries(conn, ids, interval_end)
        closed += len(ids)
    return closed + _close_own_superseded(conn, system, batch_id, interval_end)


def _close_own_superseded(conn: sa.Connection, system: str, batch_id: str, interval_end: datetime) -> int:
    """Close this batch's open entries for rows a later batch of the source quarantined (open or
    closed: either way it read a newer extract); each gets the first such batch's interval end."""
    own = read_frame(conn, sa.select(quarantine.c.id, quarantine.c.entity, quarantine.c.source_row_id)
                     .where(quarantine.c.batch_id == batch_id, quarantine.c.source_system == system,
                            quarantine.c.replayed_at.is_(None)))
    if own.empty:
        return 0
    later = read_frame(conn, sa.select(quarantine.c.entity, quarantine.c.source_row_id,
                                       load_batches.c.interval_end)
                       .join(load_batches, load_batches.c.batch_id == quarantine.c.batch_id)
                       .where(quarantine.c.source_system == system, load_batches.c.source_system == system,
                              load_batches.c.interval_end > interval_end))
    if later.empty:
        return 0
    first_later = later["interval_end"].groupby(_row_keys(later).to_numpy()).min()
    superseded_at = _row_keys(own).map(first_later)
    closing = own.assign(superseded_at=superseded_at.to_numpy())[superseded_at.notna().to_numpy()]
    for instant, entries in closing.groupby("superseded_at"):
        _close_entries(conn, entries["id"].astype(int).tolist(), pd.Timestamp(instant).to_pydatetime())
    return len(closing)


def warehouse_reported_at(conn: sa.Connection) -> pd.Series:
    """Every crime in the warehouse: report instant by crime_ref (the known crimes)."""
    frame = read_frame(conn, sa.select(crimes.c.crime_ref, crimes.c.reported_at))
    if frame.empty:
        return pd.Series([], dtype="datetime64[us, UTC]", index=pd.Index([], dtype="string"))
    return pd.Series(frame["reported_at"].to_numpy(), index=pd.Index(frame["crime_ref"].astype("string")),
                     dtype="datetime64[us, UTC]")


def warehouse_victims(conn: sa.Connection) -> pd.DataFrame:
    """Every victim in the warehouse, as (crime_ref, victim_id): the known victims."""
    return read_frame(conn, sa.select(victims.c.crime_ref, victims.c.victim_id)).astype("string")


def load_validated(conn: sa.Connection, result: BatchResult, config: SourceConfig,
                   native: Mapping[str, pd.DataFrame], validated: ValidatedBatch,
                   files: Sequence[DropFile]) -> load.BatchCounts:
    """Write a validated batch inside the caller's transaction; its counts."""
    for kind in KINDS:
        passed = validated.passed(kind)
        failed = validated.failed(kind)
        result.extracted[kind] = len(validated.canonical[kind])
        result.loaded[kind] = upsert(conn, kind, typed_canonical(kind, passed, result.interval_end),
                                     result.batch_id)
        quarantined = 0
        for table in failed[NATIVE_TABLE].unique().tolist() if len(failed) else []:
            frame = quarantine_frame(failed, native, config, str(table))
            quarantined += load.quarantine_rows(conn, result.batch_id, config.system, str(table), frame)
        result.quarantined[kind] = quarantined
        if len(failed):
            reasons = failed["reasons"].astype("string").str.split(";").explode().value_counts()
            for reason, count in reasons.items():
                result.reasons[str(reason)] = result.reasons.get(str(reason), 0) + int(count)
    _upsert_processed_files(conn, config.system, files, result.batch_id)
    _advance_watermark(conn, config.system, native_watermark(native, config, result.interval_end))
    everything = pd.concat([validated.canonical[kind][[NATIVE_TABLE, "source_row_id"]] for kind in KINDS])
    close_superseded(conn, config.system, result.batch_id, result.interval_end, everything)
    return load.BatchCounts(result.rows_extracted, result.rows_loaded, result.rows_quarantined)


def drop_reported_unreadable(conn: sa.Connection, system: str, batch_id: str,
                             canonical: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], int]:
    """The canonical rows minus those whose watermark cannot be read and that an earlier batch
    already quarantined for it (still open): such a row is read by every batch, since no window
    holds it, but quarantined once, not every night. Once fixed, its new extract loads and closes
    the old entry."""
    unreadable = {kind: frame[DOOR_REASONS].astype("string").fillna("")
                  .str.contains(WATERMARK_UNREADABLE, regex=False).to_numpy(dtype=bool)
                  for kind, frame in canonical.items() if DOOR_REASONS in frame.columns}
    if not any(flags.any() for flags in unreadable.values()):
        return canonical, 0
    held = read_frame(conn, sa.select(quarantine.c.entity, quarantine.c.source_row_id).where(
        quarantine.c.source_system == system, quarantine.c.replayed_at.is_(None),
        quarantine.c.batch_id != batch_id,
        quarantine.c.reasons.contains(WATERMARK_UNREADABLE, autoescape=True)))
    if held.empty:
        return canonical, 0
    keys = pd.Index(held["entity"].astype("string") + "\x1f"
                    + held["source_row_id"].astype("string").str.replace(r"#\d+$", "", regex=True))
    out, skipped = {}, 0
    for kind, frame in canonical.items():
        flags = unreadable.get(kind)
        if flags is None or not flags.any():
            out[kind] = frame
            continue
        row_keys = frame[NATIVE_TABLE].astype("string") + "\x1f" + frame["source_row_id"].astype("string")
        known = flags & row_keys.isin(keys).to_numpy(dtype=bool)
        skipped += int(known.sum())
        out[kind] = frame[~known].reset_index(drop=True)
    return out, skipped


def record_failure(engine: Engine, system: str, start: datetime, end: datetime,
                    message: str) -> None:
    """Mark the batch failed in its own transaction; never hides the error that got us here."""
    try:
        with engine.begin() as conn:
            load.record_batch_failure(conn, system, start, end, message)
    except Exception:
        log.exception("could not record the failure of %s's batch", system)
