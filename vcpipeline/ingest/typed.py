"""Validated canonical text rows as the warehouse's typed columns (instants, booleans, integers),
stamped with their extract time: what the runner and the replay upsert."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from vcpipeline.ingest.extract import NATIVE_POSITION
from vcpipeline.parsing import parse_booleans, parse_instants, parse_integers


def _without_nul(values: pd.Series) -> pd.Series:
    """Text without NUL characters, which PostgreSQL cannot store in text at all."""
    text = values.astype("string")
    has = text.str.contains("\x00", regex=False).fillna(False)
    return text.str.replace("\x00", "", regex=False) if has.any() else values


def typed_canonical(kind: str, frame: pd.DataFrame, extracted_at: datetime) -> pd.DataFrame:
    """Validated canonical string rows as the warehouse's typed columns, extract time stamped.

    Events are ordered by their source's modified time, so that where one batch holds an event
    twice (a correction), the loader's "last row per key" is the latest version.
    """
    out = frame.copy()
    for name in out.columns:
        if name != NATIVE_POSITION:
            out[name] = _without_nul(out[name])
    if kind == "crimes":
        out["reported_at"] = parse_instants(frame["reported_at"])
        for name in ("domestic_abuse", "hate_crime"):
            out[name] = parse_booleans(frame[name]).fillna(False)
    elif kind == "victims":
        out["age_at_report"] = parse_integers(frame["age_at_report"])
        for name in ("vulnerable", "intimidated", "persistently_targeted"):
            out[name] = parse_booleans(frame[name]).fillna(False)
    else:
        out["occurred_at"] = parse_instants(frame["occurred_at"])
        blank = frame["in_need"].astype("string").fillna("").str.strip() == ""
        out["in_need"] = parse_booleans(frame["in_need"]).mask(blank)
        finalised = (frame["event_type"].astype("string") == "CRIME_FINALISED").fillna(False).astype(bool)
        # validated on CRIME_FINALISED only (014 is 14); other events' outcome_code is not read
        out["outcome_code"] = parse_integers(frame["outcome_code"]).where(finalised)
        if "interval_days" in frame.columns:  # validated: digits 0-366 on CONTACT_AGREED, else empty
            out["interval_days"] = parse_integers(frame["interval_days"])
        modified = parse_instants(frame["source_modified_at"])
        order = np.argsort(modified.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT")),
                           kind="stable")
        out = out.iloc[order]
    out["extracted_at"] = pd.Series(pd.Timestamp(extracted_at).tz_convert("UTC"), index=out.index,
                                    dtype="datetime64[us, UTC]")
    return out
