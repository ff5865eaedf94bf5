"""The pure core of the incremental evaluation: frames in, frames out, no database.

A crime's obligations depend only on its own crime, victims and events and on the instant, and
`engine.evaluate` is correct for any subset of crimes. So a night re-evaluates only the crimes
whose obligations can have changed since the last evaluation (the store finds them, see
`rules/changes.py`), and rewrites only the rows that differ from the stored ones. This module
decides when a full evaluation is needed, which events the engine may use, the engine's result
as stored rows, and the difference between stored and new rows.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vcpipeline.canonical import STATUSES
from vcpipeline.rules.keys import positions_in, strings
from vcpipeline.rules.ruleset import RuleSets

# The stored obligation row: the contract's columns (version 2) plus the crime's department.
ROW_COLUMNS: tuple[str, ...] = (
    "crime_ref", "victim_id", "rule", "trigger_event_id", "trigger_at", "due_at", "met_at",
    "status", "enhanced", "rule_set", "department", "owner", "met_channel", "channel_as_agreed",
)
INSTANT_COLUMNS: tuple[str, ...] = ("trigger_at", "due_at", "met_at")


def rulesets_fingerprint(rulesets: RuleSets) -> str:
    """A digest of what the rule sets say (not where they came from): a change means the stored
    obligations were computed by other rules and must all be recomputed."""
    def rule_text(rule: Any) -> str:
        return repr({k: sorted(v) if isinstance(v, frozenset) else v for k, v in vars(rule).items()})

    text = repr([
        sorted(rulesets.enhanced_offence_categories),
        [(s.name, str(s.reported_from), str(s.reported_until), [rule_text(r) for r in s.rules])
         for s in rulesets.sets],
    ])
    return hashlib.sha256(text.encode()).hexdigest()


def full_evaluation_reason(*, requested: bool, last_fingerprint: str | None,
                           last_as_of: datetime | None, fingerprint: str,
                           as_of: datetime) -> str | None:
    """Why this evaluation must recompute everything, or None when an incremental one is right:
    asked for, the first time, other rule sets, or an as-of before the last one (a backfill)."""
    if requested:
        return "requested"
    if last_as_of is None:
        return "first evaluation"
    if last_fingerprint != fingerprint:
        return "rule sets changed"
    if as_of < last_as_of:
        return "as-of before the last evaluation's"
    return None


def usable_events(crimes_frame: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The events the data rules let the engine use: not before their crime was reported.

    The other data rules hold already in the warehouse (validated on load) or are applied by
    the engine itself (unknown crime or victim, unknown type, after the as-of instant).
    """
    crime = positions_in(events["crime_ref"], crimes_frame["crime_ref"])
    reported = pd.DatetimeIndex(crimes_frame["reported_at"]).as_unit("us").asi8
    occurred = pd.DatetimeIndex(events["occurred_at"]).as_unit("us").asi8
    known = crime >= 0
    early = np.zeros(len(events), dtype=bool)
    early[known] = occurred[known] < reported[crime[known]]
    return events[~early].reset_index(drop=True) if early.any() else events


def obligation_rows(result: pd.DataFrame) -> pd.DataFrame:
    """The engine's frame as stored rows: text keys ('' for a report-triggered rule's trigger
    event), categoricals as text (an empty `met_channel` as None), instants as they are,
    `channel_as_agreed` a nullable boolean."""
    def text(column: str) -> pd.Series:
        return result[column].astype("string").astype(object)

    met_channel = result["met_channel"].astype("string")

    return pd.DataFrame({
        "crime_ref": text("crime_ref"), "victim_id": text("victim_id"), "rule": text("rule"),
        "trigger_event_id": result["trigger_event_id"].astype("string").fillna("").astype(object),
        "trigger_at": result["trigger_at"], "due_at": result["due_at"], "met_at": result["met_at"],
        "status": text("status"), "enhanced": result["enhanced"].astype(bool),
        "rule_set": text("rule_set"), "department": text("department"), "owner": text("owner"),
        "met_channel": met_channel.mask(met_channel == "").astype(object),
        "channel_as_agreed": result["channel_as_agreed"].astype("boolean"),
    }, columns=list(ROW_COLUMNS))


def storage_order(rows: pd.DataFrame, crimes_frame: pd.DataFrame) -> np.ndarray:
    """The order to store obligation rows in: by their crime's report instant, then crime, so a
    crime's rows share a page or two and crimes reported together sit together (a night reads
    the recent ones). Stable: within a crime, as given."""
    crime = positions_in(rows["crime_ref"], crimes_frame["crime_ref"])
    reported = pd.DatetimeIndex(crimes_frame["reported_at"]).as_unit("us").asi8
    instant = np.where(crime >= 0, reported[np.maximum(crime, 0)], np.iinfo(np.int64).max)
    return np.lexsort((crime, instant))


def row_hashes(*frames: pd.DataFrame) -> list[np.ndarray]:
    """A 64-bit digest of each obligation row (every column of ROW_COLUMNS) of each frame: equal
    rows, equal digests. Text is coded through one Arrow dictionary over all frames, so only
    integers are hashed (several times faster than hashing Python strings)."""
    sizes = np.cumsum([0, *(len(frame) for frame in frames)])
    normal = {}
    for column in ROW_COLUMNS:
        parts = [frame[column] for frame in frames]
        if column in INSTANT_COLUMNS:
            normal[column] = np.concatenate([pd.DatetimeIndex(p).as_unit("us").asi8 for p in parts])
        elif column == "enhanced":
            normal[column] = np.concatenate([p.astype(bool).to_numpy() for p in parts]).astype(np.int64)
        elif column == "channel_as_agreed":  # NULL, false, true as -1, 0, 1
            flags = [p.astype("boolean") for p in parts]
            normal[column] = np.concatenate([
                np.where(f.isna().to_numpy(), -1, f.fillna(False).to_numpy(dtype=np.int64)) for f in flags])
        else:
            text = pa.chunked_array([strings(p).fill_null("") for p in parts], pa.large_string())
            normal[column] = pc.dictionary_encode(text).combine_chunks().indices.to_numpy()
    hashes = pd.util.hash_pandas_object(pd.DataFrame(normal), index=False).to_numpy()
    return [hashes[lo:hi] for lo, hi in pairwise(sizes)]


def row_changes(old: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(stored rows that are gone or different, new rows that are new or different)."""
    old_hash, new_hash = row_hashes(old, new)
    stale = old[~np.isin(old_hash, new_hash)]
    fresh = new[~np.isin(new_hash, old_hash)]
    return stale, fresh


def status_counts(statuses: pd.Series) -> dict[str, int]:
    counts = statuses.astype(str).value_counts()
    return {status: int(counts.get(status, 0)) for status in STATUSES}
