"""Thin readers of the native sources: a watermark window of a SQL table, a list of drop files.

The readers only read: which window or which files to take is decided by the incremental
extraction bookkeeping (warehouse watermarks / processed files), which hands them in. Every
reader returns string frames (missing = empty string), the shape the adapters expect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from vcpipeline.parsing import InputError
from vcpipeline.sources.config import SourceConfig

DROP_FILE_COLUMN = "source_file"
_XLSX_DATETIME = "%Y-%m-%d %H:%M:%S"


def native_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Any native frame as strings: integers without `.0`, datetimes ISO-like, missing = ''."""
    out = {}
    for name, column in frame.items():
        if pd.api.types.is_datetime64_any_dtype(column):
            rendered = column.dt.strftime(_XLSX_DATETIME)
        elif pd.api.types.is_float_dtype(column):
            whole = column.notna() & (column == column.round())
            rendered = column.astype("string").where(~whole, column.astype("Int64").astype("string"))
        else:
            rendered = column.astype("string")
        out[name] = rendered.fillna("")
    return pd.DataFrame(out, index=frame.index)


def _bound(value: datetime | str | None, fmt: str, tz: str) -> str | None:
    """A window bound in the source's own watermark text format and zone."""
    if value is None or isinstance(value, str):
        return value
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        raise ValueError("watermark bounds must be timezone-aware (or already in the source's text)")
    return stamp.tz_convert(tz).strftime(fmt)


def read_sql_source(
    url: str,
    table_or_query: str,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    *,
    watermark_column: str = "modified_at",
    watermark_format: str = "%Y-%m-%d %H:%M:%S",
    watermark_tz: str = "Europe/London",
) -> pd.DataFrame:
    """Rows of a table (or a SELECT) whose watermark lies in `[since, until)`, as strings.

    Bounds are aware datetimes (rendered in the source's own format and zone, since
    watermarks are text in the source and compare as text) or text already in that format;
    None leaves that side open. Rows come ordered by watermark for a stable extract.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        quote = engine.dialect.identifier_preparer.quote
        is_query = table_or_query.lstrip().lower().startswith("select")
        inner = table_or_query if is_query else f"SELECT * FROM {quote(table_or_query)}"
        column = quote(watermark_column)
        where, params = [], {}
        low = _bound(since, watermark_format, watermark_tz)
        high = _bound(until, watermark_format, watermark_tz)
        if low is not None:
            where.append(f"{column} >= :since")
            params["since"] = low
        if high is not None:
            where.append(f"{column} < :until")
            params["until"] = high
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        statement = sa.text(f"SELECT * FROM ({inner}) AS src{clause} ORDER BY {column}")
        try:
            with engine.connect() as conn:
                frame = pd.read_sql(statement, conn, params=params, dtype_backend="numpy_nullable")
        except (sa.exc.DBAPIError, pd.errors.DatabaseError) as exc:
            # pandas wraps the driver's error; its first line is the one worth showing.
            cause = getattr(exc.__cause__, "orig", None) or getattr(exc, "orig", None) or exc
            reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
            raise InputError(f"cannot read {table_or_query!r} from {url}: {reason}") from None
    finally:
        engine.dispose()
    return native_strings(frame)


@dataclass(frozen=True)
class DropFile:
    """One file in a landing folder, with what a processed-files manifest needs."""

    path: Path
    name: str
    sha256: str
    size: int


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_drop_files(folder: Path | str, pattern: str) -> list[DropFile]:
    """The files in `folder` matching `pattern`, sorted by name (a `_v2` re-delivery sorts after)."""
    base = Path(folder)
    if not base.is_dir():
        raise InputError(f"landing folder not found: {base}")
    return [
        DropFile(path=path, name=path.name, sha256=file_sha256(path), size=path.stat().st_size)
        for path in sorted(base.glob(pattern), key=lambda p: p.name)
        if path.is_file()
    ]


def read_csv_drop(path: Path | str, required: Sequence[str] = ()) -> pd.DataFrame:
    """A partner's CSV file as strings (every cell kept verbatim, empty = '')."""
    csv_path = Path(path)
    try:
        frame = pd.read_csv(csv_path, dtype="string", keep_default_na=False, na_values=[],
                            encoding="utf-8")
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {csv_path}: {exc}") from None
    _require(csv_path, frame, required)
    return frame.fillna("")


def read_xlsx_drop(path: Path | str, sheet: str, required: Sequence[str] = ()) -> pd.DataFrame:
    """One sheet of an XLSX drop as strings; date-time cells as `YYYY-MM-DD HH:MM:SS`."""
    from openpyxl import load_workbook

    xlsx_path = Path(path)
    try:
        workbook = load_workbook(xlsx_path, read_only=True, data_only=True)
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"cannot read {xlsx_path}: {exc}") from None
    try:
        if sheet not in workbook.sheetnames:
            raise InputError(f"{xlsx_path}: no sheet named {sheet!r}")
        rows = workbook[sheet].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise InputError(f"{xlsx_path}: sheet {sheet!r} is empty")
        columns = ["" if name is None else str(name) for name in header]
        body = [[_cell_text(value) for value in row] for row in rows]
    finally:
        workbook.close()
    frame = pd.DataFrame(body, columns=columns, dtype="string") if body else pd.DataFrame(
        {name: pd.Series([], dtype="string") for name in columns})
    _require(xlsx_path, frame, required)
    return frame.fillna("")


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(_XLSX_DATETIME)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _require(path: Path, frame: pd.DataFrame, required: Iterable[str]) -> None:
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing required column(s): {', '.join(missing)}")


def read_drops(config: SourceConfig, files: Sequence[DropFile] | None = None) -> pd.DataFrame:
    """The rows of the given drop files (default: every file in the landing folder), in file order.

    Each row carries the name of its file in `source_file`, so a re-delivered file's rows
    can be told apart from the original's.
    """
    chosen = files if files is not None else read_drop_files(config.connection, config.file_pattern or "*")
    frames = []
    for drop in chosen:
        frame = (read_xlsx_drop(drop.path, config.tables[0]) if config.kind == "xlsx_drop"
                 else read_csv_drop(drop.path))
        frame[DROP_FILE_COLUMN] = drop.name
        frames.append(frame)
    if not frames:
        return pd.DataFrame({DROP_FILE_COLUMN: pd.Series([], dtype="string")})
    return pd.concat(frames, ignore_index=True).fillna("")


def extract(
    config: SourceConfig,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    files: Sequence[DropFile] | None = None,
    queries: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The native frames of one source: a watermark window of each SQL table, or drop files.

    `queries` may replace a table by a SELECT (e.g. joining the crime's report time onto
    victims); by default the adapter module's own `QUERIES`.
    """
    if config.kind == "sql":
        if queries is None:
            queries = getattr(config.adapter_module(), "QUERIES", {})
        return {
            table: read_sql_source(
                config.connection, queries.get(table, table), since, until,
                watermark_column=config.watermark_column,
                watermark_format=config.watermark_format,
                watermark_tz=config.watermark_tz,
            )
            for table in config.tables
        }
    return {config.tables[0]: read_drops(config, files)}
