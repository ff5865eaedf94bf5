"""Parsing interchange values: instants, booleans, integers, and the canonical CSV folder.

Invalid values become missing (NaT / <NA>) rather than raising, so callers can quarantine
the rows with a reason instead of stopping the run. Everything is vectorised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from vcpipeline.calendar import LONDON
from vcpipeline.canonical import CRIME_COLUMNS, EVENT_COLUMNS, VICTIM_COLUMNS
from vcpipeline.errors import InputError

__all__ = ["InputError", "parse_booleans", "parse_instants", "parse_integers",
           "read_canonical_csv", "read_canonical_folder"]

_TRUE = ("true", "1", "yes", "y", "t")
_FALSE = ("false", "0", "no", "n", "f", "")
_OFFSET = r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"

CANONICAL_FILES: Mapping[str, tuple[str, ...]] = {
    "crimes": CRIME_COLUMNS,
    "victims": VICTIM_COLUMNS,
    "events": EVENT_COLUMNS,
}


def parse_instants(values: pd.Series, local_tz: str = LONDON) -> pd.Series:
    """ISO 8601 strings to UTC instants; strings without an offset are `local_tz` wall time.

    Unparseable or empty values become NaT. Local times that do not exist (the spring-forward
    gap) move forward; ambiguous ones (the autumn repeat) take the first, summer-time, reading.
    """
    text = values.astype("string").str.strip()
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    has_offset = text.str.contains(_OFFSET, regex=True, na=False)
    present = text.notna() & (text != "")
    aware = has_offset & present
    naive = ~has_offset & present
    if aware.any():
        result[aware] = pd.to_datetime(text[aware], utc=True, errors="coerce", format="ISO8601")
    if naive.any():
        local = pd.to_datetime(text[naive], errors="coerce", format="ISO8601")
        result[naive] = (
            pd.DatetimeIndex(local)
            .tz_localize(local_tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
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


def read_canonical_csv(path: Path, required: Iterable[str]) -> pd.DataFrame:
    """One canonical CSV as strings (empty cells are empty strings), required columns checked.

    Read with Arrow's parser (several times faster than pandas' own on large files); a byte-order
    mark, as spreadsheet exports write, is tolerated. A file that is not CSV at all is an InputError.
    """
    if not path.is_file():
        raise InputError(f"missing file: {path}")
    try:
        frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[],
                            encoding="utf-8-sig", engine="pyarrow")
    except (ValueError, UnicodeError) as exc:  # ParserError and Arrow's errors are ValueErrors
        raise InputError(f"{path}: not a readable UTF-8 CSV file: {str(exc).splitlines()[0]}") from exc
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing required column(s): {', '.join(missing)}")
    return frame


def read_canonical_folder(folder: Path) -> dict[str, pd.DataFrame]:
    """`crimes`, `victims` and `events` from a canonical input folder (CONTRACT.md), as strings."""
    if not folder.is_dir():
        raise InputError(f"input folder not found: {folder}")
    return {
        name: read_canonical_csv(folder / f"{name}.csv", columns)
        for name, columns in CANONICAL_FILES.items()
    }
