"""Witness care unit (WCU, daily XLSX drops) → canonical court outcomes, VPS events, and the
updates and outcomes the unit gives victims after charge (with the method of contact).

Native shapes and codes: docs/sources.md §4. Witness names stop here.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from vcpipeline.instants import LONDON
from vcpipeline.sources.common import (
    SOURCE_MODIFIED_COLUMN,
    canonical_frame,
    concat_canonical,
    constant,
    instants_text,
    map_codes,
    row_event_ids,
    victim_ids,
)
from vcpipeline.sources.config import SourceConfig

SYSTEM = "WCU"
LOCAL_TZ = LONDON  # the system writes London wall time
REQUIRED = ("WCU ID", "Police Ref", "Witness ID", "Update Type", "Court Result", "Contact Method",
            "Event Date", "Last Modified")


def map_updates(rows: pd.DataFrame, config: SourceConfig) -> pd.DataFrame:
    return canonical_frame("events", {
        "event_id": row_event_ids(f"{SYSTEM}-UPD", rows["WCU ID"]),
        "crime_ref": rows["Police Ref"],
        "victim_id": victim_ids(rows["Witness ID"]),
        "event_type": map_codes(rows["Update Type"], config.codes("update_type")),
        "occurred_at": instants_text(rows["Event Date"], LOCAL_TZ),
        "court_result": map_codes(rows["Court Result"], config.codes("court_result")),
        "channel": map_codes(rows["Contact Method"], config.codes("contact_method")),
        "source_system": constant(SYSTEM, rows),
        "source_row_id": rows["WCU ID"],
        SOURCE_MODIFIED_COLUMN: instants_text(rows["Last Modified"], LOCAL_TZ),
    }, rows.index)


def to_canonical(native: Mapping[str, pd.DataFrame], config: SourceConfig) -> dict[str, pd.DataFrame]:
    frames = [map_updates(frame, config) for frame in native.values() if len(frame)]
    return {"events": concat_canonical("events", frames)}
