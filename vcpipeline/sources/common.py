"""What every adapter does alike: map codes, turn native timestamps into UTC text, build ids.

Adapters emit string frames shaped like `parsing.read_canonical_folder` (dtype `string`, empty
string = missing), so validation treats a source extract and a canonical CSV folder the same
way. Nothing here drops a row: an unknown code or an unparseable timestamp is passed through
raw for validation to quarantine with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from vcpipeline.calendar import LONDON
from vcpipeline.canonical import (
    CRIME_COLUMNS,
    CRIME_OWNER_COLUMNS,
    EVENT_COLUMNS,
    LINEAGE_COLUMNS,
    OPTIONAL_EVENT_COLUMNS,
    OPTIONAL_VICTIM_COLUMNS,
    VICTIM_COLUMNS,
)
from vcpipeline.parsing import parse_instants

SOURCE_MODIFIED_COLUMN = "source_modified_at"

OUTPUT_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "crimes": CRIME_COLUMNS + CRIME_OWNER_COLUMNS + LINEAGE_COLUMNS,
    "victims": VICTIM_COLUMNS + OPTIONAL_VICTIM_COLUMNS + LINEAGE_COLUMNS,
    "events": EVENT_COLUMNS + OPTIONAL_EVENT_COLUMNS + LINEAGE_COLUMNS + (SOURCE_MODIFIED_COLUMN,),
}


def text(values: pd.Series) -> pd.Series:
    """Values as stripped strings, missing as the empty string."""
    return values.astype("string").fillna("").str.strip()


def constant(value: str, like: pd.Series | pd.DataFrame) -> pd.Series:
    return pd.Series(value, index=like.index, dtype="string")


def map_codes(values: pd.Series, codes: Mapping[str, str]) -> pd.Series:
    """Native codes to canonical values; an unknown code stays as it was (raw), empty stays empty."""
    raw = text(values)
    return raw.map(codes).astype("string").fillna(raw)


def format_utc(instants: pd.Series) -> pd.Series:
    """UTC instants as `YYYY-MM-DDTHH:MM:SSZ` text (NaT → empty)."""
    naive = instants.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    rendered = np.char.add(np.datetime_as_string(naive, unit="s"), "Z")
    out = pd.Series(rendered, index=instants.index, dtype="string")
    return out.where(instants.notna(), "")


def instants_text(values: pd.Series, local_tz: str = LONDON) -> pd.Series:
    """Native ISO-like timestamps (offset-less = `local_tz` wall time) as UTC text.

    Unparseable values are passed through raw so validation can quarantine them.
    """
    raw = text(values)
    parsed = parse_instants(raw, local_tz=local_tz)
    return format_utc(parsed).where(parsed.notna(), raw)


def uk_instants_text(values: pd.Series, local_tz: str = LONDON) -> pd.Series:
    """`dd/mm/yyyy HH:MM` local timestamps as UTC text; anything else passes through raw.

    The text is reordered into ISO 8601 and handed to `parse_instants`, so the zone rules
    (spring gap, autumn repeat) are the project's one implementation.
    """
    raw = text(values)
    shaped = raw.str.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}(?::\d{2})?", na=False)
    iso = (raw.str.slice(6, 10) + "-" + raw.str.slice(3, 5) + "-" + raw.str.slice(0, 2)
           + "T" + raw.str.slice(11))
    parsed = parse_instants(iso.where(shaped, ""), local_tz=local_tz)
    return format_utc(parsed).where(parsed.notna(), raw)


def victim_ids(victim_numbers: pd.Series) -> pd.Series:
    """The pseudonymous canonical `victim_id` for crime-system person numbers: `V` + 7 digits.

    Every adapter uses this, so one victim has one id whichever system mentions them.
    Empty stays empty (a crime-level event); a non-numeric value passes through raw.
    """
    raw = text(victim_numbers).str.replace(r"\.0$", "", regex=True)
    numeric = raw.str.fullmatch(r"\d+", na=False)
    return ("V" + raw.str.zfill(7)).where(numeric, raw)


def row_event_ids(prefix: str, row_ids: pd.Series) -> pd.Series:
    """Stable event ids from the source system and its row id, e.g. `CRS-INV-0000123`."""
    raw = text(row_ids)
    numeric = raw.str.fullmatch(r"\d+", na=False)
    return prefix + "-" + raw.str.zfill(7).where(numeric, raw)


def booleans_text(flags: pd.Series) -> pd.Series:
    return pd.Series(np.where(flags.to_numpy(dtype=bool), "true", "false"),
                     index=flags.index, dtype="string")


def canonical_frame(kind: str, columns: Mapping[str, pd.Series], index: pd.Index) -> pd.DataFrame:
    """A canonical output frame of `kind` with every expected column, in order (absent → empty)."""
    data = {
        name: (text(columns[name]) if name in columns else pd.Series("", index=index, dtype="string"))
        for name in OUTPUT_COLUMNS[kind]
    }
    return pd.DataFrame(data, index=index).reset_index(drop=True)


def empty_canonical(kind: str) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype="string") for name in OUTPUT_COLUMNS[kind]})


def concat_canonical(kind: str, frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return empty_canonical(kind)
    return pd.concat(frames, ignore_index=True)
