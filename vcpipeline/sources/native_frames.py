"""The shape every reader hands the adapters: string frames (missing = empty string), and the
columns that say where a row came from and why its values could not be kept.

A row a reader cannot take apart is not dropped and does not stop the file: it comes back
with its problem in `_row_problem` and is counted as extracted and quarantined — a CSV row whose
field count differs from the header's with every value blank (`ragged_row`: which value belongs
to which column is unknown), a SQL row holding bytes in a text column with that value blank
(`binary_value(<column>)`). docs/sources.md, "Malformed input", lists each case.
"""

from __future__ import annotations

import pandas as pd

DROP_FILE_COLUMN = "source_file"
# Where a drop row is in its file (filled for rows with a problem, whose values are not kept).
SOURCE_LINE_COLUMN = "source_line"
# Why the reader could not take a row apart ("" = it could): the row's values are blanked.
ROW_PROBLEM_COLUMN = "_row_problem"
RAGGED_ROW = "ragged_row"
BINARY_VALUE = "binary_value"
NATIVE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def native_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Any native frame as strings: integers without `.0`, datetimes ISO-like, missing = ''."""
    out = {}
    for name, column in frame.items():
        if pd.api.types.is_datetime64_any_dtype(column):
            rendered = column.dt.strftime(NATIVE_DATETIME_FORMAT)
        elif pd.api.types.is_float_dtype(column):
            whole = column.notna() & (column == column.round())
            rendered = column.astype("string").where(~whole, column.astype("Int64").astype("string"))
        else:
            rendered = column.astype("string")
        out[name] = rendered.fillna("")
    return pd.DataFrame(out, index=frame.index)
