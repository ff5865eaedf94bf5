"""The warehouse's one public I/O seam: bulk inserts, upserts on natural keys, typed reads.

Every store (loading, obligations, summaries) reads and writes frames through these functions,
so the backend differences live here once:

- writes: PostgreSQL takes rows by `COPY ... FROM STDIN` (CSV written by pyarrow), SQLite by
  `executemany` in chunks (an in-process database gains nothing from a staging copy); values
  are converted to their stored form once per column, vectorised, never value by value;
- upserts: PostgreSQL stages the rows with `COPY` into a temporary table and merges them with
  one `INSERT ... SELECT ... ON CONFLICT`; SQLite merges with `executemany`;
- reads: `read_frame` (any query, typed by the warehouse schema) and `read_columns` (a hot-path
  query fetched in chunks into Arrow columns, typed by the caller).

Instants in frames written here must be `datetime64[.., UTC]`; reads give `datetime64[us, UTC]`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from vcpipeline.warehouse.frames import read_frame

SQLITE_CHUNK_ROWS = 50_000
COPY_CHUNK_ROWS = 250_000
READ_CHUNK_ROWS = 250_000

ColumnKind = Literal["instant", "boolean", "integer", "text"]


# ----------------------------------------------------------------------------- writes

def insert_statement(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT for `table`, which knows ON CONFLICT."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported backends
        raise NotImplementedError(f"unsupported warehouse backend: {conn.dialect.name}")
    return insert(table)


def sqlite_values(values: pd.Series) -> np.ndarray:
    """A typed column as Python values sqlite3 binds, instants as fixed-width UTC text."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        naive = values.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        text = np.char.add(np.datetime_as_string(naive, unit="us"), "Z").astype(object)
        text[np.isnat(naive)] = None
        return text
    return values.to_numpy(dtype=object, na_value=None)


def _chunks(frame: pd.DataFrame, size: int, order: np.ndarray | None = None) -> Iterator[pd.DataFrame]:
    """The frame in chunks of `size` rows, in `order` (positions) when given: one chunk at a
    time is reordered, never a copy of the whole frame."""
    for start in range(0, len(frame), size):
        if order is None:
            yield frame.iloc[start:start + size]
        else:
            yield frame.take(order[start:start + size])


def _arrow_for_copy(chunk: pd.DataFrame) -> pa.Table:
    """The chunk as an Arrow table, instants as explicit UTC text (10x faster to write as CSV
    than zoned timestamps, and independent of the session's time zone)."""
    table = pa.Table.from_pandas(chunk, preserve_index=False)
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            naive = table.column(index).cast(pa.timestamp("us"))
            text = pc.binary_join_element_wise(pc.cast(naive, pa.string()), "Z", "")
            table = table.set_column(index, field.name, text)
    return table


def _copy_rows(conn: sa.Connection, table_name: str, frame: pd.DataFrame,
               order: np.ndarray | None = None) -> None:
    """PostgreSQL `COPY` of a frame into a table (its columns named as the table's). pyarrow
    quotes every string and leaves nulls bare: exactly PostgreSQL's CSV reading of "" (empty
    text) versus nothing (NULL)."""
    import pyarrow.csv as pacsv

    options = pacsv.WriteOptions(include_header=False)
    names = ", ".join(frame.columns)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY {table_name} ({names}) FROM STDIN (FORMAT csv)") as copy:
            for chunk in _chunks(frame, COPY_CHUNK_ROWS, order):
                buffer = io.BytesIO()
                pacsv.write_csv(_arrow_for_copy(chunk), buffer, options)
                copy.write(buffer.getbuffer())
    finally:
        cursor.close()


def _executemany(conn: sa.Connection, sql: str, frame: pd.DataFrame) -> None:
    for chunk in _chunks(frame, SQLITE_CHUNK_ROWS):
        values = [sqlite_values(chunk[name]) for name in frame.columns]
        conn.exec_driver_sql(sql, list(zip(*values, strict=True)))


def insert_rows(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame,
                order: np.ndarray | None = None) -> int:
    """Append a frame's rows (its columns named as the table's) in bulk; the rows written.
    `order` (row positions, a permutation) is the order PostgreSQL stores them in: rows read
    together later, written together (its heap keeps insertion order; SQLite's tables without
    rowid keep key order whatever the order of writing, so it is not used there)."""
    if frame.empty:
        return 0
    if conn.dialect.name == "postgresql":
        _copy_rows(conn, table.name, frame, order)
    else:
        columns = list(frame.columns)
        _executemany(conn, f"INSERT INTO {table.name} ({', '.join(columns)}) "
                           f"VALUES ({', '.join('?' for _ in columns)})", frame)
    return len(frame)


def _upsert_sql(table: sa.Table, columns: Sequence[str], key: Sequence[str], source: str,
                newer: str | None) -> str:
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name not in key)
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) {source} "
           f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")
    return sql + (f" WHERE excluded.{newer} >= {table.name}.{newer}" if newer else "")


def upsert_frame(conn: sa.Connection, table: sa.Table, rows: pd.DataFrame, key: Sequence[str],
                 *, newer: str | None = None) -> int:
    """Insert rows, or update the stored row with the same `key`; with `newer` (a column name)
    only when the incoming row's value there is at least the stored one ("the latest extract
    wins"). Rows must be one per key and typed as stored. Returns the rows given."""
    if rows.empty:
        return 0
    columns = list(rows.columns)
    if conn.dialect.name == "postgresql":
        names = ", ".join(columns)
        stage = f"_stage_{table.name}"
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage}")
        conn.exec_driver_sql(f"CREATE TEMP TABLE {stage} (LIKE {table.name}) ON COMMIT DROP")
        _copy_rows(conn, stage, rows)
        conn.exec_driver_sql(_upsert_sql(table, columns, key, f"SELECT {names} FROM {stage}", newer))
        conn.exec_driver_sql(f"DROP TABLE {stage}")
    else:
        _executemany(conn, _upsert_sql(table, columns, key,
                                       f"VALUES ({', '.join('?' for _ in columns)})", newer), rows)
    return len(rows)


def delete_keys(conn: sa.Connection, table: sa.Table, keys: pd.DataFrame) -> int:
    """Delete rows by primary key (one indexed lookup each; key values compared as text).
    PostgreSQL: one statement, the keys sent as arrays (`unnest`: the planner expects few rows
    and probes the primary key); SQLite: one DELETE per key (in-process, no round trip)."""
    if keys.empty:
        return 0
    names = [column.name for column in table.primary_key.columns]
    text = keys.loc[:, names].astype(str)
    if conn.dialect.name == "postgresql":
        arrays = ", ".join(f"CAST(%(k_{name})s AS {table.c[name].type.compile(conn.dialect)}[])"
                           for name in names)
        matched = " AND ".join(f"t.{name} = k.{name}" for name in names)
        conn.exec_driver_sql(
            f"DELETE FROM {table.name} t USING unnest({arrays}) AS k({', '.join(names)}) "
            f"WHERE {matched}",
            {f"k_{name}": text[name].tolist() for name in names})
        return len(text)
    condition = sa.and_(*(table.c[name] == sa.bindparam(f"k_{name}") for name in names))
    records = [dict(zip((f"k_{n}" for n in names), row, strict=True))
               for row in text.itertuples(index=False, name=None)]
    conn.execute(sa.delete(table).where(condition), records)
    return len(records)


def replace_rows(conn: sa.Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Empty the table and write the frame's rows into it; the rows written."""
    conn.execute(sa.delete(table))
    return insert_rows(conn, table, frame)


# ----------------------------------------------------------------------------- reads

def _arrow_column(values: Sequence[Any], kind: ColumnKind) -> pa.Array:
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


class _CopyReader(io.RawIOBase):
    """A `COPY ... TO STDOUT` as a binary file, for pyarrow's streaming CSV reader."""

    def __init__(self, copy: Any) -> None:
        self._blocks = iter(copy)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._pending = memoryview(block)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


_ARROW_KINDS: dict[str, pa.DataType] = {
    "instant": pa.timestamp("us", tz="UTC"), "boolean": pa.bool_(), "integer": pa.int64(),
    "text": pa.large_string(),
}


def _copy_columns(conn: sa.Connection, sql: str, kinds: Mapping[str, ColumnKind]) -> pa.Table:
    """PostgreSQL: the query's rows by `COPY (query) TO STDOUT` as CSV, parsed by Arrow as they
    stream in: no Python object per value (the server's text is what a fetch would send anyway).
    An unquoted empty field is NULL, a quoted one empty text (PostgreSQL's CSV); instants come
    as ISO text with a zone (sessions run in UTC, `DateStyle` ISO: `warehouse.db`)."""
    import pyarrow.csv as pacsv

    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER)") as copy:
            source = io.BufferedReader(_CopyReader(copy), buffer_size=1 << 20)
            names = next(csv.reader([source.readline().decode()]))
            types = {name: _ARROW_KINDS[kinds.get(name, "text")] for name in names}
            if not source.peek(1):  # no rows (Arrow refuses an empty CSV)
                return pa.table({name: pa.array([], kind) for name, kind in types.items()})
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False,
                    true_values=["t"], false_values=["f"]))
            table = reader.read_all()
            for _ in copy:  # the server's end of the COPY (pyarrow stops at the data's end)
                pass
    finally:
        cursor.close()
    return table


def _fetch_columns(conn: sa.Connection, sql: str, kinds: Mapping[str, ColumnKind],
                   chunk_rows: int) -> pa.Table:
    """Any other backend: the driver's own tuples (SQLAlchemy's Row objects would cost a third of
    the time) fetched in chunks, each column made an Arrow array at once."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        names = [column[0] for column in cursor.description]
        chunks: dict[str, list[pa.Array]] = {name: [] for name in names}
        while rows := cursor.fetchmany(chunk_rows):
            for name, values in zip(names, zip(*rows, strict=True), strict=True):
                chunks[name].append(_arrow_column(values, kinds.get(name, "text")))
    finally:
        cursor.close()
    return pa.table({name: pa.chunked_array(chunks[name], _ARROW_KINDS[kinds.get(name, "text")])
                     for name in names})


def read_columns(conn: sa.Connection, sql: str, kinds: Mapping[str, ColumnKind],
                 chunk_rows: int = READ_CHUNK_ROWS) -> pd.DataFrame:
    """A query's rows as a frame, kept as Arrow columns on the way: a full evaluation reads ~10M
    events, which as Python rows would need several GB and most of the time. PostgreSQL sends
    them by `COPY` (CSV parsed by Arrow), SQLite in chunks of `chunk_rows` tuples.
    Instants become `datetime64[us, UTC]`, booleans `boolean`, integers `Int64`, the rest
    (columns not in `kinds`) `string[pyarrow]`."""
    if conn.dialect.name == "postgresql":
        table = _copy_columns(conn, sql, kinds)
    else:
        table = _fetch_columns(conn, sql, kinds, chunk_rows)
    frame = {}
    for name in table.column_names:
        array = table.column(name)
        kind = kinds.get(name, "text")
        if kind == "instant":
            frame[name] = pd.Series(pd.DatetimeIndex(array.to_pandas()).as_unit("us"))
        elif kind == "boolean":
            frame[name] = pd.Series(array.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get))
        elif kind == "integer":
            frame[name] = pd.Series(array.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
        else:
            frame[name] = pd.Series(pd.array(array, dtype="string[pyarrow]"))
    return pd.DataFrame(frame, columns=table.column_names)


__all__ = [
    "delete_keys", "insert_rows", "insert_statement", "read_columns", "read_frame", "replace_rows",
    "sqlite_values", "upsert_frame",
]
