"""Re-processing quarantined rows after a fix, and what the quarantine holds.

A quarantined row keeps its raw native row (minus personal data, plus the values derived from
it, such as age at report). Replaying runs it through today's adapter and suites again, as of its
batch's interval end: rows that now pass are upserted under their original batch and extract time
(so a newer extract of the same row still wins, and nothing is loaded twice) and marked replayed;
rows that still fail stay quarantined with the new reasons. The original batch's counts move the
replayed rows from quarantined to loaded, so every batch still reconciles.

The nightly crime-recording batch replays rows that were quarantined because their crime was not
known yet (events and victims that arrived before their crime), once it has loaded new crimes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.ingest.batches import upsert, warehouse_reported_at, warehouse_victims
from vcpipeline.ingest.checks import row_reasons, validate_canonical
from vcpipeline.ingest.extract import KINDS, NATIVE_POSITION, NATIVE_TABLE, canonical_by_origin
from vcpipeline.ingest.privacy import pii_columns
from vcpipeline.ingest.typed import typed_canonical
from vcpipeline.sources.config import SourceConfig
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import load_batches, quarantine


@dataclass
class ReplayResult:
    """How many open quarantined rows were tried, loaded, and left quarantined (per batch too)."""

    considered: int = 0
    replayed: int = 0
    still_quarantined: int = 0
    not_replayable: int = 0
    by_batch: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {"considered": self.considered, "replayed": self.replayed,
                "still_quarantined": self.still_quarantined, "not_replayable": self.not_replayable,
                "by_batch": self.by_batch}


def open_quarantine(conn: sa.Connection, *, source_system: str | None = None,
                    batch_id: str | None = None, reason: str | None = None,
                    exclude_batch: str | None = None) -> pd.DataFrame:
    """Quarantined rows not yet replayed, with their batch's interval end, oldest batch first."""
    query = (
        sa.select(quarantine.c.id, quarantine.c.batch_id, quarantine.c.source_system,
                  quarantine.c.entity, quarantine.c.source_row_id, quarantine.c.reasons,
                  quarantine.c.raw_row, load_batches.c.interval_end)
        .join(load_batches, load_batches.c.batch_id == quarantine.c.batch_id)
        .where(quarantine.c.replayed_at.is_(None))
        .order_by(load_batches.c.interval_end, quarantine.c.source_system, quarantine.c.id)
    )
    if source_system is not None:
        query = query.where(quarantine.c.source_system == source_system)
    if batch_id is not None:
        query = query.where(quarantine.c.batch_id == batch_id)
    if reason is not None:
        query = query.where(quarantine.c.reasons.contains(reason, autoescape=True))
    if exclude_batch is not None:
        query = query.where(quarantine.c.batch_id != exclude_batch)
    return read_frame(conn, query)


def native_from_quarantine(rows: pd.DataFrame, config: SourceConfig
                           ) -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray],
                                      dict[str, pd.DataFrame], int]:
    """Rebuild native frames from stored raw rows: (frames, quarantine ids, derived values, unusable).

    Personal-data columns were never stored: they come back empty, and the values derived from
    them are restored from `derived` after the adapter has run.
    """
    tables: dict[str, list[tuple[int, dict, dict]]] = {}
    unusable = 0
    for qid, text in zip(rows["id"].tolist(), rows["raw_row"].tolist(), strict=True):
        try:
            document = json.loads(text)
            table, row = document["table"], document["row"]
        except (TypeError, ValueError, KeyError):
            unusable += 1
            continue
        tables.setdefault(table, []).append((int(qid), row, document.get("derived") or {}))
    frames, ids, derived = {}, {}, {}
    for table, items in tables.items():
        frame = pd.DataFrame([row for _, row, _ in items], dtype="string").fillna("")
        for column in pii_columns(config.name, table):
            frame[column] = ""
        frames[table] = frame.reset_index(drop=True)
        ids[table] = np.array([qid for qid, _, _ in items], dtype=np.int64)
        derived[table] = pd.DataFrame([more for _, _, more in items], dtype="string")
    return frames, ids, derived, unusable


def _restore_derived(canonical: dict[str, pd.DataFrame], derived: dict[str, pd.DataFrame]) -> None:
    for frame in canonical.values():
        for table, values in derived.items():
            if values.empty:
                continue
            mine = (frame[NATIVE_TABLE] == table).to_numpy()
            positions = frame.loc[mine, NATIVE_POSITION].to_numpy(dtype=np.int64)
            for column in values.columns:
                if column in frame.columns:
                    frame.loc[mine, column] = values[column].to_numpy()[positions]


def replay_quarantined(
    conn: sa.Connection,
    configs: Sequence[SourceConfig],
    *,
    source: str | None = None,
    batch_id: str | None = None,
    reason: str | None = None,
    replayed_at: datetime,
    exclude_batch: str | None = None,
    crime_refs: Collection[str] | None = None,
) -> ReplayResult:
    """Replay open quarantined rows (filtered by source name, batch, reason) inside `conn`'s transaction.

    `crime_refs` limits the replay to rows of those crimes (the crimes a batch just loaded), so a
    nightly heal validates only what it can change. Validation runs once per original batch,
    as of that batch's interval end.
    """
    by_name = {config.name: config for config in configs}
    system = None
    if source is not None:
        if source not in by_name:
            raise LookupError(f"no source named {source!r}")
        system = by_name[source].system
    rows = open_quarantine(conn, source_system=system, batch_id=batch_id, reason=reason,
                           exclude_batch=exclude_batch)
    result = ReplayResult()
    if rows.empty:
        return result
    by_system = {config.system: config for config in configs}
    known = warehouse_reported_at(conn)
    for (batch, source_system), group in rows.groupby(["batch_id", "source_system"], sort=False):
        config = by_system.get(str(source_system))
        if config is None:
            result.not_replayable += len(group)
            continue
        interval_end = group["interval_end"].iloc[0].to_pydatetime()
        native, ids, derived, unusable = native_from_quarantine(group, config)
        result.not_replayable += unusable
        canonical = canonical_by_origin(native, config)
        _restore_derived(canonical, derived)
        if crime_refs is not None:
            wanted = pd.Index(list(crime_refs), dtype="string")
            canonical = {kind: frame[frame["crime_ref"].astype("string").isin(wanted).to_numpy()]
                         .reset_index(drop=True) for kind, frame in canonical.items()}
            if not any(len(frame) for frame in canonical.values()):
                continue
        result.considered += sum(len(frame) for frame in canonical.values()) + unusable
        validations, _ = validate_canonical(canonical, now=interval_end, known_reported_at=known,
                                            known_victims=warehouse_victims(conn))
        replayed: list[int] = []
        reasons: list[dict[str, object]] = []
        for kind in KINDS:
            frame = canonical[kind]
            if frame.empty:
                continue
            reasons_now = row_reasons(kind, frame, validations.get(kind))
            passed = frame[reasons_now == ""]
            failed = frame[reasons_now != ""]
            if len(passed):
                upsert(conn, kind, typed_canonical(kind, passed, interval_end), str(batch))
                replayed += _quarantine_ids(passed, ids)
                if kind == "crimes":
                    known = warehouse_reported_at(conn)
            for qid, text in zip(_quarantine_ids(failed, ids), reasons_now[reasons_now != ""].tolist(),
                                 strict=True):
                reasons.append({"qid": qid, "reasons": str(text)})
        if replayed:
            conn.execute(
                sa.update(quarantine)
                .where(quarantine.c.id.in_(sa.bindparam("ids", expanding=True)))
                .values(replayed_at=replayed_at), {"ids": replayed})
            conn.execute(
                sa.update(load_batches).where(load_batches.c.batch_id == str(batch)).values(
                    rows_loaded=load_batches.c.rows_loaded + len(replayed),
                    rows_quarantined=load_batches.c.rows_quarantined - len(replayed)))
        if reasons:
            conn.execute(sa.update(quarantine).where(quarantine.c.id == sa.bindparam("qid"))
                         .values(reasons=sa.bindparam("reasons")), reasons)
        result.replayed += len(replayed)
        result.still_quarantined += len(reasons)
        result.by_batch[str(batch)] = {"replayed": len(replayed), "still_quarantined": len(reasons)}
    return result


def _quarantine_ids(rows: pd.DataFrame, ids: dict[str, np.ndarray]) -> list[int]:
    out: list[int] = []
    for table, positions in rows.groupby(NATIVE_TABLE, sort=False)[NATIVE_POSITION]:
        out += ids[str(table)][positions.to_numpy(dtype=np.int64)].tolist()
    return out


def quarantine_summary(conn: sa.Connection, *, source_system: str | None = None,
                       include_replayed: bool = False, batch_id: str | None = None) -> pd.DataFrame:
    """Quarantined rows counted by source, entity and failed expectation (a row counts once per
    reason); of one batch (a source's night) when `batch_id` is given."""
    query = sa.select(quarantine.c.source_system, quarantine.c.entity, quarantine.c.reasons,
                      quarantine.c.replayed_at)
    if source_system is not None:
        query = query.where(quarantine.c.source_system == source_system)
    if batch_id is not None:
        query = query.where(quarantine.c.batch_id == batch_id)
    if not include_replayed:
        query = query.where(quarantine.c.replayed_at.is_(None))
    frame = read_frame(conn, query)
    columns = ["source_system", "entity", "reason", "rows"]
    if frame.empty:
        return pd.DataFrame({name: pd.Series([], dtype="string" if name != "rows" else "int64")
                             for name in columns})
    frame["reason"] = frame["reasons"].astype("string").str.split(";")
    exploded = frame.explode("reason")
    counts = (exploded.groupby(["source_system", "entity", "reason"], sort=True).size()
              .rename("rows").reset_index())
    return counts[columns]
