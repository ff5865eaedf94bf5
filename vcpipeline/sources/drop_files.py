"""Reading partners' drop files: listing a landing folder, and the CSV and XLSX readers with
their checks.

Which files to take is decided by the processed-files bookkeeping, which hands them in. A CSV
row whose field count differs from the header's comes back blank as `ragged_row` with its line
(which value belongs to which column is unknown). A file that cannot be read at all (not a
workbook, not UTF-8, no header, two columns of one name) is a one-line `InputError` naming it.
docs/sources.md, "Malformed input", lists each case and which of the two it is.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from vcpipeline.errors import InputError
from vcpipeline.sources.config import SourceConfig
from vcpipeline.sources.native_frames import (
    DROP_FILE_COLUMN,
    NATIVE_DATETIME_FORMAT,
    RAGGED_ROW,
    ROW_PROBLEM_COLUMN,
    SOURCE_LINE_COLUMN,
)


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


def matches_drop_pattern(name: str, pattern: str) -> bool:
    """Whether a file name matches a drop's pattern, ignoring case (`REFERRALS_…CSV` is a drop too)."""
    return fnmatch.fnmatchcase(name.casefold(), pattern.casefold())


def read_drop_files(folder: Path | str, pattern: str) -> list[DropFile]:
    """The files in `folder` matching `pattern` (ignoring case), sorted by name (a `_v2`
    re-delivery sorts after)."""
    base = Path(folder)
    if not base.is_dir():
        raise InputError(f"landing folder not found: {base}")
    return [
        DropFile(path=path, name=path.name, sha256=file_sha256(path), size=path.stat().st_size)
        for path in sorted(base.iterdir(), key=lambda p: p.name)
        if path.is_file() and matches_drop_pattern(path.name, pattern)
    ]


def foreign_drop_files(folder: Path | str, pattern: str) -> list[str]:
    """Files in a landing folder that are not drops of its pattern (an old `.xls`, a stray
    export): reported by the batch, never read and never silently ignored. Hidden files are
    left out (editors' and file systems' own)."""
    base = Path(folder)
    if not base.is_dir():
        return []
    return sorted(path.name for path in base.iterdir()
                  if path.is_file() and not path.name.startswith(".")
                  and not matches_drop_pattern(path.name, pattern))


def column_names(header: Sequence[object], path: Path) -> list[str]:
    """A header row's names: a blank name becomes `_unnamed_<n>` (n = its 1-based position), so
    several blank headers or a stray cell right of the header do not clash; two columns of one
    name are a one-line error (which of them would the adapter mean?)."""
    names = ["" if value is None else str(value).strip() for value in header]
    names = [name or f"_unnamed_{position}" for position, name in enumerate(names, start=1)]
    seen: set[str] = set()
    repeated = sorted({name for name in names if name in seen or seen.add(name)})
    if repeated:
        raise InputError(f"{path.name}: duplicate column name(s) in the header: {', '.join(repeated)}")
    return names


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV drop (a UTF-8 byte-order mark is read as such, not as a name)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path.name}: {exc}") from None
    if not header or not any(name.strip() for name in header):
        raise InputError(f"{path.name}: empty file or blank header row")
    return column_names(header, path)


def problem_rows(columns: Sequence[str], problems: Sequence[tuple[int | None, str]]) -> pd.DataFrame:
    """Rows that could not be taken apart: every value blank, their line and problem noted."""
    frame = pd.DataFrame({name: pd.Series([""] * len(problems), dtype="string") for name in columns})
    frame[SOURCE_LINE_COLUMN] = pd.Series(["" if line is None else str(line) for line, _ in problems],
                                          dtype="string")
    frame[ROW_PROBLEM_COLUMN] = pd.Series([problem for _, problem in problems], dtype="string")
    return frame


def read_csv_drop(path: Path | str, required: Sequence[str] = ()) -> pd.DataFrame:
    """A partner's CSV file as strings (every cell kept verbatim, empty = '').

    A row with more or fewer fields than the header (an unquoted comma in a name, a field
    missing, a bare CR splitting a row) would put its values under the wrong names: it comes
    back blank, as `ragged_row` with its line, and the other rows are read as usual (Arrow's
    reader calls back for such rows only). Blank lines are skipped.
    """
    import pyarrow as pa
    from pyarrow import csv as arrow_csv

    csv_path = Path(path)
    columns = csv_header(csv_path)
    ragged: list[tuple[int | None, str]] = []

    def refuse(row: arrow_csv.InvalidRow) -> str:
        ragged.append((row.number, f"{RAGGED_ROW}({row.actual_columns} fields, header "
                                    f"{row.expected_columns})"))
        return "skip"

    try:
        table = arrow_csv.read_csv(
            csv_path,
            read_options=arrow_csv.ReadOptions(column_names=columns, skip_rows=1, use_threads=False),
            parse_options=arrow_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=refuse),
            convert_options=arrow_csv.ConvertOptions(
                column_types={name: pa.string() for name in columns},
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"cannot read {csv_path.name}: {str(exc).splitlines()[0]}") from None
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    frame = frame.astype("string")
    if ragged:  # the two columns only exist when a file has such rows
        frame[SOURCE_LINE_COLUMN] = ""
        frame[ROW_PROBLEM_COLUMN] = ""
        frame = pd.concat([frame, problem_rows(columns, ragged)], ignore_index=True)
    _require(csv_path, frame, required)
    return frame.fillna("")


def read_xlsx_drop(path: Path | str, sheet: str, required: Sequence[str] = ()) -> pd.DataFrame:
    """One sheet of an XLSX drop as strings; date-time cells as `YYYY-MM-DD HH:MM:SS`.

    Rows with no value at all (formatted but empty rows below the data) are skipped; a cell right
    of the header sits under an `_unnamed_<n>` column the adapter never reads. A file that is not
    a workbook (truncated, empty, an old `.xls` renamed) is a one-line error naming it.
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    xlsx_path = Path(path)
    try:
        workbook = load_workbook(xlsx_path, read_only=True, data_only=True)
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, InvalidFileException) as exc:
        raise InputError(f"cannot read {xlsx_path.name}: not a readable XLSX workbook "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    try:
        if sheet not in workbook.sheetnames:
            raise InputError(f"{xlsx_path.name}: no sheet named {sheet!r}")
        rows = workbook[sheet].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise InputError(f"{xlsx_path.name}: sheet {sheet!r} is empty")
        body = [[_cell_text(value) for value in row] for row in rows]
    except (zipfile.BadZipFile, KeyError, ValueError, EOFError, OSError) as exc:
        raise InputError(f"cannot read {xlsx_path.name}: {type(exc).__name__}: {exc}") from None
    finally:
        workbook.close()
    width = max([len(header), *(len(row) for row in body)])
    columns = column_names(list(header) + [None] * (width - len(header)), xlsx_path)
    body = [row + [""] * (width - len(row)) for row in body]
    frame = pd.DataFrame(body, columns=columns, dtype="string") if body else pd.DataFrame(
        {name: pd.Series([], dtype="string") for name in columns})
    frame = frame.fillna("")
    frame = frame[(frame != "").any(axis=1)].reset_index(drop=True)
    _require(xlsx_path, frame, required)
    return frame


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime(NATIVE_DATETIME_FORMAT)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _require(path: Path, frame: pd.DataFrame, required: Iterable[str]) -> None:
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise InputError(f"{path.name}: missing required column(s): {', '.join(missing)}")


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
    # A column one file lacks is empty in the others' rows (each header is checked on its own).
    return pd.concat(frames, ignore_index=True).fillna("")
