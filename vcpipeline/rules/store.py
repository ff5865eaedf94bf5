"""The warehouse side of the rule engine: keep the `obligations` table up to date, incrementally.

A night re-evaluates only the crimes whose obligations can have changed since the last
evaluation (the dirty set, `rules/changes.py`), rewriting only the rows that differ from the
stored ones (`rules/incremental.py`: most of a changed crime's obligations are as they were).
Every other obligation can change only because time passed: a PENDING one now due becomes
BREACHED, one UPDATE. All of it is one transaction, so readers see the night before or the night
after. The cost grows with the night's changes and the obligations falling due, not with the
history. Reads and writes go through `warehouse.io`.

A full evaluation runs the first time, when the rule sets change (their fingerprint is kept in
`obligation_runs`), when asked, and when A goes back in time (a backfill of an earlier night).
Re-running the same A finds no new batch and an empty time window, and changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from vcpipeline import instants
from vcpipeline.canonical import STATUSES
from vcpipeline.rules import changes
from vcpipeline.rules.engine import evaluate
from vcpipeline.rules.incremental import (
    full_evaluation_reason,
    obligation_rows,
    row_changes,
    rulesets_fingerprint,
    status_counts,
    usable_events,
)
from vcpipeline.rules.ruleset import RuleSets, load_rulesets
from vcpipeline.warehouse.io import ColumnKind, delete_keys, insert_rows, read_columns, read_frame
from vcpipeline.warehouse.schema import crimes, obligations

log = logging.getLogger(__name__)

TABLE_COLUMNS: tuple[str, ...] = tuple(column.name for column in obligations.columns)
KEY_COLUMNS: tuple[str, ...] = tuple(column.name for column in obligations.primary_key.columns)
# Any fixed number: serialises concurrent evaluations of one PostgreSQL warehouse.
_PG_EVALUATION_LOCK = 0x5643_504F_42  # "VCPOB"

_INPUTS = {  # frame: (table, alias, columns)
    "crimes": ("crimes", "c", "crime_ref, reported_at, department, offence_category, "
                              "domestic_abuse, hate_crime"),
    "victims": ("victims", "v", "crime_ref, victim_id, age_at_report, vulnerable, intimidated, "
                                "persistently_targeted"),
    "events": ("case_events", "e", "event_id, crime_ref, victim_id, event_type, occurred_at, "
                                   "in_need, outcome_code, court_result, channel, interval_days"),
}
_INPUT_KINDS: dict[str, ColumnKind] = {
    "reported_at": "instant", "occurred_at": "instant", "domestic_abuse": "boolean",
    "hate_crime": "boolean", "vulnerable": "boolean", "intimidated": "boolean",
    "persistently_targeted": "boolean", "in_need": "boolean", "age_at_report": "integer",
    "outcome_code": "integer", "interval_days": "integer",
}
_OBLIGATION_KINDS: dict[str, ColumnKind] = {
    "trigger_at": "instant", "due_at": "instant", "met_at": "instant", "enhanced": "boolean",
    "channel_as_agreed": "boolean",
}


def read_inputs(conn: sa.Connection, *, only_dirty: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Crimes, victims and events as typed frames (as `prepare` returns them), of every crime or
    only of the crimes in this transaction's dirty set."""
    frames = []
    for table, alias, columns in _INPUTS.values():
        source = (changes.DIRTY_FIRST.format(alias=alias, table=table) if only_dirty
                  else f"{table} {alias}")
        select = ", ".join(f"{alias}.{name.strip()}" for name in columns.split(","))
        frames.append(read_columns(conn, f"SELECT {select} FROM {source}", _INPUT_KINDS))
    crimes_frame, victims_frame, events = frames
    for frame, flags in ((crimes_frame, ("domestic_abuse", "hate_crime")),
                         (victims_frame, ("vulnerable", "intimidated", "persistently_targeted"))):
        for flag in flags:
            frame[flag] = frame[flag].astype("boolean").fillna(False).astype(bool)
    return crimes_frame, victims_frame, events


def read_dirty_obligations(conn: sa.Connection) -> pd.DataFrame:
    """The stored obligations of the crimes in this transaction's dirty set."""
    columns = ", ".join(f"o.{name}" for name in TABLE_COLUMNS)
    source = changes.DIRTY_FIRST.format(alias="o", table="obligations")
    frame = read_columns(conn, f"SELECT {columns} FROM {source}", _OBLIGATION_KINDS)
    frame["enhanced"] = frame["enhanced"].astype(bool)
    return frame


@contextmanager
def _transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One transaction; on PostgreSQL concurrent evaluations wait for each other."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_EVALUATION_LOCK})
        yield conn


def refresh_obligations(engine: sa.Engine, as_of: pd.Timestamp | datetime,
                        rulesets: RuleSets | None = None, *, full: bool = False) -> dict[str, Any]:
    """Bring `obligations` up to date as of `as_of`, incrementally unless a full evaluation is
    needed (or `full`); one transaction. Returns a JSON-able summary of what was done."""
    began = time.perf_counter()
    started_at = datetime.now(UTC)
    stamp = pd.Timestamp(instants.utc_instant(as_of, "as_of")).tz_convert("UTC")
    instant = stamp.to_pydatetime()
    rulesets = rulesets or load_rulesets()
    fingerprint = rulesets_fingerprint(rulesets)
    timings = {"read_seconds": 0.0, "evaluate_seconds": 0.0, "write_seconds": 0.0}

    with _transaction(engine) as conn:
        last = changes.last_run(conn)
        reason = full_evaluation_reason(
            requested=full, last_fingerprint=last.rulesets_sha256 if last else None,
            last_as_of=last.as_of if last else None, fingerprint=fingerprint, as_of=instant)
        full = reason is not None
        batches = changes.new_batches(conn)
        batch_ids = [batch_id for batch_id, _ in batches]

        clock = time.perf_counter()
        if full:
            dirty = conn.execute(sa.select(sa.func.count()).select_from(crimes)).scalar_one()
        else:
            dirty = changes.mark_dirty(conn, batch_ids, last.as_of, instant)
        replaced = written = evaluated = 0
        statuses = dict.fromkeys(STATUSES, 0)
        if dirty:
            crimes_frame, victims_frame, events = read_inputs(conn, only_dirty=not full)
            timings["read_seconds"] = time.perf_counter() - clock
            clock = time.perf_counter()
            result = evaluate(crimes_frame, victims_frame, usable_events(crimes_frame, events),
                              stamp, rulesets)
            rows = obligation_rows(result)
            timings["evaluate_seconds"] = time.perf_counter() - clock
            clock = time.perf_counter()
            if full:
                replaced = conn.execute(sa.delete(obligations)).rowcount
                written = insert_rows(conn, obligations, rows)
            else:  # most of a changed crime's obligations are as they were: write the difference
                stale, fresh = row_changes(read_dirty_obligations(conn), rows)
                replaced = delete_keys(conn, obligations, stale)
                written = insert_rows(conn, obligations, fresh)
                changes.note_changed_days(conn, pd.concat([stale["due_at"], fresh["due_at"]]))
            evaluated = len(rows)
            statuses = status_counts(rows["status"])
        else:
            clock = time.perf_counter()
        advanced = 0 if full else changes.advance_statuses(conn, instant)
        changes.record_event_crimes(conn, batch_ids, full=full)
        changes.record_batches(conn, batches, full=full)
        changes.note_changed_crimes(conn, full=full)
        if not full:
            changes.drop_dirty(conn)
        timings["write_seconds"] = time.perf_counter() - clock

        total = written if full else int(last.obligations_total) - replaced + written
        summary: dict[str, Any] = {
            "as_of": stamp.isoformat(), "mode": "full" if full else "incremental",
            "full_reason": reason, "rulesets_sha256": fingerprint, "batches": len(batches),
            "crimes_reevaluated": int(dirty), "obligations_evaluated": int(evaluated),
            "obligations_replaced": int(replaced), "obligations_written": int(written),
            "statuses_advanced": int(advanced), "obligations_total": int(total),
            "evaluated_by_status": statuses,
        }
        timings["total_seconds"] = time.perf_counter() - began
        changes.record_run(conn, summary, timings, started_at)
        clock = time.perf_counter()
    timings["commit_seconds"] = time.perf_counter() - clock
    timings["total_seconds"] = time.perf_counter() - began
    log.info("obligations as of %s: %s", stamp.isoformat(), summary)
    return {**summary, **{k: round(v, 3) for k, v in timings.items()}}


def read_obligations(conn: sa.Connection) -> pd.DataFrame:
    """The whole stored table as a typed frame (tests, checks; not for the nightly hot path)."""
    frame = read_frame(conn, sa.select(obligations))
    frame["enhanced"] = frame["enhanced"].astype(bool)
    return frame


def full_evaluation(conn: sa.Connection, as_of: pd.Timestamp,
                    rulesets: RuleSets | None = None) -> pd.DataFrame:
    """What a full evaluation of the warehouse as of `as_of` gives, as `obligations` rows,
    without storing it: the reference an incremental table must equal."""
    crimes_frame, victims_frame, events = read_inputs(conn, only_dirty=False)
    result = evaluate(crimes_frame, victims_frame, usable_events(crimes_frame, events),
                      pd.Timestamp(as_of).tz_convert("UTC"), rulesets or load_rulesets())
    return obligation_rows(result)


__all__ = [
    "TABLE_COLUMNS", "full_evaluation", "read_inputs", "read_obligations", "refresh_obligations",
]
