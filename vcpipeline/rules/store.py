"""The warehouse side of the rule engine: keep the `obligations` table up to date, incrementally.

A night re-evaluates only the crimes whose obligations can have changed since the last
evaluation (the dirty set, `rules/changes.py`), rewriting only the rows that differ from the
stored ones (`rules/incremental.py`: most of a changed crime's obligations are as they were).
Every other obligation can change only because time passed: a PENDING one now due becomes
BREACHED, one UPDATE. With one partition all of it is one transaction, so readers see the night
before or the night after; with P (`rules/partitions.py`) the crimes split by a stable hash of
`crime_ref`, each partition is one transaction, and the merge (`rules/night.py`) records the
night once every partition is in. The cost grows with the night's changes and the obligations
falling due, not with the history. Reads and writes go through `warehouse.io`.

So that the history's size does not show: the dirty crimes' rows are read by the `crime_ref`
indexes (`changes.dirty_rows`; PostgreSQL sends them by COPY), stale rows are deleted by key in
one statement, fresh ones written in order of their crimes' report (`incremental.storage_order`:
a crime's rows on a page or two, the recent crimes that nights touch side by side), only PENDING
obligations are indexed for "now due", and the table's size is kept (`obligation_counts`), not
counted. Measured at 1M victims on PostgreSQL: docs/performance.md.

A full evaluation runs the first time, when the rule sets change (their fingerprint is kept in
`obligation_runs`), when asked, and when A goes back in time (a backfill of an earlier night).
Re-running the same A finds no new batch and an empty time window, and changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.canonical import STATUSES
from vcpipeline.rules import changes
from vcpipeline.rules.engine import evaluate
from vcpipeline.rules.incremental import (
    obligation_rows,
    row_changes,
    rulesets_fingerprint,
    status_counts,
    storage_order,
    usable_events,
)
from vcpipeline.rules.night import NightPlan, finish_night, plan_night, utc_stamp
from vcpipeline.rules.partitions import configured_partitions, partition_of
from vcpipeline.rules.ruleset import RuleSets, load_rulesets
from vcpipeline.warehouse.io import ColumnKind, delete_keys, insert_rows, read_columns, read_frame
from vcpipeline.warehouse.schema import obligations

log = logging.getLogger(__name__)

TABLE_COLUMNS: tuple[str, ...] = tuple(column.name for column in obligations.columns)
KEY_COLUMNS: tuple[str, ...] = tuple(column.name for column in obligations.primary_key.columns)
# Any fixed number: serialises concurrent evaluations of one PostgreSQL warehouse.
_PG_EVALUATION_LOCK = 0x5643_504F_42  # "VCPOB"
_PG_PARTITION_LOCKS = 0x5643_504F  # "VCPO": the two-key lock space, one key per partition
# A full night evaluates a partition's crimes this many at a time (~72,000 victims, ~0.7M
# events: ~0.6 GB), so a task's memory is one slice's whatever the history's size and P.
FULL_SLICE_CRIMES = 50_000

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


def read_inputs(conn: sa.Connection, *, only_dirty: bool,
                few: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Crimes, victims and events as typed frames (as `prepare` returns them), of every crime or
    only of the crimes in this transaction's dirty set (`few`: a night's, see `changes.dirty_rows`)."""
    frames = []
    for table, alias, columns in _INPUTS.values():
        source = (changes.dirty_rows(conn, table, alias, few=few) if only_dirty
                  else f"{table} {alias}")
        select = ", ".join(f"{alias}.{name.strip()}" for name in columns.split(","))
        frames.append(read_columns(conn, f"SELECT {select} FROM {source}", _INPUT_KINDS))
    crimes_frame, victims_frame, events = frames
    for frame, flags in ((crimes_frame, ("domestic_abuse", "hate_crime")),
                         (victims_frame, ("vulnerable", "intimidated", "persistently_targeted"))):
        for flag in flags:
            frame[flag] = frame[flag].astype("boolean").fillna(False).astype(bool)
    return crimes_frame, victims_frame, events


def read_dirty_obligations(conn: sa.Connection, *, few: bool = True) -> pd.DataFrame:
    """The stored obligations of the crimes in this transaction's dirty set."""
    columns = ", ".join(f"o.{name}" for name in TABLE_COLUMNS)
    source = changes.dirty_rows(conn, "obligations", "o", few=few)
    frame = read_columns(conn, f"SELECT {columns} FROM {source}", _OBLIGATION_KINDS)
    frame["enhanced"] = frame["enhanced"].astype(bool)
    return frame


@contextmanager
def _transaction(engine: sa.Engine, partition: int | None = None) -> Iterator[sa.Connection]:
    """One transaction. On PostgreSQL a whole evaluation, or a night's plan or finish, waits for
    every other evaluation; a partition waits only for the same partition (and for a plan or
    finish), so a night's partitions run side by side."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            if partition is None:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_EVALUATION_LOCK})
            else:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock_shared(:key)"),
                             {"key": _PG_EVALUATION_LOCK})
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:space, :partition)"),
                             {"space": _PG_PARTITION_LOCKS, "partition": partition})
        yield conn


def _partition_crimes(conn: sa.Connection, plan: NightPlan, partition: int) -> int:
    """Fill this transaction's dirty set with the partition's crimes to re-evaluate on an
    incremental night; its size: the night's dirty set (`changes.mark_dirty`, small), less other
    partitions'. The partition is computed on the references as read (`rules/partitions.py`):
    the warehouse stores no partition column, so P can change freely.
    """
    since = datetime.fromisoformat(plan.since) if plan.since else None
    dirty = changes.mark_dirty(conn, [batch_id for batch_id, _ in plan.batches], since, plan.instant())
    if plan.partitions == 1 or not dirty:
        return dirty
    return changes.keep_dirty(conn, lambda refs: partition_of(refs, plan.partitions) == partition)


def _storage_order(conn: sa.Connection, rows: pd.DataFrame, crimes_frame: pd.DataFrame) -> np.ndarray | None:
    """PostgreSQL keeps rows in the order written (`incremental.storage_order` says which); SQLite
    keeps `obligations` in key order whatever the order of writing."""
    return storage_order(rows, crimes_frame) if conn.dialect.name == "postgresql" else None


def evaluate_partition(conn: sa.Connection, plan: NightPlan, partition: int,
                       rulesets: RuleSets) -> dict[str, Any]:
    """Re-evaluate one partition's crimes and write the difference (a full night: replace them,
    `_evaluate_full`); what it did (JSON-able). Idempotent for a plan: a retry after a commit
    finds nothing to write."""
    if rulesets_fingerprint(rulesets) != plan.rulesets_sha256:
        raise RuntimeError("the rule sets changed since this night was planned: plan it again")
    if not 0 <= partition < plan.partitions:
        raise ValueError(f"partition {partition} is not one of 0..{plan.partitions - 1}")
    if plan.full:
        return _evaluate_full(conn, plan, partition, rulesets)
    timings = {"read_seconds": 0.0, "evaluate_seconds": 0.0, "write_seconds": 0.0}
    clock = time.perf_counter()
    dirty = _partition_crimes(conn, plan, partition)
    replaced = written = evaluated = 0
    statuses = dict.fromkeys(STATUSES, 0)
    if dirty:
        crimes_frame, victims_frame, events = read_inputs(conn, only_dirty=True, few=True)
        timings["read_seconds"] = time.perf_counter() - clock
        clock = time.perf_counter()
        result = evaluate(crimes_frame, victims_frame, usable_events(crimes_frame, events),
                          pd.Timestamp(plan.as_of).tz_convert("UTC"), rulesets)
        rows = obligation_rows(result)
        timings["evaluate_seconds"] = time.perf_counter() - clock
        clock = time.perf_counter()
        # Most of a changed crime's obligations are as they were: write the difference.
        stale, fresh = row_changes(read_dirty_obligations(conn), rows)
        replaced = delete_keys(conn, obligations, stale)
        written = insert_rows(conn, obligations, fresh, order=_storage_order(conn, fresh, crimes_frame))
        changes.note_changed_days(conn, pd.concat([stale["due_at"], fresh["due_at"]]))
        evaluated = len(rows)
        statuses = status_counts(rows["status"])
    else:
        clock = time.perf_counter()
    changes.count_written(conn, partition, written - replaced)
    changes.note_changed_crimes(conn, full=False)
    changes.drop_dirty(conn)
    timings["write_seconds"] = time.perf_counter() - clock
    return {"partition": partition, "crimes_reevaluated": int(dirty),
            "obligations_evaluated": int(evaluated), "obligations_replaced": int(replaced),
            "obligations_written": int(written), "evaluated_by_status": statuses, **timings}


def _full_slices(conn: sa.Connection, plan: NightPlan, partition: int) -> Iterator[int]:
    """A full night: the dirty set filled with each slice of the partition's crimes in turn
    (every crime at P = 1), FULL_SLICE_CRIMES at a time in the order the rows are stored in, so
    each slice writes next to the last: PostgreSQL's order of report (`storage_order`), SQLite's
    key order (a third less CPU at 250,000 victims than slices in order of report there).
    Yields each slice's size."""
    refs = read_columns(conn, "SELECT crime_ref, reported_at FROM crimes", {"reported_at": "instant"})
    if plan.partitions > 1:
        refs = refs[partition_of(refs["crime_ref"], plan.partitions) == partition]
    order = "reported_at" if conn.dialect.name == "postgresql" else "crime_ref"
    refs = refs.sort_values(order, kind="stable")["crime_ref"]
    changes.create_dirty(conn)
    for start in range(0, len(refs), FULL_SLICE_CRIMES):
        if start:
            conn.execute(sa.delete(changes.dirty_crimes))
        yield insert_rows(conn, changes.dirty_crimes,
                          pd.DataFrame({"crime_ref": refs.iloc[start:start + FULL_SLICE_CRIMES]}))


def _delete_dirty_obligations(conn: sa.Connection) -> int:
    """Delete the stored obligations of the dirty crimes (by the primary key's `crime_ref`)."""
    if conn.dialect.name == "postgresql":  # an array: the planner cannot mistake it for many
        return conn.exec_driver_sql(f"DELETE FROM {changes.dirty_rows(conn, 'obligations', 'o', few=True)}").rowcount
    return conn.execute(sa.delete(obligations).where(obligations.c.crime_ref.in_(
        sa.select(changes.dirty_crimes.c.crime_ref)))).rowcount


def _evaluate_full(conn: sa.Connection, plan: NightPlan, partition: int,
                   rulesets: RuleSets) -> dict[str, Any]:
    """A full night's partition (every crime at P = 1): its crimes' obligations replaced, a
    slice of crimes at a time (`_full_slices`: read by the `crime_ref` index, evaluated,
    written), so memory holds one slice however large the history. A crime's obligations depend
    only on its own rows: the same rows as one read of them all."""
    timings = dict.fromkeys(("read_seconds", "evaluate_seconds", "write_seconds"), 0.0)
    done = dict.fromkeys(("crimes_reevaluated", "obligations_evaluated", "obligations_replaced",
                          "obligations_written"), 0)
    statuses = dict.fromkeys(STATUSES, 0)
    as_of = pd.Timestamp(plan.as_of).tz_convert("UTC")
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        timings[f"{step}_seconds"] += time.perf_counter() - clock
        clock = time.perf_counter()

    whole = plan.partitions == 1
    if whole:  # every obligation is replaced: empty the table at once
        done["obligations_replaced"] = conn.execute(sa.delete(obligations)).rowcount
    for size in _full_slices(conn, plan, partition):
        done["crimes_reevaluated"] += size
        lap("write")
        crimes_frame, victims_frame, events = read_inputs(conn, only_dirty=True, few=True)
        lap("read")
        rows = obligation_rows(evaluate(crimes_frame, victims_frame, usable_events(crimes_frame, events),
                                        as_of, rulesets))
        lap("evaluate")
        if not whole:
            done["obligations_replaced"] += _delete_dirty_obligations(conn)
        done["obligations_written"] += insert_rows(conn, obligations, rows,
                                                   order=_storage_order(conn, rows, crimes_frame))
        done["obligations_evaluated"] += len(rows)
        for status, count in status_counts(rows["status"]).items():
            statuses[status] += count
    written, replaced = done["obligations_written"], done["obligations_replaced"]
    if whole:  # the table replaced: it holds what was written
        changes.count_written(conn, partition, written, whole=True)
    else:
        changes.count_written(conn, partition, written - replaced)
    changes.drop_dirty(conn)
    lap("write")
    return {"partition": partition, **done, "evaluated_by_status": statuses, **timings}


def refresh_obligations(engine: sa.Engine, as_of: pd.Timestamp | datetime,
                        rulesets: RuleSets | None = None, *, full: bool = False,
                        partitions: int | None = None) -> dict[str, Any]:
    """Bring `obligations` up to date as of `as_of`, incrementally unless a full evaluation is
    needed (or `full`). With one partition (SQLite's default) all of it is one transaction; with
    P (`partitions`, else `VCP_PARTITIONS`, see `rules/partitions.py`) a plan, then each
    partition in a transaction of its own, then the finish: what the nightly DAG's tasks do.
    Returns a JSON-able summary of what was done."""
    began = time.perf_counter()
    stamp = utc_stamp(as_of)
    rulesets = rulesets or load_rulesets()
    count = partitions or configured_partitions(engine.dialect.name)
    if count == 1:
        with _transaction(engine) as conn:
            plan = plan_night(conn, stamp, rulesets, full=full, partitions=1)
            summary = finish_night(conn, plan, [evaluate_partition(conn, plan, 0, rulesets)], began)
            clock = time.perf_counter()
    else:
        with _transaction(engine) as conn:
            plan = plan_night(conn, stamp, rulesets, full=full, partitions=count)
        results = [refresh_partition(engine, plan, partition, rulesets) for partition in range(count)]
        with _transaction(engine) as conn:
            summary = finish_night(conn, plan, results, began)
            clock = time.perf_counter()
    summary["commit_seconds"] = time.perf_counter() - clock
    summary["total_seconds"] = time.perf_counter() - began
    log.info("obligations as of %s: %s", stamp.isoformat(), summary)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()}


def refresh_partition(engine: sa.Engine, plan: NightPlan, partition: int,
                      rulesets: RuleSets | None = None) -> dict[str, Any]:
    """One partition of a planned night, as one transaction (a mapped task of the nightly DAG):
    killed midway it leaves nothing behind, and its retry does the whole partition."""
    with _transaction(engine, partition) as conn:
        return evaluate_partition(conn, plan, partition, rulesets or load_rulesets())


def plan_obligations(engine: sa.Engine, as_of: pd.Timestamp | datetime, *, full: bool = False,
                     partitions: int | None = None) -> NightPlan:
    """The night's plan (a task of its own in the nightly DAG)."""
    with _transaction(engine) as conn:
        return plan_night(conn, as_of, load_rulesets(), full=full,
                          partitions=partitions or configured_partitions(engine.dialect.name))


def finish_obligations(engine: sa.Engine, plan: NightPlan, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The night's finish after every partition (a task of its own in the nightly DAG)."""
    began = time.perf_counter()
    with _transaction(engine) as conn:
        summary = finish_night(conn, plan, results, began)
    log.info("obligations as of %s: %s", plan.as_of, summary)
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()}


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
    "TABLE_COLUMNS", "NightPlan", "finish_obligations", "full_evaluation", "plan_obligations",
    "read_inputs", "read_obligations", "refresh_obligations", "refresh_partition",
]
