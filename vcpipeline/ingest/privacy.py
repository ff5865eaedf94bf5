"""Personal data in the sources: which native columns hold it, and the raw rows we may keep.

The adapters never emit these columns, so they cannot reach the canonical tables. Quarantine is
the one place a native row is kept (so a fixed row can be replayed), and there we keep only the
columns the adapter reads minus these (an allow-list: a column a partner adds one day is not
kept either). docs/privacy.md says what is dropped where and which tests prove it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from vcpipeline.sources.config import SourceConfig
from vcpipeline.sources.readers import DROP_FILE_COLUMN

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
    """The native columns a quarantined row keeps: the suite's known columns, minus PII.

    The known columns are those the native suite expects (what the adapter reads) plus the drop
    file name and the CRS join column; anything else (a new partner column) is not kept.
    """
    from vcpipeline.ingest.extract import native_suite
    from vcpipeline.validation.suites import load_suite_dict

    suite = load_suite_dict(native_suite(config, table))
    known: set[str] = {DROP_FILE_COLUMN, "crime_recorded_at"}
    for expectation in suite["expectations"]:
        if expectation["type"] == "expect_table_columns_to_match_set":
            known.update(expectation["kwargs"]["column_set"])
    pii = pii_columns(config.name, table)
    return [name for name in columns if name in known and name not in pii]


def raw_rows(native: pd.DataFrame, config: SourceConfig, table: str,
             derived: pd.DataFrame | None = None) -> list[str]:
    """Each native row as JSON without personal data: `{"table", "row", "derived"}`.

    `derived` holds, per row, the values computed from personal data that replay must restore.
    Only quarantined rows pass through here (a few per cent), so a per-row dump is fine.
    """
    keep = kept_columns(config, table, native.columns)
    rows = native[keep].astype("string").fillna("").to_dict("records")
    extra = (derived.astype("string").fillna("").to_dict("records") if derived is not None
             else [{} for _ in rows])
    return [
        json.dumps({"table": table, "row": row, "derived": more}, ensure_ascii=False, sort_keys=True)
        for row, more in zip(rows, extra, strict=True)
    ]


def leaked_victim_details(sources_db: Path, folders: Sequence[Path]) -> set[str]:
    """The victims' names, phone numbers and postcodes (from the crime recording system) that
    appear in any file under `folders`: the demo's proof that no source PII reached an e-mail
    or report. Matching is by sets of candidate strings found in each file, not a scan per victim.
    """
    import re
    import sqlite3

    with sqlite3.connect(sources_db) as conn:
        rows = conn.execute("SELECT forename, surname, phone, postcode FROM victims").fetchall()
    names = {f"{forename} {surname}" for forename, surname, _, _ in rows}
    phones = {re.sub(r"\D", "", phone) for _, _, phone, _ in rows if phone}
    postcodes = {postcode for _, _, _, postcode in rows if postcode}
    found: set[str] = set()
    for folder in folders:
        for path in (p for p in Path(folder).rglob("*") if p.suffix in {".eml", ".html", ".csv", ".md"}):
            text = path.read_text(errors="replace")
            found |= names & set(re.findall(r"(?=\b([A-Z][\w'\-]+ [A-Z][\w'\-]+)\b)", text))
            found |= phones & {re.sub(r"\D", "", m) for m in re.findall(r"\+?[\d][\d ]{9,14}\d", text)}
            found |= postcodes & set(re.findall(r"\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b", text))
    return found
