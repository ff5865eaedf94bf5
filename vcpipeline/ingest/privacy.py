"""Personal data in the sources: which native columns hold it, and the raw rows we may keep.

The adapters never emit these columns, so they cannot reach the canonical tables. Quarantine is
the one place a native row is kept (so a fixed row can be replayed), and there we keep only the
columns allow-listed per native table in `sources.toml` (`quarantine_keep`), never one of these:
a column a partner adds one day is not kept either. A kept column's value is kept only if it has
the shape declared for it, because a misaligned CSV row can shift a client's name into
`Police Victim No`; a value that does not fit is dropped and its column named under `dropped`.
docs/privacy.md says what is dropped where and which tests prove it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pandas as pd

from vcpipeline.sources.config import SourceConfig

# docs/sources.md, the columns marked "PII, dropped", per source and native table.
NATIVE_PII_COLUMNS: Mapping[str, Mapping[str, frozenset[str]]] = {
    "crime_recording": {
        "victims": frozenset({
            "forename", "surname", "date_of_birth", "phone", "address_line", "town", "postcode",
        }),
    },
    "victim_support": {"referrals": frozenset({"Client Name"})},
    "witness_care": {"WCU Updates": frozenset({"Witness Name"})},
}

# Values derived from personal data that the pipeline keeps (age at report, not the birth date):
# kept beside the raw row so a replay can restore them without the personal data.
DERIVED_FROM_PII: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "crime_recording": {"victims": ("age_at_report",)},
}


def pii_columns(source: str, table: str) -> frozenset[str]:
    """The personal-data columns of a native table (empty when it has none)."""
    return NATIVE_PII_COLUMNS.get(source, {}).get(table, frozenset())


def kept_columns(config: SourceConfig, table: str, columns: pd.Index) -> list[str]:
    """The native columns a quarantined row may keep: the table's allow-list in `sources.toml`
    (`quarantine_keep`) present in the frame, never a personal-data column."""
    allowed = config.quarantine_keep.get(table, {})
    pii = pii_columns(config.name, table)
    return [name for name in columns if name in allowed and name not in pii]


def kept_values(native: pd.DataFrame, config: SourceConfig, table: str
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(allow-listed values, which of them were dropped): a non-empty value that does not fully
    match its column's declared shape is blanked and flagged (vectorised, column by column)."""
    shapes = config.quarantine_keep.get(table, {})
    keep = kept_columns(config, table, native.columns)
    values = native[keep].astype("string").fillna("")
    dropped = pd.DataFrame(index=native.index)
    for column in keep:
        text = values[column]
        misfit = (text != "") & ~text.str.strip().str.fullmatch(shapes[column]).fillna(False)
        dropped[column] = misfit.to_numpy(dtype=bool)
        values[column] = text.where(~misfit, "")
    return values, dropped


def raw_rows(native: pd.DataFrame, config: SourceConfig, table: str,
             derived: pd.DataFrame | None = None) -> list[str]:
    """Each native row as JSON without personal data: `{"table", "row", "derived", "dropped"}`.

    `row` holds the allow-listed values that have their column's shape; `dropped` names the
    allow-listed columns whose value did not (the value itself is not kept). `derived` holds, per
    row, the values computed from personal data that replay must restore. Only quarantined rows
    pass through here (a few per cent), so a per-row dump is fine.
    """
    values, dropped = kept_values(native, config, table)
    rows = values.to_dict("records")
    names = np.array(dropped.columns, dtype=object)
    flags = dropped.to_numpy(dtype=bool)
    misfits = [names[row].tolist() for row in flags] if len(names) else [[] for _ in rows]
    extra = (derived.astype("string").fillna("").to_dict("records") if derived is not None
             else [{} for _ in rows])
    return [
        json.dumps({"table": table, "row": row, "derived": more, "dropped": gone},
                   ensure_ascii=False, sort_keys=True)
        for row, more, gone in zip(rows, extra, misfits, strict=True)
    ]

