"""Parsing interchange values: instants, booleans, integers, and the canonical CSV folder.

Invalid values become missing (NaT / <NA>) rather than raising, so callers can quarantine
the rows with a reason instead of stopping the run. Everything is vectorised.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from vcpipeline.calendar import LONDON
from vcpipeline.canonical import CRIME_COLUMNS, EVENT_COLUMNS, VICTIM_COLUMNS
from vcpipeline.errors import InputError

__all__ = ["RAGGED_FIELDS", "InputError", "parse_booleans", "parse_instants", "parse_integers",
           "parse_whole_numbers", "read_canonical_csv", "read_canonical_folder"]

_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f", "")
# An ISO 8601 date, optionally with a time (seconds and a fraction optional); an offset only after
# a time, so that the day of a date-only value ("2026-06-02") is never read as an offset.
_INSTANT = (r"\d{4}-\d{2}-\d{2}"
            r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?")
_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
# The clocks go forward by this much in Europe/London (and every zone the sources use).
_SPRING_GAP = pd.Timedelta(hours=1)
# `frame.attrs[RAGGED_FIELDS]`: {row position: number of fields} of the rows whose field count
# differs from the header's (read_canonical_csv(..., keep_ragged=True)).
RAGGED_FIELDS = "ragged_fields"

CANONICAL_FILES: Mapping[str, tuple[str, ...]] = {
    "crimes": CRIME_COLUMNS,
    "victims": VICTIM_COLUMNS,
    "events": EVENT_COLUMNS,
}


def parse_instants(values: pd.Series, local_tz: str = LONDON) -> pd.Series:
    """ISO 8601 strings to UTC instants; strings without an offset are `local_tz` wall time.

    RULES.md "Units and clocks": a date alone is the local midnight starting it; seconds may be
    left out; fractions of a second are kept (to the microsecond). A local time that does not
    exist (the spring-forward gap) is read with the offset in force just before the change
    (01:15 on 29 March 2026 is 01:15Z); one that happens twice (the autumn repeat) is the first,
    summer-time, reading. Unparseable or empty values, or other shapes, become NaT.
    """
    text = values.astype("string").str.strip()
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    present = text.str.fullmatch(_INSTANT, na=False)
    has_offset = text.str.contains(_OFFSET, regex=True, na=False)
    aware = has_offset & present
    naive = ~has_offset & present
    if aware.any():
        parsed = pd.DatetimeIndex(pd.to_datetime(text[aware], utc=True, errors="coerce", format="ISO8601"))
        result[aware] = parsed.floor("us").as_unit("us")  # finer fractions are truncated
    if naive.any():
        local = pd.DatetimeIndex(pd.to_datetime(text[naive], errors="coerce", format="ISO8601"))
        result[naive] = (
            local.floor("us").as_unit("us")
            .tz_localize(local_tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent=_SPRING_GAP)
            .tz_convert("UTC")
        )
    return result


def parse_booleans(values: pd.Series) -> pd.Series:
    """`true/false`, `1/0`, `yes/no` (any case) to a nullable boolean; empty is false, anything else <NA>."""
    text = values.astype("string").str.strip().str.lower().fillna("")
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[text.isin(_TRUE)] = True
    result[text.isin(_FALSE)] = False
    return result


def parse_integers(values: pd.Series) -> pd.Series:
    """Whole numbers to nullable Int64; empty or non-integral values become <NA>."""
    numbers = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
    whole = numbers.notna() & (numbers == np.floor(numbers))
    return numbers.where(whole).astype("Int64")


def parse_whole_numbers(values: pd.Series, low: int, high: int) -> pd.Series:
    """ASCII digits within [low, high] to nullable Int64 (`014` is 14); anything else, empty
    included, is <NA>. Stricter than `parse_integers`: `+7`, `7.0`, `1e1` are not whole numbers."""
    text = values.astype("string").str.strip()
    digits = text.str.fullmatch(r"[0-9]{1,9}", na=False)  # at most 9 digits: fits any int64
    numbers = pd.to_numeric(text.where(digits), errors="coerce").astype("Int64")
    return numbers.where((numbers >= low) & (numbers <= high))


def read_canonical_csv(path: Path, required: Iterable[str], *, keep_ragged: bool = False) -> pd.DataFrame:
    """One canonical CSV as strings (empty cells are empty strings), required columns checked.

    Read with Arrow's parser (several times faster than pandas' own on large files); a byte-order
    mark, as spreadsheet exports write, is tolerated. A file that is not CSV at all is an InputError.
    A row whose field count differs from the header's is an InputError too, unless `keep_ragged`:
    then it stays in its place with its fields in the header's columns as far as they go, and
    `frame.attrs[RAGGED_FIELDS]` maps its position to its field count, for the caller to quarantine.
    """
    if not path.is_file():
        raise InputError(f"missing file: {path}")
    ragged: list[object] = []

    def note_ragged(row: object) -> str:
        ragged.append(row)
        return "skip"

    try:
        frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[],
                            encoding="utf-8-sig", engine="pyarrow",
                            on_bad_lines=note_ragged if keep_ragged else "error")
        if ragged:  # rare: read again, record by record, to keep every row in its place
            frame = _read_with_ragged_rows(path)
    except (ValueError, UnicodeError) as exc:  # ParserError and Arrow's errors are ValueErrors
        raise InputError(f"{path}: not a readable UTF-8 CSV file: {str(exc).splitlines()[0]}") from exc
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing required column(s): {', '.join(missing)}")
    return frame


def _read_with_ragged_rows(path: Path) -> pd.DataFrame:
    """Every record of a CSV that has ragged rows, each in its place (see `read_canonical_csv`).

    Python's csv module, row by row: only for files that have such rows, which are exceptional.
    Blank lines are not records (as for Arrow's parser).
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = [record for record in csv.reader(handle) if record]
    if not records:
        raise ValueError("empty CSV file")
    header, rows = records[0], records[1:]
    width = len(header)
    fitted = [row[:width] + [""] * (width - len(row)) for row in rows]
    frame = pd.DataFrame(fitted, columns=header, dtype="string") if rows else pd.DataFrame(
        {name: pd.Series([], dtype="string") for name in header})
    frame.attrs[RAGGED_FIELDS] = {i: len(row) for i, row in enumerate(rows) if len(row) != width}
    return frame


def read_canonical_folder(folder: Path) -> dict[str, pd.DataFrame]:
    """`crimes`, `victims` and `events` from a canonical input folder (CONTRACT.md), as strings.

    Ragged rows are kept for `prepare` to quarantine (`RAGGED_FIELDS`): they do not stop the run.
    """
    if not folder.is_dir():
        raise InputError(f"input folder not found: {folder}")
    return {
        name: read_canonical_csv(folder / f"{name}.csv", columns, keep_ragged=True)
        for name, columns in CANONICAL_FILES.items()
    }
