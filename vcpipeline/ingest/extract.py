"""Reading one source for a batch, and its canonical rows with the native row each came from.

The adapters map one native row to one canonical row; calling them table by table lets every
canonical row carry its native table and position (`ORIGIN_COLUMNS`), so a quarantined row can
be stored with its raw native row (minus personal data) and replayed after a fix.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from vcpipeline.ingest.windows import ExtractionWindow
from vcpipeline.sources import to_canonical
from vcpipeline.sources.common import concat_canonical
from vcpipeline.sources.config import SourceConfig
from vcpipeline.sources.readers import DropFile, extract

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("crimes", "victims", "events")
NATIVE_TABLE = "_native_table"
NATIVE_POSITION = "_native_position"
ORIGIN_COLUMNS: tuple[str, ...] = (NATIVE_TABLE, NATIVE_POSITION)


def native_suite(config: SourceConfig, table: str) -> str:
    """The expectation suite of a native table: `witness_care.wcu_updates` for `WCU Updates`."""
    return f"{config.name}.{re.sub(r'[^0-9a-z]+', '_', table.lower()).strip('_')}"


def _under_airflow() -> bool:
    """Inside a running Airflow task (its runner exports the task's context variables)."""
    return bool(os.environ.get("AIRFLOW_CTX_DAG_ID"))


def resolve_connection(config: SourceConfig) -> SourceConfig:
    """The config with its `airflow_conn_id` connection's URL, when running under Airflow and the
    connection exists; otherwise the config's own connection (local runs, tests, `vcp ingest`)."""
    if config.kind != "sql" or not config.airflow_conn_id or not _under_airflow():
        return config
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from vcpipeline.orchestration.connections import sqlalchemy_url

    try:
        conn = BaseHook.get_connection(config.airflow_conn_id)
    except AirflowNotFoundException:
        return config
    log.info("source %s: using Airflow connection %s", config.name, config.airflow_conn_id)
    return dataclasses.replace(config, connection=sqlalchemy_url(conn))


def read_native(config: SourceConfig, window: ExtractionWindow | None,
                files: Sequence[DropFile] | None) -> dict[str, pd.DataFrame]:
    """The native frames of one batch: a SQL window of every table, or the chosen drop files."""
    if config.kind == "sql":
        assert window is not None
        _require_sqlite_file(config)
        return extract(config, since=window.since, until=window.until)
    return extract(config, files=list(files or []))


def _require_sqlite_file(config: SourceConfig) -> None:
    """A missing SQLite source is an error, not a new empty database created by connecting."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from vcpipeline.parsing import InputError

    url = make_url(config.connection)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not url.database.startswith("file:") and not Path(url.database).is_file():
        raise InputError(f"source {config.name}: database not found: {url.database} "
                         "(run `vcp generate`, or set VCP_VAR_DIR)")


def canonical_by_origin(native: Mapping[str, pd.DataFrame], config: SourceConfig
                        ) -> dict[str, pd.DataFrame]:
    """Canonical crimes, victims and events of the native frames, each row tagged with its origin."""
    parts: dict[str, list[pd.DataFrame]] = {kind: [] for kind in KINDS}
    for table, frame in native.items():
        if frame.empty:
            continue
        for kind, rows in to_canonical({table: frame}, config).items():
            if rows.empty:
                continue
            if len(rows) != len(frame):  # the one-to-one mapping everything here relies on
                raise RuntimeError(f"adapter {config.adapter} mapped {len(frame)} {table} rows "
                                   f"to {len(rows)} {kind}")
            rows = rows.copy()
            rows[NATIVE_TABLE] = pd.Series(table, index=rows.index, dtype="string")
            rows[NATIVE_POSITION] = np.arange(len(rows), dtype=np.int64)
            parts[kind].append(rows)
    out = {}
    for kind in KINDS:
        combined = concat_canonical(kind, parts[kind])
        if combined.empty:
            combined[NATIVE_TABLE] = pd.Series([], dtype="string")
            combined[NATIVE_POSITION] = pd.Series([], dtype=np.int64)
        out[kind] = combined
    return out


def expected_columns(config: SourceConfig, table: str) -> list[str]:
    """The columns the native suite requires of a table (its schema expectation)."""
    from vcpipeline.validation.suites import load_suite_dict

    for expectation in load_suite_dict(native_suite(config, table))["expectations"]:
        if expectation["type"] == "expect_table_columns_to_match_set":
            return list(expectation["kwargs"]["column_set"])
    return []


def file_header(drop: DropFile, config: SourceConfig) -> list[str]:
    """The column names in a drop file's header row (cheap: the first line or first sheet row)."""
    if config.kind == "xlsx_drop":
        from openpyxl import load_workbook

        workbook = load_workbook(drop.path, read_only=True)
        try:
            sheet = config.tables[0]
            if sheet not in workbook.sheetnames:
                return []
            first = next(workbook[sheet].iter_rows(max_row=1, values_only=True), ())
            return ["" if value is None else str(value) for value in first]
        finally:
            workbook.close()
    import csv

    with drop.path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle), [])


def drop_schema_failures(files: Sequence[DropFile], config: SourceConfig) -> list[str]:
    """Files lacking a column their suite requires, named one by one.

    Files are read into one frame, where a column one file lacks would just look empty; so each
    file's header is checked on its own before the batch is validated as a whole.
    """
    required = expected_columns(config, config.tables[0])
    failures = []
    for drop in files:
        try:
            header = set(file_header(drop, config))
        except (OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
            failures.append(f"{drop.name}: unreadable: {exc}")
            continue
        missing = [name for name in required if name not in header]
        if missing:
            failures.append(f"{drop.name}: expect_table_columns_to_match_set: missing column(s): "
                            + ", ".join(missing))
    return failures


def watermark_instants(values: pd.Series, config: SourceConfig) -> pd.Series:
    """A native watermark column (text in the source's own format and zone) as UTC instants."""
    parsed = pd.to_datetime(values.astype("string").str.strip(), format=config.watermark_format,
                            errors="coerce")
    if config.watermark_tz.upper() == "UTC":
        return parsed.dt.tz_localize("UTC")
    return parsed.dt.tz_localize(config.watermark_tz, ambiguous=np.ones(len(parsed), dtype=bool),
                                 nonexistent="shift_forward").dt.tz_convert("UTC")


def native_watermark(native: Mapping[str, pd.DataFrame], config: SourceConfig,
                     not_after: datetime) -> datetime | None:
    """The latest modified-at instant among the native rows read (capped at `not_after`)."""
    latest: pd.Timestamp | None = None
    for frame in native.values():
        if frame.empty or config.watermark_column not in frame.columns:
            continue
        top = watermark_instants(frame[config.watermark_column], config).max()
        if pd.notna(top) and (latest is None or top > latest):
            latest = top
    if latest is None:
        return None
    return min(latest.to_pydatetime(), not_after)
