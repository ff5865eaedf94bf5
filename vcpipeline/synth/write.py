"""Writing the generated force to disk in each system's own medium, byte-for-byte reproducibly.

Two SQL databases (SQLite files by default; any SQLAlchemy URL), a landing folder of daily CSV
drops and one of daily XLSX drops. Same force → same bytes: tables are created fresh and filled
in a fixed order, CSVs use LF and minimal quoting, and each XLSX has its document properties
and zip member times pinned (openpyxl otherwise stamps the wall clock).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pandas as pd

from vcpipeline.sources.config import SourceConfig
from vcpipeline.sources.native_frames import DROP_FILE_COLUMN

SQL_CHUNK_ROWS = 50_000
# Pinned times inside XLSX files: a fixed instant, never the wall clock.
XLSX_STAMP = datetime(2026, 1, 1, 0, 0, 0)


def _schema(table: str, frame: pd.DataFrame):
    """A SQLAlchemy Core table for a native frame: integer ids, text everything else."""
    import sqlalchemy as sa

    columns = []
    for position, (name, column) in enumerate(frame.items()):
        integer = pd.api.types.is_integer_dtype(column)
        columns.append(sa.Column(name, sa.BigInteger if integer else sa.Text, primary_key=position == 0))
    return sa.Table(table, sa.MetaData(), *columns)


def _bulk_insert(conn, table: str, frame: pd.DataFrame) -> None:
    """executemany straight through the DB-API cursor, in chunks: the fast path for millions of rows."""
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    columns = ", ".join(quote(str(name)) for name in frame.columns)
    statement = f"INSERT INTO {quote(table)} ({columns}) VALUES ({', '.join([marker] * frame.shape[1])})"
    cursor = conn.connection.cursor()
    try:
        for start in range(0, len(frame), SQL_CHUNK_ROWS):
            chunk = frame.iloc[start:start + SQL_CHUNK_ROWS].astype(object)
            chunk = chunk.where(chunk.notna(), None)
            cursor.executemany(statement, list(chunk.itertuples(index=False, name=None)))
    finally:
        cursor.close()


def write_sql_source(url: str, tables: Mapping[str, pd.DataFrame]) -> None:
    """Replace the source database's tables with `tables` (a SQLite file is recreated from empty)."""
    import sqlalchemy as sa

    target = sa.make_url(url)
    if target.get_backend_name() == "sqlite" and target.database and target.database != ":memory:":
        path = Path(target.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for name, frame in tables.items():
                table = _schema(name, frame)
                table.drop(conn, checkfirst=True)
                table.create(conn)
                _bulk_insert(conn, name, frame)
            if target.get_backend_name() == "sqlite":
                conn.exec_driver_sql("PRAGMA user_version = 1")
    finally:
        engine.dispose()


def _clear_drops(folder: Path, pattern: str) -> None:
    """Remove earlier generated drops so a folder holds exactly one generation."""
    for old in folder.glob(pattern):
        if old.is_file():
            old.unlink()


def write_csv_drops(folder: Path, rows: pd.DataFrame, pattern: str) -> list[Path]:
    """One CSV per `source_file`, in the partner's columns; LF line ends, minimal quoting."""
    folder.mkdir(parents=True, exist_ok=True)
    _clear_drops(folder, pattern)
    written = []
    for name, frame in rows.groupby(DROP_FILE_COLUMN, sort=True):
        path = folder / str(name)
        frame.drop(columns=DROP_FILE_COLUMN).to_csv(path, index=False, lineterminator="\n",
                                                    encoding="utf-8")
        written.append(path)
    return written


def _pin_xlsx(path: Path) -> None:
    """Rewrite an XLSX with fixed zip member times and fixed created/modified properties."""
    stamp = XLSX_STAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path) as source:
        members = [(info.filename, source.read(info.filename)) for info in source.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in members:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=XLSX_STAMP.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, data)
    path.write_bytes(buffer.getvalue())


def _excel_values(frame: pd.DataFrame, datetime_columns: tuple[str, ...]) -> list[list[object]]:
    """Rows for openpyxl: date-time text → datetime cells, integers as numbers, empty → None."""
    columns = []
    for name, column in frame.items():
        if name in datetime_columns:
            parsed = pd.to_datetime(column, format="%Y-%m-%d %H:%M:%S", errors="coerce")
            values = [None if pd.isna(v) else v.to_pydatetime() for v in parsed]
            raw = column.astype("string").fillna("").tolist()
            values = [v if v is not None else (r or None) for v, r in zip(values, raw, strict=True)]
        elif pd.api.types.is_integer_dtype(column):
            values = [None if pd.isna(v) else int(v) for v in column.astype("object")]
        else:
            values = [v or None for v in column.astype("string").fillna("").tolist()]
        columns.append(values)
    return [list(row) for row in zip(*columns, strict=True)]


def write_xlsx_drops(folder: Path, rows: pd.DataFrame, sheet: str, pattern: str,
                     datetime_columns: tuple[str, ...]) -> list[Path]:
    """One XLSX workbook per `source_file` (openpyxl write-only), times pinned for reproducibility."""
    from openpyxl import Workbook

    folder.mkdir(parents=True, exist_ok=True)
    _clear_drops(folder, pattern)
    written = []
    for name, frame in rows.groupby(DROP_FILE_COLUMN, sort=True):
        body = frame.drop(columns=DROP_FILE_COLUMN)
        workbook = Workbook(write_only=True)
        workbook.properties.creator = "vcp generate"
        workbook.properties.created = XLSX_STAMP
        worksheet = workbook.create_sheet(sheet)
        worksheet.append(list(body.columns))
        for row in _excel_values(body, datetime_columns):
            worksheet.append(row)
        path = folder / str(name)
        workbook.save(path)
        _pin_xlsx(path)
        written.append(path)
    return written


def write_force(native: Mapping[str, Mapping[str, pd.DataFrame]], configs: list[SourceConfig]) -> dict[str, list[Path] | str]:
    """Write every generated source where its config says it lives; returns what was written."""
    written: dict[str, list[Path] | str] = {}
    for config in configs:
        tables = native.get(config.name)
        if tables is None:
            continue
        if config.kind == "sql":
            write_sql_source(config.connection, tables)
            written[config.name] = config.connection
        elif config.kind == "csv_drop":
            written[config.name] = write_csv_drops(Path(config.connection), tables[config.tables[0]],
                                                   config.file_pattern or "*.csv")
        else:
            written[config.name] = write_xlsx_drops(
                Path(config.connection), tables[config.tables[0]], config.tables[0],
                config.file_pattern or "*.xlsx", datetime_columns=("Event Date", "Last Modified"))
    return written
