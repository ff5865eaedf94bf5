"""Reading one source for a batch, and its canonical rows with the native row each came from.

The adapters map one native row to one canonical row; calling them table by table lets every
canonical row carry its native table and position (`ORIGIN_COLUMNS`), so a quarantined row can
be stored with its raw native row (minus personal data) and replayed after a fix.

Each canonical row also carries its door reasons (`DOOR_REASONS`): what is wrong with its native
row before any suite looks at it — a row the reader could not take apart (`ragged_row`,
`binary_value(column)`), an identifier that does not fit the shape `sources.toml` declares for
it (`identifier_format(column)`: a crime number `=HYPERLINK(...)` stops here), a SQL watermark
that cannot be read (`watermark_unreadable(column)`). Such a row is quarantined for that reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from vcpipeline.ingest.windows import ExtractionWindow
from vcpipeline.sources import to_canonical
from vcpipeline.sources.common import concat_canonical
from vcpipeline.sources.config import SourceConfig
from vcpipeline.sources.drop_files import DropFile, csv_header
from vcpipeline.sources.native_frames import RAGGED_ROW, ROW_PROBLEM_COLUMN
from vcpipeline.sources.readers import extract
from vcpipeline.sources.sql_reader import sql_row_counts

KINDS: tuple[str, ...] = ("crimes", "victims", "events")
NATIVE_TABLE = "_native_table"
NATIVE_POSITION = "_native_position"
DOOR_REASONS = "_door_reasons"
ORIGIN_COLUMNS: tuple[str, ...] = (NATIVE_TABLE, NATIVE_POSITION)
WATERMARK_UNREADABLE = "watermark_unreadable"


def native_suite(config: SourceConfig, table: str) -> str:
    """The expectation suite of a native table: `witness_care.wcu_updates` for `WCU Updates`."""
    return f"{config.name}.{re.sub(r'[^0-9a-z]+', '_', table.lower()).strip('_')}"


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

    from vcpipeline.errors import InputError

    url = make_url(config.connection)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not url.database.startswith("file:") and not Path(url.database).is_file():
        raise InputError(f"source {config.name}: database not found: {url.database} "
                         "(run `vcp generate`, or set VCP_VAR_DIR)")


def _add_reason(reasons: pd.Series, failing: pd.Series, label: str) -> pd.Series:
    failing = failing.fillna(False).astype(bool)
    joined = reasons.where(reasons == "", reasons + ";") + label
    return joined.where(failing, reasons)


def misshapen_identifiers(frame: pd.DataFrame, config: SourceConfig, table: str) -> pd.Series:
    """Per native row, `identifier_format(<column>)` for each non-empty identifier that does not
    fit its shape in `sources.toml` (`;`-joined, "" = none); a missing one is the suites' to judge."""
    reasons = pd.Series("", index=frame.index, dtype="string")
    for column, pattern in config.identifiers.get(table, {}).items():
        if column in frame.columns:
            values = frame[column].astype("string").fillna("").str.strip()
            misshapen = (values != "") & ~values.str.fullmatch(pattern).fillna(False)
            reasons = _add_reason(reasons, misshapen, f"identifier_format({column})")
    return reasons


def screen_identifiers(native: Mapping[str, pd.DataFrame], config: SourceConfig
                       ) -> dict[str, pd.DataFrame]:
    """The native frames with every misshapen identifier blanked and its reason noted in
    `_row_problem`: a formula or a name where a crime or person number belongs is then in no
    validation result, Data Docs page or canonical row, only in the row's quarantine reason."""
    out = {}
    for table, frame in native.items():
        reasons = misshapen_identifiers(frame, config, table) if len(frame) else None
        if reasons is None or not (reasons != "").any():
            out[table] = frame
            continue
        screened = frame.copy()
        bad = (reasons != "").to_numpy(dtype=bool)
        for column in config.identifiers.get(table, {}):
            if column in screened.columns:
                flagged = reasons.str.contains(f"identifier_format({column})", regex=False).to_numpy(bool)
                screened[column] = screened[column].astype("string").where(~flagged, "")
        problem = (screened[ROW_PROBLEM_COLUMN].astype("string").fillna("")
                   if ROW_PROBLEM_COLUMN in screened.columns
                   else pd.Series("", index=screened.index, dtype="string"))
        joined = problem.where(problem == "", problem + ";") + reasons
        screened[ROW_PROBLEM_COLUMN] = problem.where(~bad, joined)
        out[table] = screened
    return out


def door_reasons(frame: pd.DataFrame, config: SourceConfig, table: str) -> pd.Series:
    """Per native row, why it is refused at the door ("" = it is not), `;`-joined (vectorised):
    the reader's or the screening's `_row_problem`, misshapen identifiers, an unreadable SQL
    watermark. A ragged row has no values to check: `ragged_row` is its only reason.
    """
    reasons = misshapen_identifiers(frame, config, table)
    if config.kind == "sql" and config.watermark_column in frame.columns:
        unreadable = watermark_instants(frame[config.watermark_column], config).isna()
        reasons = _add_reason(reasons, pd.Series(unreadable.to_numpy(), index=frame.index),
                              f"{WATERMARK_UNREADABLE}({config.watermark_column})")
    if ROW_PROBLEM_COLUMN in frame.columns:
        problem = frame[ROW_PROBLEM_COLUMN].astype("string").fillna("")
        ragged = problem.str.startswith(RAGGED_ROW)
        both = problem.where(reasons == "", problem + ";" + reasons)
        reasons = (pd.Series(RAGGED_ROW, index=frame.index, dtype="string").where(ragged, both)
                   .where(problem != "", reasons))  # the field counts stay in the raw row
    return reasons


def canonical_by_origin(native: Mapping[str, pd.DataFrame], config: SourceConfig
                        ) -> dict[str, pd.DataFrame]:
    """Canonical crimes, victims and events of the native frames, each row tagged with its origin
    and its door reasons."""
    parts: dict[str, list[pd.DataFrame]] = {kind: [] for kind in KINDS}
    for table, frame in native.items():
        if frame.empty:
            continue
        door = door_reasons(frame, config, table).to_numpy(dtype=object)
        for kind, rows in to_canonical({table: frame}, config).items():
            if rows.empty:
                continue
            if len(rows) != len(frame):  # the one-to-one mapping everything here relies on
                raise RuntimeError(f"adapter {config.adapter} mapped {len(frame)} {table} rows "
                                   f"to {len(rows)} {kind}")
            rows = rows.copy()
            rows[NATIVE_TABLE] = pd.Series(table, index=rows.index, dtype="string")
            rows[NATIVE_POSITION] = np.arange(len(rows), dtype=np.int64)
            rows[DOOR_REASONS] = pd.Series(door, index=rows.index, dtype="string")
            parts[kind].append(rows)
    out = {}
    for kind in KINDS:
        combined = concat_canonical(kind, parts[kind])
        if combined.empty:
            combined[NATIVE_TABLE] = pd.Series([], dtype="string")
            combined[NATIVE_POSITION] = pd.Series([], dtype=np.int64)
            combined[DOOR_REASONS] = pd.Series([], dtype="string")
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
    """The column names in a drop file's header row (cheap: the first line or first sheet row).

    Raises `InputError` (one line naming the file) when the file cannot be read at all.
    """
    if config.kind == "xlsx_drop":
        import zipfile

        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        from vcpipeline.errors import InputError

        try:
            workbook = load_workbook(drop.path, read_only=True)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, InvalidFileException) as exc:
            raise InputError(f"not a readable XLSX workbook ({type(exc).__name__})") from None
        try:
            sheet = config.tables[0]
            if sheet not in workbook.sheetnames:
                return []
            first = next(workbook[sheet].iter_rows(max_row=1, values_only=True), ())
            return ["" if value is None else str(value).strip() for value in first]
        finally:
            workbook.close()
    return csv_header(drop.path)


def drop_schema_failures(files: Sequence[DropFile], config: SourceConfig) -> list[str]:
    """Files that cannot be read or lack a column their suite requires, named one by one.

    Files are read into one frame, where a column one file lacks would just look empty; so each
    file's header is checked on its own before the batch is validated as a whole.
    """
    from vcpipeline.errors import InputError

    required = expected_columns(config, config.tables[0])
    failures = []
    for drop in files:
        try:
            header = set(file_header(drop, config))
        except (InputError, OSError, UnicodeDecodeError, ValueError, KeyError) as exc:
            reason = str(exc).removeprefix(f"cannot read {drop.name}: ").removeprefix(f"{drop.name}: ")
            failures.append(f"{drop.name}: unreadable: {reason}")
            continue
        missing = [name for name in required if name not in header]
        if missing:
            failures.append(f"{drop.name}: expect_table_columns_to_match_set: missing column(s): "
                            + ", ".join(missing))
    return failures


def native_schema_failures(native: Mapping[str, pd.DataFrame], config: SourceConfig) -> list[str]:
    """Native tables lacking a column their suite requires (a column dropped from the contact-log
    table): a one-line batch failure before any adapter looks the column up."""
    failures = []
    for table, frame in native.items():
        if frame.empty:
            continue  # no rows: no adapter will look a column up
        missing = [name for name in expected_columns(config, table) if name not in frame.columns]
        if missing:
            failures.append(f"{table}: expect_table_columns_to_match_set: missing column(s): "
                            + ", ".join(missing))
    return failures


def source_count_mismatches(native: Mapping[str, pd.DataFrame], config: SourceConfig,
                            window: ExtractionWindow) -> tuple[dict[str, int], list[str]]:
    """The SQL source's own count of each table's rows, reconciled with the rows extracted.

    Returns (rows each table holds, messages): a message where the rows the source says this
    batch's selection holds differ from the rows read (a join that drops or repeats rows, a
    reader that loses some).
    """
    held, messages = {}, []
    for table, frame in native.items():
        total, selected = sql_row_counts(
            config.connection, table, window.since, window.until,
            watermark_column=config.watermark_column, watermark_format=config.watermark_format,
            watermark_tz=config.watermark_tz)
        held[table] = total
        if selected != len(frame):
            messages.append(f"{table}: the source counts {selected:,} rows in this batch's window, "
                            f"{len(frame):,} were extracted")
    return held, messages


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
