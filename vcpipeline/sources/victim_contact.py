"""Victim contact log (VCL) → canonical contact events (acknowledgements, updates, VPS, outcomes)
and the victim's choices (a contact plan agreed, opting out, opting back in).

Native shapes and codes: docs/sources.md §2. Timestamps in this system are UTC already.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from vcpipeline.sources.common import (
    SOURCE_MODIFIED_COLUMN,
    canonical_frame,
    concat_canonical,
    constant,
    instants_text,
    map_codes,
    row_event_ids,
    text,
    victim_ids,
)
from vcpipeline.sources.config import SourceConfig

SYSTEM = "VCL"


def contact_event_types(contacts: pd.DataFrame, config: SourceConfig) -> pd.Series:
    """`contact_type`, or for `VPS` contacts the `vps_response`, as canonical event types.

    A VPS contact with an unknown response becomes `VPS/<response>`: not an event type, so
    validation quarantines it rather than it silently counting as an offer.
    """
    kind = text(contacts["contact_type"])
    by_type = map_codes(kind, config.codes("contact_type"))
    response = text(contacts["vps_response"])
    by_response = map_codes(response, config.codes("vps_response"))
    known_response = response.isin(list(config.codes("vps_response")))
    vps = by_response.where(known_response, "VPS/" + response)
    return vps.where(kind.str.upper() == "VPS", by_type)


def agreed_intervals(contacts: pd.DataFrame, event_types: pd.Series) -> pd.Series:
    """`update_interval` as typed, on contact agreements only (RULES.md: the column belongs to
    `CONTACT_AGREED`; on other contacts the log's leftover value means nothing). Never parsed
    here: validation quarantines a value that is not a whole number of days."""
    interval = text(contacts["update_interval"]) if "update_interval" in contacts.columns else (
        pd.Series("", index=contacts.index, dtype="string"))
    return interval.where(event_types == "CONTACT_AGREED", "")


def map_contacts(contacts: pd.DataFrame, config: SourceConfig) -> pd.DataFrame:
    event_types = contact_event_types(contacts, config)
    return canonical_frame("events", {
        "event_id": row_event_ids(f"{SYSTEM}-CON", contacts["contact_id"]),
        "crime_ref": contacts["crime_number"],
        "victim_id": victim_ids(contacts["crs_victim_no"]),
        "event_type": event_types,
        "occurred_at": instants_text(contacts["contacted_at"], "UTC"),
        "channel": map_codes(contacts["channel"], config.codes("channel")),
        "interval_days": agreed_intervals(contacts, event_types),
        "source_system": constant(SYSTEM, contacts),
        "source_row_id": contacts["contact_id"],
        SOURCE_MODIFIED_COLUMN: instants_text(contacts["modified_at"], "UTC"),
    }, contacts.index)


def to_canonical(native: Mapping[str, pd.DataFrame], config: SourceConfig) -> dict[str, pd.DataFrame]:
    frames = [map_contacts(native["contacts"], config)] if "contacts" in native else []
    return {"events": concat_canonical("events", frames)}
