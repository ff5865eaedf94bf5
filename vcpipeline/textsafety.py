"""Text from the sources made safe for the places people open it: spreadsheets and mail headers.

A value from a source system is data, never an instruction. Two places would take it for one:

- a spreadsheet reads a cell that starts with `= + - @` (or a tab or carriage return, which
  some spreadsheets skip before looking) as a formula: `=HYPERLINK(...)` in a crime reference
  becomes a live link in a reviewer's worksheet or an analyst's CSV (OWASP "CSV injection");
- a mail header value with a line break starts a new header (`Bcc:`), and the `email` package
  refuses it, which stopped every morning e-mail.

Typed files (XLSX) keep the literal text in a cell typed as text; untyped ones (CSV, and the
Parquet beside it that people load into spreadsheets) get a leading `'`, which spreadsheets
show as "this is text" (`formula_safe_text`). Numbers are numbers and are left alone.
"""

from __future__ import annotations

import re

import pandas as pd

# What a spreadsheet may read as the start of a formula (OWASP), with the full-width forms
# some locales' spreadsheets fold to them.
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
TEXT_MARK = "'"  # a leading apostrophe: "this cell is text" in every spreadsheet
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
# Line breaks and other control characters (C0, DEL, C1, Unicode line/paragraph separators).
_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f\x80-\x9f\u2028\u2029]+")


def looks_like_formula(text: str) -> bool:
    """True when a spreadsheet could take `text` for a formula (a plain number like -3 is not one)."""
    return text.startswith(FORMULA_TRIGGERS) and _NUMBER.fullmatch(text) is None


def formula_safe_text(values: pd.Series) -> pd.Series:
    """Text values that could start a formula, with a leading `'`; the rest unchanged (vectorised).

    For a text column (object or string dtype); missing values stay missing.
    """
    text = values.astype("string")
    risky = (text.str.startswith(FORMULA_TRIGGERS) & ~text.str.fullmatch(_NUMBER.pattern)).fillna(False)
    if not risky.any():
        return values
    return values.where(~risky.to_numpy(), TEXT_MARK + text)


def formula_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text columns are `formula_safe_text`; numeric, boolean and
    datetime columns keep their type and values (a negative number stays a number)."""
    safe = frame.copy()
    for name in safe.columns:
        column = safe[name]
        if pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype):
            safe[name] = formula_safe_text(column)
    return safe


def header_safe(value: str) -> str:
    """A mail header value on one line: every run of line breaks or control characters becomes
    one space (and a character UTF-8 cannot carry, a lone surrogate, a `?`), so a source value
    can neither start a header of its own nor make the message unbuildable."""
    encodable = str(value).encode("utf-8", "replace").decode("utf-8")
    return _HEADER_BREAKS.sub(" ", encodable).strip()
