"""The obligations' bookkeeping in the warehouse: what changed since the last evaluation, and the
record of what each evaluation saw and changed (for the next night and for the summaries).

Since the last evaluation (as of A0, now A > A0), a crime's obligations can have changed when:

- a crime, victim or event row of it was written by a load batch not yet evaluated (a batch
  missing from `obligation_batches`, or finished again since: a rerun); any new event of a
  victim, its choices (`CONTACT_AGREED`, `OPTED_OUT`, `OPTED_IN`) included, is such a row;
- an event that belonged to it before a correction moved it (`evaluated_events`);
- it was reported, or one of its events happened, in (A0, A]: rows loaded earlier but only
  now in the past.

These crimes form the transaction's dirty set and are re-evaluated. Every other obligation can
change only because time passed: a PENDING one whose due_at is now <= A becomes BREACHED. (Not
WAIVED: that needs an opt-out at an instant in (A0, A] while the obligation is open, and an
opt-out in force then was in force at A0 already, when the obligation was open too, unless an
event in (A0, A] made it so, and that event's crime is dirty.)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.warehouse.io import insert_rows, insert_statement, read_columns
from vcpipeline.warehouse.schema import (
    case_events,
    crimes,
    evaluated_events,
    load_batches,
    obligation_batches,
    obligation_changed_days,
    obligation_changes,
    obligation_counts,
    obligation_runs,
    obligations,
    victims,
)

_dirty_metadata = sa.MetaData()
# The crimes this evaluation replaces; lives for the transaction only.
dirty_crimes = sa.Table(
    "_dirty_crimes", _dirty_metadata,
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
)
# The dirty crimes drive the join: SQLite (no statistics) takes CROSS JOIN as "this order",
# i.e. one index range per dirty crime, never a scan of the history; PostgreSQL plans it freely.
DIRTY_FIRST = "_dirty_crimes d CROSS JOIN {table} {alias} WHERE {alias}.crime_ref = d.crime_ref"
# PostgreSQL, a night's few dirty crimes: the crimes as an array the planner cannot see into, so
# it takes the `crime_ref` index (one range per crime) whatever its statistics say. Joined to
# the temporary table it hashed the whole history instead (it overestimates the rows per crime
# several times, and no statistics at all when nothing has run ANALYZE): 1.2 s per table per
# partition at 1M victims, growing with the history; this way ~0.1 s, growing with the night.
DIRTY_ARRAY = ("{table} {alias} WHERE {alias}.crime_ref = ANY(ARRAY(SELECT crime_ref FROM "
               "_dirty_crimes))")


def dirty_rows(conn: sa.Connection, table: str, alias: str, *, few: bool) -> str:
    """The FROM clause (with its WHERE) of `table`'s rows of the dirty crimes; `few` when the
    dirty set is a small share of the crimes (a night's), not a partition of all of them."""
    if few and conn.dialect.name == "postgresql":
        return DIRTY_ARRAY.format(table=table, alias=alias)
    return DIRTY_FIRST.format(table=table, alias=alias)


def last_run(conn: sa.Connection) -> sa.Row[Any] | None:
    return conn.execute(
        sa.select(obligation_runs).order_by(obligation_runs.c.finished_at.desc()).limit(1)
    ).first()


def new_batches(conn: sa.Connection) -> list[tuple[str, datetime]]:
    """Succeeded load batches whose rows the stored obligations do not reflect yet."""
    evaluated = obligation_batches
    rows = conn.execute(
        sa.select(load_batches.c.batch_id, load_batches.c.finished_at)
        .select_from(load_batches.outerjoin(
            evaluated, evaluated.c.batch_id == load_batches.c.batch_id))
        .where(load_batches.c.status == "succeeded", load_batches.c.finished_at.is_not(None),
               sa.or_(evaluated.c.batch_id.is_(None),
                      evaluated.c.finished_at != load_batches.c.finished_at))
    ).all()
    return [(row.batch_id, row.finished_at) for row in rows]


def mark_dirty(conn: sa.Connection, batch_ids: list[str], since: datetime | None,
               as_of: datetime) -> int:
    """Create and fill the dirty set (see the module docstring); return its size."""
    create_dirty(conn)
    parts: list[sa.Select[Any]] = []
    if batch_ids:
        ids = sa.bindparam("batch_ids", batch_ids, expanding=True)
        parts += [
            sa.select(crimes.c.crime_ref).where(crimes.c.load_batch_id.in_(ids)),
            sa.select(victims.c.crime_ref).where(victims.c.load_batch_id.in_(ids)),
            sa.select(case_events.c.crime_ref).where(case_events.c.load_batch_id.in_(ids)),
            sa.select(evaluated_events.c.crime_ref)
            .join(case_events, case_events.c.event_id == evaluated_events.c.event_id)
            .where(case_events.c.load_batch_id.in_(ids),
                   evaluated_events.c.crime_ref != case_events.c.crime_ref),
        ]
    if since is not None and since < as_of:
        parts += [
            sa.select(crimes.c.crime_ref).where(crimes.c.reported_at > since,
                                                crimes.c.reported_at <= as_of),
            sa.select(case_events.c.crime_ref).where(case_events.c.occurred_at > since,
                                                     case_events.c.occurred_at <= as_of),
        ]
    if not parts:
        return 0
    # No ANALYZE: the night reads by `dirty_rows(few=True)`, which needs no statistics.
    conn.execute(sa.insert(dirty_crimes).from_select(["crime_ref"], sa.union(*parts)))
    return conn.execute(sa.select(sa.func.count()).select_from(dirty_crimes)).scalar_one()


def create_dirty(conn: sa.Connection) -> None:
    """An empty dirty set for this transaction."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {dirty_crimes.name}")
    dirty_crimes.create(conn)


def keep_dirty(conn: sa.Connection, keep: Callable[[pd.Series], np.ndarray]) -> int:
    """Narrow the dirty set to the crimes `keep` says yes to (one partition's); its new size."""
    refs = read_columns(conn, f"SELECT crime_ref FROM {dirty_crimes.name}", {})["crime_ref"]
    kept = refs[keep(refs)]
    if len(kept) < len(refs):
        conn.execute(sa.delete(dirty_crimes))
        insert_rows(conn, dirty_crimes, pd.DataFrame({"crime_ref": kept}))
    return len(kept)


def drop_dirty(conn: sa.Connection) -> None:
    conn.exec_driver_sql(f"DROP TABLE {dirty_crimes.name}")


def record_batches(conn: sa.Connection, batches: list[tuple[str, datetime]], *, full: bool) -> None:
    """Remember which batches (as finished) the stored obligations now reflect."""
    if full:
        conn.execute(sa.delete(obligation_batches))
    if not batches:
        return
    statement = insert_statement(conn, obligation_batches)
    conn.execute(
        statement.on_conflict_do_update(index_elements=["batch_id"],
                                        set_={"finished_at": statement.excluded.finished_at}),
        [{"batch_id": batch_id, "finished_at": finished} for batch_id, finished in batches],
    )


def record_event_crimes(conn: sa.Connection, batch_ids: list[str], *, full: bool) -> None:
    """Remember which crime each evaluated event belonged to."""
    if full:
        conn.execute(sa.delete(evaluated_events))
        conn.execute(sa.insert(evaluated_events).from_select(
            ["event_id", "crime_ref"], sa.select(case_events.c.event_id, case_events.c.crime_ref)))
        return
    if not batch_ids:
        return
    statement = insert_statement(conn, evaluated_events).from_select(
        ["event_id", "crime_ref"],
        sa.select(case_events.c.event_id, case_events.c.crime_ref)
        .where(case_events.c.load_batch_id.in_(sa.bindparam("ids", batch_ids, expanding=True))),
    )
    conn.execute(statement.on_conflict_do_update(
        index_elements=["event_id"], set_={"crime_ref": statement.excluded.crime_ref}))


def note_changed_days(conn: sa.Connection, due_at: pd.Series) -> None:
    """Tell the summaries which due days to recount."""
    # In order: concurrent partitions then take the days' locks in one order (no deadlock).
    days = pd.DatetimeIndex(due_at.drop_duplicates()).sort_values()
    if len(days):
        conn.execute(insert_statement(conn, obligation_changed_days).on_conflict_do_nothing(),
                     [{"due_at": day.to_pydatetime()} for day in days])


def advance_statuses(conn: sa.Connection, as_of: datetime) -> int:
    """PENDING obligations now due become BREACHED (their crimes and days marked changed)."""
    now_due = sa.and_(obligations.c.status == "PENDING", obligations.c.due_at <= as_of)
    if conn.dialect.name == "postgresql":  # one visit to each row falling due, not three
        changed = conn.execute(sa.update(obligations).where(now_due).values(status="BREACHED")
                               .returning(obligations.c.crime_ref, obligations.c.due_at)).all()
        for table, column in ((obligation_changes, "crime_ref"), (obligation_changed_days, "due_at")):
            values = sorted({getattr(row, column) for row in changed})
            if values:
                kind = table.c[column].type.compile(conn.dialect)
                conn.exec_driver_sql(f"INSERT INTO {table.name} ({column}) SELECT unnest(CAST(%(v)s AS "
                                     f"{kind}[])) ON CONFLICT DO NOTHING", {"v": values})
        return len(changed)
    for table, column in ((obligation_changes, "crime_ref"), (obligation_changed_days, "due_at")):
        conn.execute(
            insert_statement(conn, table)
            .from_select([column], sa.select(obligations.c[column]).where(now_due).distinct())
            .on_conflict_do_nothing()
        )
    return conn.execute(sa.update(obligations).where(now_due).values(status="BREACHED")).rowcount


def note_changed_crimes(conn: sa.Connection, *, full: bool) -> None:
    """Tell the summaries which crimes to redo: the dirty set, or every crime (and due day)
    after a full run."""
    if full:
        conn.execute(sa.delete(obligation_changes))
        conn.execute(sa.delete(obligation_changed_days))
        conn.execute(sa.insert(obligation_changed_days).from_select(
            ["due_at"], sa.select(obligations.c.due_at).distinct()))
        source = sa.select(crimes.c.crime_ref).where(sa.true())
    else:
        source = sa.select(dirty_crimes.c.crime_ref).where(sa.true())
    conn.execute(insert_statement(conn, obligation_changes).from_select(["crime_ref"], source)
                 .on_conflict_do_nothing())


def count_written(conn: sa.Connection, partition: int, added: int, *, whole: bool = False) -> None:
    """Add `added` (rows written less rows deleted) to the partition's part of the obligations'
    count, in the writing transaction; `whole`: the table was replaced and holds `added` rows."""
    if whole:
        conn.execute(sa.delete(obligation_counts))
    elif not added:  # nothing to add: leave the table as it is (a rerun changes nothing)
        return
    statement = insert_statement(conn, obligation_counts).values(
        partition_number=partition, obligations=added)
    conn.execute(statement.on_conflict_do_update(
        index_elements=["partition_number"],
        set_={"obligations": obligation_counts.c.obligations + statement.excluded.obligations}))


def obligations_count(conn: sa.Connection) -> int:
    """The rows in `obligations`, from the kept count (not a scan of the table)."""
    total = sa.func.coalesce(sa.func.sum(obligation_counts.c.obligations), 0)
    return int(conn.execute(sa.select(total)).scalar_one())


def record_run(conn: sa.Connection, summary: dict[str, Any], timings: dict[str, float],
               started_at: datetime) -> None:
    """The row of this instant's evaluation. An incremental rerun of the same instant keeps the
    first evaluation's record (only the table's size and `finished_at` follow it), so a rerun
    night leaves no difference here; a full one replaces it."""
    as_of = pd.Timestamp(summary["as_of"]).to_pydatetime()
    keys = ("mode", "rulesets_sha256", "batches", "crimes_reevaluated", "obligations_replaced",
            "obligations_written", "statuses_advanced", "obligations_total")
    row = {"as_of": as_of, **{k: summary[k] for k in keys},
           **{k: v for k, v in timings.items() if k in obligation_runs.c},
           "started_at": started_at, "finished_at": datetime.now(UTC)}
    existing = conn.execute(sa.select(obligation_runs.c.as_of)
                            .where(obligation_runs.c.as_of == as_of)).first()
    if existing is None:
        conn.execute(obligation_runs.insert().values(**row))
    elif summary["mode"] == "full":
        conn.execute(obligation_runs.update().where(obligation_runs.c.as_of == as_of).values(**row))
    else:
        conn.execute(obligation_runs.update().where(obligation_runs.c.as_of == as_of).values(
            obligations_total=row["obligations_total"], finished_at=row["finished_at"]))
