"""The warehouse side of the rule engine: keep the `obligations` table up to date, incrementally.

A crime's obligations depend only on its own crime, victims and events and on the instant, and
`engine.evaluate` is correct for any subset of crimes. So a night re-evaluates only the crimes
whose obligations can have changed since the last evaluation (as of A0, now A > A0):

- crimes with a crime, victim or event row written by a load batch not yet evaluated (a batch
  missing from `obligation_batches`, or finished again since: a rerun);
- the crime an event belonged to before a correction moved it (`evaluated_events`);
- crimes reported, or with events that happened, in (A0, A]: rows loaded earlier but only now
  in the past;

re-evaluates exactly those crimes, rewriting only the rows that differ from the stored ones
(most of a changed crime's obligations are as they were). Every other obligation can change
only because time passed: a PENDING one whose due_at is now <= A becomes BREACHED (nothing met
it, or its crime would be re-evaluated), one UPDATE. All of it is one transaction, so readers see the night
before or the night after. The cost grows with the night's changes and the obligations falling
due, not with the history.

A full evaluation runs the first time, when the rule sets change (their fingerprint is kept in
`obligation_runs`), when asked, and when A goes back in time (a backfill of an earlier night).
Re-running the same A finds no new batch and an empty time window, and changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from vcpipeline.canonical import STATUSES
from vcpipeline.rules.engine import evaluate
from vcpipeline.rules.keys import positions_in, strings
from vcpipeline.rules.ruleset import RuleSets, load_rulesets
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.load import _arrow_for_copy, _insert, _sqlite_values
from vcpipeline.warehouse.schema import (
    case_events,
    crimes,
    evaluated_events,
    load_batches,
    obligation_batches,
    obligation_changed_days,
    obligation_changes,
    obligation_runs,
    obligations,
    victims,
)

log = logging.getLogger(__name__)

TABLE_COLUMNS: tuple[str, ...] = tuple(column.name for column in obligations.columns)
KEY_COLUMNS: tuple[str, ...] = tuple(column.name for column in obligations.primary_key.columns)
INSERT_CHUNK_ROWS = 100_000
# Any fixed number: serialises concurrent evaluations of one PostgreSQL warehouse.
_PG_EVALUATION_LOCK = 0x5643_504F_42  # "VCPOB"

_dirty_metadata = sa.MetaData()
# The crimes this evaluation replaces; lives for the transaction only.
_dirty = sa.Table(
    "_dirty_crimes", _dirty_metadata,
    sa.Column("crime_ref", sa.String(64), primary_key=True),
    prefixes=["TEMPORARY"], postgresql_on_commit="DROP",
)

_INPUT_SQL = {
    "crimes": "SELECT c.crime_ref, c.reported_at, c.department, c.offence_category, "
              "c.domestic_abuse, c.hate_crime FROM {source}",
    "victims": "SELECT v.crime_ref, v.victim_id, v.age_at_report, v.vulnerable, v.intimidated, "
               "v.persistently_targeted FROM {source}",
    "events": "SELECT e.event_id, e.crime_ref, e.victim_id, e.event_type, e.occurred_at, "
              "e.in_need, e.outcome_code, e.court_result FROM {source}",
}
_ALIAS = {"crimes": "c", "victims": "v", "events": "e"}
# The dirty crimes drive the join: SQLite (no statistics) takes CROSS JOIN as "this order",
# i.e. one index range per dirty crime, never a scan of the history; PostgreSQL plans it freely.
_DIRTY_FIRST = "_dirty_crimes d CROSS JOIN {table} {alias} WHERE {alias}.crime_ref = d.crime_ref"
_OBLIGATION_KINDS = {"trigger_at": "instant", "due_at": "instant", "met_at": "instant",
                     "enhanced": "boolean"}


# ----------------------------------------------------------------------------- pure functions

def rulesets_fingerprint(rulesets: RuleSets) -> str:
    """A digest of what the rule sets say (not where they came from): a change means the stored
    obligations were computed by other rules and must all be recomputed."""
    def rule_text(rule: Any) -> str:
        return repr({k: sorted(v) if isinstance(v, frozenset) else v for k, v in vars(rule).items()})

    text = repr([
        sorted(rulesets.enhanced_offence_categories),
        [(s.name, str(s.reported_from), str(s.reported_until), [rule_text(r) for r in s.rules])
         for s in rulesets.sets],
    ])
    return hashlib.sha256(text.encode()).hexdigest()


def usable_events(crimes_frame: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The events the data rules let the engine use: not before their crime was reported.

    The other data rules hold already in the warehouse (validated on load) or are applied by
    the engine itself (unknown crime or victim, unknown type, after the as-of instant).
    """
    crime = positions_in(events["crime_ref"], crimes_frame["crime_ref"])
    reported = pd.DatetimeIndex(crimes_frame["reported_at"]).as_unit("us").asi8
    occurred = pd.DatetimeIndex(events["occurred_at"]).as_unit("us").asi8
    known = crime >= 0
    early = np.zeros(len(events), dtype=bool)
    early[known] = occurred[known] < reported[crime[known]]
    return events[~early].reset_index(drop=True) if early.any() else events


def obligation_rows(result: pd.DataFrame) -> pd.DataFrame:
    """The engine's frame as `obligations` rows: text keys ('' for a report-triggered rule's
    trigger event), categoricals as text, instants as they are."""
    def text(column: str) -> pd.Series:
        return result[column].astype("string").astype(object)

    return pd.DataFrame({
        "crime_ref": text("crime_ref"), "victim_id": text("victim_id"), "rule": text("rule"),
        "trigger_event_id": result["trigger_event_id"].astype("string").fillna("").astype(object),
        "trigger_at": result["trigger_at"], "due_at": result["due_at"], "met_at": result["met_at"],
        "status": text("status"), "enhanced": result["enhanced"].astype(bool),
        "rule_set": text("rule_set"), "department": text("department"),
    }, columns=list(TABLE_COLUMNS))


def row_hashes(*frames: pd.DataFrame) -> list[np.ndarray]:
    """A 64-bit digest of each obligation row (every column) of each frame: equal rows, equal
    digests. Text is coded through one Arrow dictionary over all frames, so only integers are
    hashed (several times faster than hashing Python strings)."""
    sizes = np.cumsum([0, *(len(frame) for frame in frames)])
    normal = {}
    for column in TABLE_COLUMNS:
        parts = [frame[column] for frame in frames]
        if column in ("trigger_at", "due_at", "met_at"):
            normal[column] = np.concatenate([pd.DatetimeIndex(p).as_unit("us").asi8 for p in parts])
        elif column == "enhanced":
            normal[column] = np.concatenate([p.astype(bool).to_numpy() for p in parts]).astype(np.int64)
        else:
            text = pa.chunked_array([strings(p).fill_null("") for p in parts], pa.large_string())
            normal[column] = pc.dictionary_encode(text).combine_chunks().indices.to_numpy()
    hashes = pd.util.hash_pandas_object(pd.DataFrame(normal), index=False).to_numpy()
    return [hashes[lo:hi] for lo, hi in pairwise(sizes)]


def row_changes(old: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stored rows that are gone or different, new rows that are new or different)."""
    old_hash, new_hash = row_hashes(old, new)
    stale = old[~np.isin(old_hash, new_hash)]
    fresh = new[~np.isin(new_hash, old_hash)]
    return stale, fresh


def status_counts(statuses: pd.Series) -> dict[str, int]:
    counts = statuses.astype(str).value_counts()
    return {status: int(counts.get(status, 0)) for status in STATUSES}


# ----------------------------------------------------------------------------- warehouse I/O

def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start:start + size]


def insert_rows(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Append a frame's rows (its columns named as the table's) in bulk: `COPY` on PostgreSQL,
    `executemany` on SQLite; instants must be `datetime64[.., UTC]`. Returns the rows written."""
    if frame.empty:
        return 0
    columns = list(frame.columns)
    if conn.dialect.name == "postgresql":
        import pyarrow.csv as pacsv

        options = pacsv.WriteOptions(include_header=False)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
                for chunk in _chunks(frame, INSERT_CHUNK_ROWS):
                    buffer = pa.BufferOutputStream()
                    pacsv.write_csv(_arrow_for_copy(pa, chunk), buffer, options)
                    copy.write(buffer.getvalue().to_pybytes())
        finally:
            cursor.close()
    else:
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        for chunk in _chunks(frame, INSERT_CHUNK_ROWS):
            values = [_sqlite_values(chunk[name]) for name in columns]
            conn.exec_driver_sql(sql, list(zip(*values, strict=True)))
    return len(frame)


def _arrow_column(values: tuple[Any, ...] | list[Any], kind: str) -> pa.Array:
    if kind == "instant":  # ISO text on SQLite, aware datetimes on PostgreSQL
        array = pa.array(values, from_pandas=True)
        if pa.types.is_timestamp(array.type):
            return array.cast(pa.timestamp("us", tz="UTC"))
        return pa.array(values, pa.string()).cast(pa.timestamp("us", tz="UTC"))
    if kind == "boolean":  # 0/1 on SQLite
        array = pa.array(values)
        return array if pa.types.is_boolean(array.type) else array.cast(pa.bool_())
    if kind == "integer":
        return pa.array(values, pa.int64())
    return pa.array(values, pa.large_string())


def read_columns(conn: sa.Connection, sql: str, kinds: dict[str, str],
                 chunk_rows: int = 250_000) -> pd.DataFrame:
    """A query's rows as a frame, fetched in chunks and kept as Arrow columns: a full evaluation
    reads ~10M events, which as Python rows would need several GB and most of the time.
    Instants become `datetime64[us, UTC]`, booleans `boolean`, integers `Int64`, text strings."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:  # the driver's own tuples: SQLAlchemy's Row objects cost a third of the time here
        cursor.execute(sql)
        names = [column[0] for column in cursor.description]
        chunks: dict[str, list[Any]] = {name: [] for name in names}
        while rows := cursor.fetchmany(chunk_rows):
            for name, values in zip(names, zip(*rows, strict=True), strict=True):
                chunks[name].append(_arrow_column(values, kinds.get(name, "text")))
    finally:
        cursor.close()
    frame = {}
    for name in names:
        kind = kinds.get(name, "text")
        array = (pa.chunked_array(chunks[name]) if chunks[name]
                 else pa.chunked_array([], _arrow_column([], kind).type))
        if kind == "instant":
            frame[name] = pd.Series(pd.DatetimeIndex(array.to_pandas()).as_unit("us"))
        elif kind == "boolean":
            frame[name] = pd.Series(array.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get))
        elif kind == "integer":
            frame[name] = pd.Series(array.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
        else:
            frame[name] = pd.Series(pd.array(array, dtype="string[pyarrow]"))
    return pd.DataFrame(frame, columns=names)


_INPUT_KINDS = {
    "reported_at": "instant", "occurred_at": "instant", "domestic_abuse": "boolean",
    "hate_crime": "boolean", "vulnerable": "boolean", "intimidated": "boolean",
    "persistently_targeted": "boolean", "in_need": "boolean", "age_at_report": "integer",
    "outcome_code": "integer",
}


def read_inputs(conn: sa.Connection, *, only_dirty: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Crimes, victims and events as typed frames (as `prepare` returns them), of every crime or
    only of the crimes in this transaction's dirty set."""
    frames = []
    for name, sql in _INPUT_SQL.items():
        alias = _ALIAS[name]
        table = {"crimes": "crimes", "victims": "victims", "events": "case_events"}[name]
        source = _DIRTY_FIRST.format(alias=alias, table=table) if only_dirty else f"{table} {alias}"
        frames.append(read_columns(conn, sql.format(source=source), _INPUT_KINDS))
    crimes_frame, victims_frame, events = frames
    for frame, flags in ((crimes_frame, ("domestic_abuse", "hate_crime")),
                         (victims_frame, ("vulnerable", "intimidated", "persistently_targeted"))):
        for flag in flags:
            frame[flag] = frame[flag].astype("boolean").fillna(False).astype(bool)
    return crimes_frame, victims_frame, events


def read_dirty_obligations(conn: sa.Connection) -> pd.DataFrame:
    """The stored obligations of the crimes in this transaction's dirty set."""
    columns = ", ".join(f"o.{name}" for name in TABLE_COLUMNS)
    frame = read_columns(conn, f"SELECT {columns} FROM {_DIRTY_FIRST.format(alias='o', table='obligations')}",
                         _OBLIGATION_KINDS)
    frame["enhanced"] = frame["enhanced"].astype(bool)
    return frame


def _delete_keys(conn: sa.Connection, keys: pd.DataFrame) -> int:
    """Delete obligations by primary key (one indexed lookup each)."""
    if keys.empty:
        return 0
    keys = keys.loc[:, list(KEY_COLUMNS)]
    condition = sa.and_(*(obligations.c[name] == sa.bindparam(f"k_{name}") for name in KEY_COLUMNS))
    records = [dict(zip((f"k_{n}" for n in KEY_COLUMNS), row, strict=True))
               for row in keys.astype(str).itertuples(index=False, name=None)]
    conn.execute(sa.delete(obligations).where(condition), records)
    return len(records)


def _last_run(conn: sa.Connection) -> sa.Row[Any] | None:
    return conn.execute(
        sa.select(obligation_runs).order_by(obligation_runs.c.finished_at.desc()).limit(1)
    ).first()


def _new_batches(conn: sa.Connection) -> list[tuple[str, datetime]]:
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


def _mark_dirty(conn: sa.Connection, batch_ids: list[str], since: datetime | None,
                as_of: datetime) -> int:
    """Fill the dirty set (see the module docstring); return its size."""
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
    conn.execute(sa.insert(_dirty).from_select(["crime_ref"], sa.union(*parts)))
    if conn.dialect.name == "postgresql":  # a fresh temp table has no statistics: without them
        conn.exec_driver_sql(f"ANALYZE {_dirty.name}")  # the planner hashes the whole history
    return conn.execute(sa.select(sa.func.count()).select_from(_dirty)).scalar_one()


def _record_batches(conn: sa.Connection, batches: list[tuple[str, datetime]], *, full: bool) -> None:
    if full:
        conn.execute(sa.delete(obligation_batches))
    if not batches:
        return
    statement = _insert(conn, obligation_batches)
    conn.execute(
        statement.on_conflict_do_update(index_elements=["batch_id"],
                                        set_={"finished_at": statement.excluded.finished_at}),
        [{"batch_id": batch_id, "finished_at": finished} for batch_id, finished in batches],
    )


def _record_event_crimes(conn: sa.Connection, batch_ids: list[str], *, full: bool) -> None:
    """Remember which crime each evaluated event belonged to."""
    if full:
        conn.execute(sa.delete(evaluated_events))
        conn.execute(sa.insert(evaluated_events).from_select(
            ["event_id", "crime_ref"], sa.select(case_events.c.event_id, case_events.c.crime_ref)))
        return
    if not batch_ids:
        return
    statement = _insert(conn, evaluated_events).from_select(
        ["event_id", "crime_ref"],
        sa.select(case_events.c.event_id, case_events.c.crime_ref)
        .where(case_events.c.load_batch_id.in_(sa.bindparam("ids", batch_ids, expanding=True))),
    )
    conn.execute(statement.on_conflict_do_update(
        index_elements=["event_id"], set_={"crime_ref": statement.excluded.crime_ref}))


def _note_changed_days(conn: sa.Connection, due_at: pd.Series) -> None:
    """Tell the summaries which due days to recount."""
    days = pd.DatetimeIndex(due_at.drop_duplicates())
    if len(days):
        conn.execute(_insert(conn, obligation_changed_days).on_conflict_do_nothing(),
                     [{"due_at": day.to_pydatetime()} for day in days])


def _advance_statuses(conn: sa.Connection, as_of: datetime) -> int:
    """PENDING obligations now due become BREACHED (their crimes and days marked changed)."""
    now_due = sa.and_(obligations.c.status == "PENDING", obligations.c.due_at <= as_of)
    for table, column in ((obligation_changes, "crime_ref"), (obligation_changed_days, "due_at")):
        conn.execute(
            _insert(conn, table)
            .from_select([column], sa.select(obligations.c[column]).where(now_due).distinct())
            .on_conflict_do_nothing()
        )
    return conn.execute(sa.update(obligations).where(now_due).values(status="BREACHED")).rowcount


def _note_changed_crimes(conn: sa.Connection, *, full: bool) -> None:
    """Tell the summaries which crimes to redo: the dirty set, or every crime (and due day)
    after a full run."""
    if full:
        conn.execute(sa.delete(obligation_changes))
        conn.execute(sa.delete(obligation_changed_days))
        conn.execute(sa.insert(obligation_changed_days).from_select(
            ["due_at"], sa.select(obligations.c.due_at).distinct()))
        source = sa.select(crimes.c.crime_ref).where(sa.true())
    else:
        source = sa.select(_dirty.c.crime_ref).where(sa.true())
    conn.execute(_insert(conn, obligation_changes).from_select(["crime_ref"], source)
                 .on_conflict_do_nothing())


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
    stamp = pd.Timestamp(as_of)
    if stamp.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    stamp = stamp.tz_convert("UTC")
    instant = stamp.to_pydatetime()
    rulesets = rulesets or load_rulesets()
    fingerprint = rulesets_fingerprint(rulesets)
    timings = {"read_seconds": 0.0, "evaluate_seconds": 0.0, "write_seconds": 0.0}

    with _transaction(engine) as conn:
        last = _last_run(conn)
        reason = ("requested" if full else "first evaluation" if last is None
                  else "rule sets changed" if last.rulesets_sha256 != fingerprint
                  else "as-of before the last evaluation's" if instant < last.as_of else None)
        full = reason is not None
        batches = _new_batches(conn)
        batch_ids = [batch_id for batch_id, _ in batches]

        clock = time.perf_counter()
        if full:
            dirty = conn.execute(sa.select(sa.func.count()).select_from(crimes)).scalar_one()
        else:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_dirty.name}")
            _dirty.create(conn)
            dirty = _mark_dirty(conn, batch_ids, last.as_of, instant)
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
                replaced = _delete_keys(conn, stale)
                written = insert_rows(conn, obligations, fresh)
                _note_changed_days(conn, pd.concat([stale["due_at"], fresh["due_at"]]))
            evaluated = len(rows)
            statuses = status_counts(rows["status"])
        else:
            clock = time.perf_counter()
        advanced = 0 if full else _advance_statuses(conn, instant)
        _record_event_crimes(conn, batch_ids, full=full)
        _record_batches(conn, batches, full=full)
        _note_changed_crimes(conn, full=full)
        if not full:
            conn.exec_driver_sql(f"DROP TABLE {_dirty.name}")
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
        _record_run(conn, summary, timings, started_at)
        clock = time.perf_counter()
    timings["commit_seconds"] = time.perf_counter() - clock
    timings["total_seconds"] = time.perf_counter() - began
    log.info("obligations as of %s: %s", stamp.isoformat(), summary)
    return {**summary, **{k: round(v, 3) for k, v in timings.items()}}


def _record_run(conn: sa.Connection, summary: dict[str, Any], timings: dict[str, float],
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
    "full_evaluation", "insert_rows", "obligation_rows", "read_inputs", "read_obligations",
    "refresh_obligations", "rulesets_fingerprint", "status_counts", "usable_events",
]
