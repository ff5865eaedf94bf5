"""Query results as typed pandas frames, identical on SQLite and PostgreSQL.

SQLite hands back instants as text, booleans as 0/1 and nullable integers as floats; PostgreSQL
hands back objects. Downstream code (rule engine, summaries, tests) should see one shape:
instants as `datetime64[us, UTC]`, booleans as `boolean`, integers as `Int64`, text as `str`.

A column's kind comes from the Select's column type when there is one, else from the warehouse
column of the same name (`schema.metadata`), else a name ending in `_at` means an instant.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from vcpipeline.warehouse.schema import UtcDateTime, format_sqlite_instant, metadata

Kind = Literal["instant", "boolean", "integer", "other"]


def column_kind(type_: sa.types.TypeEngine[Any]) -> Kind:
    """How a SQL type is represented in a frame."""
    if isinstance(type_, UtcDateTime | sa.DateTime):
        return "instant"
    if isinstance(type_, sa.Boolean):
        return "boolean"
    if isinstance(type_, sa.Integer):
        return "integer"
    return "other"


@lru_cache(maxsize=1)
def _kinds_by_name() -> dict[str, Kind]:
    """Warehouse column names with one unambiguous kind across all tables."""
    seen: dict[str, set[Kind]] = {}
    for table in metadata.tables.values():
        for column in table.columns:
            seen.setdefault(column.name, set()).add(column_kind(column.type))
    return {name: kinds.pop() for name, kinds in seen.items() if len(kinds) == 1}


def _kind_for(name: str, type_: sa.types.TypeEngine[Any] | None) -> Kind:
    if type_ is not None and not isinstance(type_, sa.types.NullType):
        kind = column_kind(type_)
        if kind != "other" or not isinstance(type_, sa.String | sa.Text):
            return kind
    kind = _kinds_by_name().get(name, "other")
    if kind == "other" and name.endswith("_at"):
        return "instant"
    return kind


def to_instants(values: pd.Series) -> pd.Series:
    """Stored instants (ISO text or aware datetimes) to `datetime64[us, UTC]`."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.as_unit("us")
    converted = pd.to_datetime(values, utc=True, format="ISO8601")
    return converted.dt.as_unit("us")


def type_frame(frame: pd.DataFrame, kinds: Mapping[str, Kind]) -> pd.DataFrame:
    """Give each column of `frame` the dtype of its kind (columns not in `kinds` are left alone)."""
    for name, kind in kinds.items():
        if name not in frame.columns:
            continue
        if kind == "instant":
            frame[name] = to_instants(frame[name])
        elif kind == "boolean":
            frame[name] = frame[name].astype("boolean")
        elif kind == "integer":
            frame[name] = frame[name].astype("Int64")
    return frame


def _bind_instants(conn: sa.Connection, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Datetime parameters of a textual query in the form the backend stores instants."""
    if params is None:
        return None
    if conn.dialect.name != "sqlite":
        return dict(params)
    return {
        key: format_sqlite_instant(value) if isinstance(value, datetime) else value
        for key, value in params.items()
    }


def read_frame(
    conn: sa.Connection,
    sql_or_select: str | sa.TextClause | sa.Select[Any],
    params: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Run a query and return its rows as a typed frame (see the module docstring).

    Instants in a Select are fetched raw and converted once, vectorised, instead of value by
    value; datetime parameters of a textual query are bound as the backend stores them.
    """
    if isinstance(sql_or_select, sa.Select):
        declared = {column.key: column.type for column in sql_or_select.selected_columns}
        if any(isinstance(type_, UtcDateTime) for type_ in declared.values()):
            inner = sql_or_select.subquery()
            sql_or_select = sa.select(*(
                sa.type_coerce(column, sa.String).label(column.key)
                if isinstance(column.type, UtcDateTime) else column
                for column in inner.c
            ))
        result = conn.execute(sql_or_select, dict(params) if params else {})
    else:
        statement = sa.text(sql_or_select) if isinstance(sql_or_select, str) else sql_or_select
        declared = {}
        result = conn.execute(statement, _bind_instants(conn, params) or {})
    names = list(result.keys())
    rows = result.fetchall()
    # Plain tuples: given SQLAlchemy Rows, pandas probes each one (6x slower at 1M rows).
    frame = pd.DataFrame.from_records([tuple(row) for row in rows], columns=names) if rows else pd.DataFrame(
        {name: pd.Series([], dtype=object) for name in names}
    )
    kinds = {name: _kind_for(name, declared.get(name)) for name in names}
    return type_frame(frame, kinds)


def read_frames(conn: sa.Connection, sql: str, params: Mapping[str, Any] | None = None, *,
                chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A textual query's rows as typed frames (as `read_frame` types them) of at most
    `chunk_rows` rows each, fetched as they are consumed: memory holds one chunk, however many
    rows the query gives. PostgreSQL streams them from a server-side cursor, planned for all its
    rows (`cursor_tuple_fraction` 1 while it is open, not the fast-start plan a cursor gets by
    default); SQLite steps its cursor anyway. The connection may write other tables meanwhile."""
    if chunk_rows < 1:
        raise ValueError(f"a chunk holds at least 1 row, not {chunk_rows}")
    postgresql = conn.dialect.name == "postgresql"
    if postgresql:
        before = conn.exec_driver_sql("SELECT current_setting('cursor_tuple_fraction')").scalar_one()
        conn.exec_driver_sql("SELECT set_config('cursor_tuple_fraction', '1', true)")
    try:
        result = conn.execute(sa.text(sql), _bind_instants(conn, params) or {},
                              execution_options={"stream_results": True})
        names = list(result.keys())
        kinds = {name: _kind_for(name, None) for name in names}
        for rows in result.partitions(chunk_rows):
            yield type_frame(pd.DataFrame.from_records([tuple(row) for row in rows], columns=names), kinds)
        result.close()
    finally:
        if postgresql:
            conn.exec_driver_sql("SELECT set_config('cursor_tuple_fraction', %(value)s, true)",
                                 {"value": before})
