"""Reading a SQL source: the rows of a table's watermark window, and the source's own row counts.

The reader only reads: which window to take is decided by the incremental extraction
bookkeeping (warehouse watermarks), which hands it in. A row holding bytes in a text column
comes back with that value blank and `binary_value(<column>)` in `_row_problem`; a table that
cannot be read at all is a one-line `InputError` naming it.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from vcpipeline.errors import InputError
from vcpipeline.instants import LONDON
from vcpipeline.sources.native_frames import BINARY_VALUE, ROW_PROBLEM_COLUMN, native_strings

# The oldest and latest text a watermark in the source's format may hold; outside = unreadable.
_WATERMARK_FLOOR = datetime(1900, 1, 1)
_WATERMARK_CEILING = datetime(2999, 12, 31, 23, 59, 59)


def without_binary(frame: pd.DataFrame) -> pd.DataFrame:
    """An object frame (a fallback read) with bytes values blanked, each such row's problem noted.

    Only used when the fast read failed on bytes, so a per-value type test is affordable here.
    """
    problems = pd.Series("", index=frame.index, dtype="string")
    out = frame.copy()
    for name, column in frame.items():
        binary = column.map(lambda value: isinstance(value, (bytes, bytearray, memoryview))).astype(bool)
        if binary.any():
            out[name] = column.where(~binary, None)
            label = f"{BINARY_VALUE}({name})"
            problems = problems.where(~binary | (problems != ""), label)
    out = out.infer_objects()
    out[ROW_PROBLEM_COLUMN] = problems
    return out


def _bound(value: datetime | str | None, fmt: str, tz: str) -> str | None:
    """A window bound in the source's own watermark text format and zone."""
    if value is None or isinstance(value, str):
        return value
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ValueError("watermark bounds must be timezone-aware (or already in the source's text)")
    return stamp.tz_convert(tz).strftime(fmt)


def watermark_selection(column: str, since: str | None, until: str | None, fmt: str
                        ) -> tuple[str, dict[str, str]]:
    """The SQL condition of one batch's rows: its watermark window, OR a watermark no window can
    hold (NULL, another length than the format's, or text outside years 1900–2999).

    Watermarks are text compared as text, so a NULL or a differently formatted value would never
    fall in a window and its row would never be read: such rows are read by every batch (the
    ingest keeps quarantining them once, see `ingest.run`), never silently left behind. A value of
    the right length that is still not a timestamp in the format falls in the window of the day
    its text sorts to and is caught when the batch parses its watermarks.
    """
    window, params = [], {}
    if since is not None:
        window.append(f"{column} >= :since")
        params["since"] = since
    if until is not None:
        window.append(f"{column} < :until")
        params["until"] = until
    if not window:
        return "", params
    params |= {"wm_floor": _WATERMARK_FLOOR.strftime(fmt), "wm_ceiling": _WATERMARK_CEILING.strftime(fmt)}
    unreadable = (f"{column} IS NULL OR LENGTH({column}) <> {len(_WATERMARK_FLOOR.strftime(fmt))} "
                  f"OR {column} < :wm_floor OR {column} > :wm_ceiling")
    return f"(({' AND '.join(window)}) OR {unreadable})", params


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc.__cause__, "orig", None) or getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def read_sql_source(
    url: str,
    table_or_query: str,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    *,
    watermark_column: str = "modified_at",
    watermark_format: str = "%Y-%m-%d %H:%M:%S",
    watermark_tz: str = LONDON,
) -> pd.DataFrame:
    """Rows of a table (or a SELECT) whose watermark lies in `[since, until)`, as strings, plus
    the rows whose watermark no window can hold (`watermark_selection`).

    Bounds are aware datetimes (rendered in the source's own format and zone, since
    watermarks are text in the source and compare as text) or text already in that format;
    None leaves that side open. Rows come ordered by watermark for a stable extract. Bytes in a
    text column do not fail the read: that value comes back blank, the row noted `binary_value(<column>)`.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        quote = engine.dialect.identifier_preparer.quote
        is_query = table_or_query.lstrip().lower().startswith("select")
        inner = table_or_query if is_query else f"SELECT * FROM {quote(table_or_query)}"
        column = quote(watermark_column)
        condition, params = watermark_selection(
            column, _bound(since, watermark_format, watermark_tz),
            _bound(until, watermark_format, watermark_tz), watermark_format)
        clause = f" WHERE {condition}" if condition else ""
        statement = sa.text(f"SELECT * FROM ({inner}) AS src{clause} ORDER BY {column}")
        try:
            with engine.connect() as conn:
                try:
                    frame = pd.read_sql(statement, conn, params=params, dtype_backend="numpy_nullable")
                except (UnicodeDecodeError, TypeError, ValueError):
                    # Bytes in a text column: read again as plain objects and blank them row by row.
                    result = conn.execute(statement, params)
                    frame = without_binary(pd.DataFrame(result.fetchall(), columns=list(result.keys()),
                                                        dtype=object))
        except (sa.exc.DBAPIError, pd.errors.DatabaseError) as exc:
            # pandas wraps the driver's error; its first line is the one worth showing.
            raise InputError(f"cannot read {table_or_query!r} from {url}: {_first_line(exc)}") from None
    finally:
        engine.dispose()
    return native_strings(frame)


def sql_row_counts(
    url: str,
    table: str,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    *,
    watermark_column: str = "modified_at",
    watermark_format: str = "%Y-%m-%d %H:%M:%S",
    watermark_tz: str = LONDON,
) -> tuple[int, int]:
    """(rows the table holds, rows of it a batch with these bounds must read), counted by the
    source itself: what the extract is reconciled against."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        quote = engine.dialect.identifier_preparer.quote
        condition, params = watermark_selection(
            quote(watermark_column), _bound(since, watermark_format, watermark_tz),
            _bound(until, watermark_format, watermark_tz), watermark_format)
        selected = f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)" if condition else "COUNT(*)"
        statement = sa.text(f"SELECT COUNT(*), {selected} FROM {quote(table)}")
        try:
            with engine.connect() as conn:
                total, chosen = conn.execute(statement, params).one()
        except sa.exc.DBAPIError as exc:
            raise InputError(f"cannot count {table!r} in {url}: {_first_line(exc)}") from None
    finally:
        engine.dispose()
    return int(total or 0), int(chosen or 0)
