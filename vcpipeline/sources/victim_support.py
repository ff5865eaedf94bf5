"""Victim support referrals (VS, daily CSV drops) → canonical needs-assessment and referral events.

Native shapes and codes: docs/sources.md §3. The partner writes UK dates in local time and
names the client; the name stops here.
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
    map_codes,
    text,
    uk_instants_text,
    victim_ids,
)
from vcpipeline.sources.config import SourceConfig

SYSTEM = "VS"
LOCAL_TZ = LONDON  # the system writes London wall time
REQUIRED = ("Referral Ref", "Police Crime No", "Police Victim No", "Activity", "In Need",
            "Activity Date", "Last Updated")


def map_referrals(rows: pd.DataFrame, config: SourceConfig) -> pd.DataFrame:
    ref = text(rows["Referral Ref"])
    return canonical_frame("events", {
        "event_id": f"{SYSTEM}-REF-" + ref,
        "crime_ref": rows["Police Crime No"],
        "victim_id": victim_ids(rows["Police Victim No"]),
        "event_type": map_codes(rows["Activity"], config.codes("activity")),
        "occurred_at": uk_instants_text(rows["Activity Date"], LOCAL_TZ),
        "in_need": map_codes(rows["In Need"], config.codes("in_need")),
        "source_system": constant(SYSTEM, rows),
        "source_row_id": ref,
        SOURCE_MODIFIED_COLUMN: uk_instants_text(rows["Last Updated"], LOCAL_TZ),
    }, rows.index)


def to_canonical(native: Mapping[str, pd.DataFrame], config: SourceConfig) -> dict[str, pd.DataFrame]:
    frames = [map_referrals(frame, config) for frame in native.values() if len(frame)]
    return {"events": concat_canonical("events", frames)}
