"""Loading canonical rows into the warehouse: batches, idempotent upserts, quarantine, checksums.

Every function takes an open `Connection`, so the caller decides the transaction: a night's batch
is started, written and finished in one transaction and is therefore all there or not there at
all. Rerunning the same night reuses its batch (the id is derived from source and interval) and,
because upserts are keyed on natural keys with "the latest extract wins", leaves the warehouse as
if it had run once.

The bulk writes themselves (COPY on PostgreSQL, `executemany` on SQLite) are `warehouse.io`'s.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

# Re-exported: the checksums were defined here first and are imported from here.
from vcpipeline.instants import utc_instant
from vcpipeline.warehouse.checksums import (  # noqa: F401
    VOLATILE_COLUMNS,
    frame_checksum,
    table_checksums,
)
from vcpipeline.warehouse.frames import Kind, column_kind
from vcpipeline.warehouse.io import insert_statement, upsert_frame
from vcpipeline.warehouse.schema import (
    BATCH_STATUSES,
    NATURAL_KEYS,
    load_batches,
    metadata,
    quarantine,
)

_ISO_OFFSET = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
# Field names never written to quarantine.raw_row, whatever the caller passes (defence in depth).
PII_FIELDS: frozenset[str] = frozenset({
    "name", "first_name", "forename", "given_name", "surname", "last_name", "family_name",
    "full_name", "victim_name", "date_of_birth", "dob", "birth_date", "phone", "phone_number",
    "telephone", "mobile", "email", "email_address", "address", "address_line_1",
    "address_line_2", "street", "town", "postcode", "post_code", "contact", "contact_details",
})


class ReconciliationError(ValueError):
    """A batch whose counts do not add up cannot be marked succeeded."""


@dataclass(frozen=True)
class BatchCounts:
    """What a batch read from its source and what became of each row."""

    rows_extracted: int
    rows_loaded: int
    rows_quarantined: int


def _utc_now() -> datetime:
    return datetime.now(UTC)


def batch_id_for(source_system: str, interval_start: datetime, interval_end: datetime) -> str:
    """The batch id of a source's extract over an interval: the same night gives the same id."""
    start = utc_instant(interval_start, "interval_start")
    end = utc_instant(interval_end, "interval_end")
    return f"{source_system}:{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}"


# The old private name, still used by `ingest/run.py`: use `warehouse.io.insert_statement`.
_insert = insert_statement


def start_batch(
    conn: sa.Connection, source_system: str, interval_start: datetime, interval_end: datetime
) -> str:
    """Open (or reopen, on a rerun) the batch for a source and interval; return its id.

    A rerun resets the batch's counts and status and forgets what its earlier run quarantined
    (unless since replayed), so the batch then describes this run alone.
    """
    batch_id = batch_id_for(source_system, interval_start, interval_end)
    if interval_end < interval_start:
        raise ValueError(f"batch interval ends before it starts: {batch_id}")
    reset = {
        "status": "running", "started_at": _utc_now(), "finished_at": None,
        "rows_extracted": 0, "rows_loaded": 0, "rows_quarantined": 0, "message": None,
    }
    statement = insert_statement(conn, load_batches).values(
        batch_id=batch_id, source_system=source_system,
        interval_start=interval_start, interval_end=interval_end, **reset,
    )
    conn.execute(statement.on_conflict_do_update(index_elements=["batch_id"], set_=reset))
    conn.execute(
        sa.delete(quarantine).where(
            quarantine.c.batch_id == batch_id, quarantine.c.replayed_at.is_(None)
        )
    )
    return batch_id


def finish_batch(
    conn: sa.Connection,
    batch_id: str,
    *,
    status: str,
    rows_extracted: int,
    rows_loaded: int,
    rows_quarantined: int,
    message: str | None = None,
) -> None:
    """Close a batch. Refuses `succeeded` unless every extracted row was loaded or quarantined."""
    if status not in BATCH_STATUSES or status == "running":
        raise ValueError(f"a batch finishes as 'succeeded' or 'failed', not {status!r}")
    if status == "succeeded" and rows_extracted != rows_loaded + rows_quarantined:
        raise ReconciliationError(
            f"batch {batch_id} does not reconcile: {rows_extracted} extracted != "
            f"{rows_loaded} loaded + {rows_quarantined} quarantined"
        )
    result = conn.execute(
        sa.update(load_batches)
        .where(load_batches.c.batch_id == batch_id)
        .values(
            status=status, finished_at=_utc_now(), rows_extracted=rows_extracted,
            rows_loaded=rows_loaded, rows_quarantined=rows_quarantined, message=message,
        )
    )
    if result.rowcount != 1:
        raise LookupError(f"no such batch: {batch_id}")


def record_batch_failure(
    conn: sa.Connection,
    source_system: str,
    interval_start: datetime,
    interval_end: datetime,
    message: str,
) -> str:
    """Record that a batch's attempt failed, after its own transaction was rolled back."""
    batch_id = batch_id_for(source_system, interval_start, interval_end)
    now = _utc_now()
    failed = {"status": "failed", "finished_at": now, "message": message[:4000]}
    statement = insert_statement(conn, load_batches).values(
        batch_id=batch_id, source_system=source_system, interval_start=interval_start,
        interval_end=interval_end, started_at=now, **failed,
    )
    conn.execute(statement.on_conflict_do_update(index_elements=["batch_id"], set_=failed))
    return batch_id


def run_batch(
    engine: Engine,
    source_system: str,
    interval_start: datetime,
    interval_end: datetime,
    load: Callable[[sa.Connection, str], BatchCounts],
) -> tuple[str, BatchCounts]:
    """Start, load and finish one batch in a single transaction; on failure record it and re-raise.

    `load(conn, batch_id)` writes the batch's rows (upserts, quarantine) and returns its counts.
    """
    try:
        with engine.begin() as conn:
            batch_id = start_batch(conn, source_system, interval_start, interval_end)
            counts = load(conn, batch_id)
            finish_batch(
                conn, batch_id, status="succeeded", rows_extracted=counts.rows_extracted,
                rows_loaded=counts.rows_loaded, rows_quarantined=counts.rows_quarantined,
            )
    except Exception as exc:
        with engine.begin() as conn:
            record_batch_failure(
                conn, source_system, interval_start, interval_end, f"{type(exc).__name__}: {exc}"
            )
        raise
    return batch_id, counts


# --- canonical upserts -------------------------------------------------------------------------


def _stored_instants(values: pd.Series, column: str) -> pd.Series:
    """Any instant-like column to `datetime64[us, UTC]`; naive values are refused."""
    naive = ValueError(f"column {column!r} holds naive datetimes: the warehouse stores UTC instants")
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        if pd.api.types.is_datetime64_dtype(values.dtype):
            raise naive
        if values.isna().all():
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
        present = values.dropna()
        if pd.api.types.is_string_dtype(present.dtype) or present.map(type).eq(str).all():
            aware = present.astype("string").str.contains(_ISO_OFFSET, regex=True)
        else:  # datetime objects (a slow path: typed frames arrive as datetime64[us, UTC])
            aware = present.map(lambda value: getattr(value, "tzinfo", None) is not None)
        if not aware.all():
            raise naive
        values = pd.to_datetime(values, utc=True, format="ISO8601")
    return values.dt.tz_convert("UTC").dt.as_unit("us")


def _typed_column(values: pd.Series, kind: Kind, column: sa.Column[Any]) -> pd.Series:
    if kind == "instant":
        return _stored_instants(values, column.name)
    if kind == "boolean":
        return values.astype("boolean")
    if kind == "integer":
        return values.astype("Int64")
    text = values.astype("string")
    if column.nullable:  # an empty optional field is absent, on both backends alike
        text = text.mask(text == "")
    return text


def canonical_rows(frame: pd.DataFrame, table: sa.Table, batch_id: str) -> pd.DataFrame:
    """The frame's rows as the table's typed columns, lineage stamped, one row per natural key.

    Columns the table does not have (PII included) are dropped here, so they never reach the
    warehouse. Where a key repeats, the row with the latest `extracted_at` (then the last) stays.
    """
    missing = [
        column.name for column in table.columns
        if not column.nullable and column.name != "load_batch_id" and column.name not in frame.columns
    ]
    if missing:
        raise ValueError(f"{table.name}: frame lacks required column(s): {', '.join(missing)}")
    frame = frame.reset_index(drop=True)
    typed: dict[str, pd.Series] = {}
    for column in table.columns:
        if column.name == "load_batch_id":
            typed[column.name] = pd.Series(batch_id, index=frame.index, dtype="string")
        elif column.name in frame.columns:
            typed[column.name] = _typed_column(frame[column.name], column_kind(column.type), column)
        else:
            typed[column.name] = _typed_column(
                pd.Series(pd.NA, index=frame.index, dtype="object"), column_kind(column.type), column
            )
    rows = pd.DataFrame(typed)
    key = list(NATURAL_KEYS[table.name])
    if rows.duplicated(key).any():
        rows = rows.sort_values("extracted_at", kind="stable").drop_duplicates(key, keep="last")
    return rows


def upsert_rows(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame, batch_id: str) -> int:
    """Upsert canonical rows into `table`, latest extract winning; return the rows accepted.

    The count is the frame's length: every row was either written or is already superseded by
    a newer extract of the same key, so it counts as loaded for the batch's reconciliation.
    """
    if frame.empty:
        return 0
    rows = canonical_rows(frame, table, batch_id)
    upsert_frame(conn, table, rows, NATURAL_KEYS[table.name], newer="extracted_at")
    return len(frame)


def upsert_crimes(conn: sa.Connection, frame: pd.DataFrame, batch_id: str) -> int:
    """Crimes keyed on `crime_ref` (canonical columns, team/officer_collar, lineage, extracted_at)."""
    return upsert_rows(conn, metadata.tables["crimes"], frame, batch_id)


def upsert_victims(conn: sa.Connection, frame: pd.DataFrame, batch_id: str) -> int:
    """Victims keyed on (`crime_ref`, `victim_id`)."""
    return upsert_rows(conn, metadata.tables["victims"], frame, batch_id)


def upsert_events(conn: sa.Connection, frame: pd.DataFrame, batch_id: str) -> int:
    """Case events keyed on `event_id`; an empty `victim_id` is stored as NULL (crime-level)."""
    return upsert_rows(conn, metadata.tables["case_events"], frame, batch_id)


# --- quarantine --------------------------------------------------------------------------------


def _reasons_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return ";".join(str(reason) for reason in value)


def _raw_row_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        scrubbed = {k: v for k, v in value.items() if str(k).lower() not in PII_FIELDS}
        return json.dumps(scrubbed, sort_keys=True, default=str)
    raise TypeError(f"raw_row must be JSON text or a mapping, not {type(value).__name__}")


def quarantine_rows(
    conn: sa.Connection, batch_id: str, source_system: str, entity: str, frame: pd.DataFrame
) -> int:
    """Record unusable source rows with why; return how many.

    `frame` has `source_row_id`, `reasons` (text, or a list of failed expectation names, joined
    with `;`) and optionally `raw_row` (JSON text, or a mapping from which PII fields are
    dropped). Re-quarantining a row in a rerun updates it rather than adding another, and an
    entry already closed stays closed: a rerun only meets its closed entries (`start_batch`
    deletes the open ones), and those were closed because a newer extract of the row superseded
    them or a replay loaded it. Reopening them would let an older night outvote a newer one.
    """
    if frame.empty:
        return 0
    for required in ("source_row_id", "reasons"):
        if required not in frame.columns:
            raise ValueError(f"quarantine frame lacks column {required!r}")
    raw = frame["raw_row"] if "raw_row" in frame.columns else pd.Series(None, index=frame.index)
    now = _utc_now()
    records = [
        {
            "batch_id": batch_id, "source_system": source_system, "entity": entity,
            "source_row_id": str(row_id), "reasons": _reasons_text(reasons),
            "raw_row": _raw_row_text(raw_row), "quarantined_at": now, "replayed_at": None,
        }
        for row_id, reasons, raw_row in zip(
            frame["source_row_id"].tolist(), frame["reasons"].tolist(), raw.tolist(), strict=True
        )
    ]
    statement = insert_statement(conn, quarantine)
    statement = statement.on_conflict_do_update(
        index_elements=["batch_id", "source_system", "entity", "source_row_id"],
        set_={
            "reasons": statement.excluded.reasons,
            "raw_row": statement.excluded.raw_row,
        },
    )
    conn.execute(statement, records)
    return len(records)
