"""Thin readers of the native sources: a watermark window of a SQL table, a list of drop files.

The readers only read: which window or which files to take is decided by the incremental
extraction bookkeeping (warehouse watermarks / processed files), which hands them in. Every
reader returns string frames (missing = empty string), the shape the adapters expect. The SQL
reader lives in `sql_reader`, the drop-file readers in `drop_files`, the shared frame shape in
`native_frames`; this module is the one entry point, `extract`, and keeps the readers' names
importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd

from vcpipeline.sources.config import SourceConfig
from vcpipeline.sources.drop_files import (
    DropFile,
    foreign_drop_files,
    read_csv_drop,
    read_drop_files,
    read_drops,
    read_xlsx_drop,
)
from vcpipeline.sources.native_frames import ROW_PROBLEM_COLUMN, SOURCE_LINE_COLUMN, native_strings
from vcpipeline.sources.sql_reader import read_sql_source, sql_row_counts

__all__ = [
    "ROW_PROBLEM_COLUMN",
    "SOURCE_LINE_COLUMN",
    "DropFile",
    "extract",
    "foreign_drop_files",
    "native_strings",
    "read_csv_drop",
    "read_drop_files",
    "read_sql_source",
    "read_xlsx_drop",
    "sql_row_counts",
]


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
