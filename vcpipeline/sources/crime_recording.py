"""Crime recording system (CRS) → canonical crimes, victims and investigation events.

Native shapes and codes: docs/sources.md §1. Victims' names, dates of birth, phones and
addresses stop here: only the pseudonymous `victim_id` and the age at report leave, with the
optional sex, ethnicity (self-defined code → ONS broad group) and disability for aggregated
breakdowns.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from vcpipeline.canonical import NOT_STATED, OPTIONAL_VICTIM_COLUMNS
from vcpipeline.instants import LONDON
from vcpipeline.sources.common import (
    SOURCE_MODIFIED_COLUMN,
    canonical_frame,
    concat_canonical,
    constant,
    empty_canonical,
    instants_text,
    map_codes,
    row_event_ids,
    text,
    victim_ids,
)
from vcpipeline.sources.config import SourceConfig

SYSTEM = "CRS"
# Victims rows carry their crime's report time, so a victim extracted without its crime
# (a later correction) still gets its age at report.
QUERIES: Mapping[str, str] = {
    "victims": (
        "SELECT v.*, c.recorded_at AS crime_recorded_at "
        "FROM victims v LEFT JOIN crimes c ON c.crime_no = v.crime_no"
    ),
}
LOCAL_TZ = LONDON


def map_crimes(crimes: pd.DataFrame, config: SourceConfig) -> pd.DataFrame:
    yes_no = config.codes("yes_no")
    return canonical_frame("crimes", {
        "crime_ref": crimes["crime_no"],
        "reported_at": instants_text(crimes["recorded_at"], LOCAL_TZ),
        "department": map_codes(crimes["reporting_unit"], config.codes("reporting_unit")),
        "offence_category": map_codes(crimes["offence_code"], config.codes("offence_code")),
        "domestic_abuse": map_codes(crimes["da_marker"], yes_no),
        "hate_crime": map_codes(crimes["hate_marker"], yes_no),
        "team": crimes["owning_team"],
        "officer_collar": crimes["oic_collar"],
        "witness_care_team": witness_care_teams(crimes, config),
        "source_system": constant(SYSTEM, crimes),
        "source_row_id": crimes["crime_id"],
    }, crimes.index)


def witness_care_teams(crimes: pd.DataFrame, config: SourceConfig) -> pd.Series:
    """The witness care team of each crime's court area (`court_area`, sources.toml).

    Routing data, not a Victims Code fact: an unknown or missing area is empty, and the
    witness care department's default lead gets that crime's alerts. Absent in an older
    extract: empty for every crime.
    """
    if "court_area" not in crimes.columns:
        return pd.Series("", index=crimes.index, dtype="string")
    teams = config.codes("court_area")
    return text(crimes["court_area"]).map(teams).astype("string").fillna("")


def ages_at(birth_dates: pd.Series, on_dates: pd.Series) -> pd.Series:
    """Whole years from each date of birth to each date (both `YYYY-MM-DD`); empty if either is unknown."""
    born = pd.to_datetime(text(birth_dates), format="%Y-%m-%d", errors="coerce")
    on = pd.to_datetime(text(on_dates), format="%Y-%m-%d", errors="coerce")
    known = born.notna() & on.notna() & (on >= born)
    b_year, o_year = born.dt.year.to_numpy(), on.dt.year.to_numpy()
    before_birthday = (on.dt.month.to_numpy() * 100 + on.dt.day.to_numpy()) < (
        born.dt.month.to_numpy() * 100 + born.dt.day.to_numpy())
    years = np.where(known, o_year - b_year - before_birthday, 0).astype(np.int64)
    ages = pd.Series(years, index=birth_dates.index).astype("string")
    return ages.where(known.to_numpy(), "")


def _report_local_dates(victims: pd.DataFrame, crimes: pd.DataFrame | None) -> pd.Series:
    """The local date each victim's crime was recorded, from the joined column or the crimes frame."""
    if "crime_recorded_at" in victims.columns:
        recorded = text(victims["crime_recorded_at"])
    elif crimes is not None and len(crimes):
        lookup = crimes.drop_duplicates("crime_no", keep="last").set_index("crime_no")["recorded_at"]
        recorded = text(victims["crime_no"]).map(lookup).astype("string").fillna("")
    else:
        recorded = pd.Series("", index=victims.index, dtype="string")
    return recorded.str.slice(0, 10)  # native local time: the date is its first ten characters


def victim_attributes(victims: pd.DataFrame, config: SourceConfig) -> dict[str, pd.Series]:
    """Sex, ethnicity and disability as canonical codes, from the native columns named in
    `sources.toml` (`victim_attribute_column`): absent column → empty (not recorded); an empty
    value or a code the mapping does not know → NOT_STATED. An unknown code must not quarantine
    the victim (their obligations stand whatever their recorded ethnicity); the native suite warns."""
    columns = config.mapping.get("victim_attribute_column", {})
    found = {}
    for attribute in OPTIONAL_VICTIM_COLUMNS:
        native = columns.get(attribute, "")
        if native not in victims.columns:
            continue
        mapped = text(victims[native]).str.upper().map(config.codes(attribute))
        found[attribute] = mapped.astype("string").fillna(NOT_STATED)
    return found


def map_victims(victims: pd.DataFrame, config: SourceConfig,
                crimes: pd.DataFrame | None = None) -> pd.DataFrame:
    markers = text(victims["markers"]).str.upper()
    flags = {}
    for code, flag in config.codes("marker").items():
        flags[flag] = markers.str.contains(rf"(?:^|;)\s*{code}\s*(?:;|$)", regex=True, na=False)
    return canonical_frame("victims", {
        "crime_ref": victims["crime_no"],
        "victim_id": victim_ids(victims["victim_no"]),
        "age_at_report": ages_at(victims["date_of_birth"], _report_local_dates(victims, crimes)),
        **{flag: values.map({True: "true", False: "false"}) for flag, values in flags.items()},
        **victim_attributes(victims, config),
        "source_system": constant(SYSTEM, victims),
        "source_row_id": victims["victim_no"],
    }, victims.index)


def _events(native: pd.DataFrame, prefix: str, row_id: str, columns: Mapping[str, pd.Series]) -> pd.DataFrame:
    return canonical_frame("events", {
        "event_id": row_event_ids(prefix, native[row_id]),
        "crime_ref": native["crime_no"],
        **columns,
        "source_system": constant(SYSTEM, native),
        "source_row_id": native[row_id],
        SOURCE_MODIFIED_COLUMN: instants_text(native["modified_at"], LOCAL_TZ),
    }, native.index)


def map_milestones(milestones: pd.DataFrame, config: SourceConfig) -> pd.DataFrame:
    return _events(milestones, f"{SYSTEM}-INV", "milestone_id", {
        "victim_id": victim_ids(milestones["victim_no"]),
        "event_type": map_codes(milestones["milestone_code"], config.codes("milestone_code")),
        "occurred_at": instants_text(milestones["milestone_at"], LOCAL_TZ),
    })


def map_finalisations(finalisations: pd.DataFrame) -> pd.DataFrame:
    return _events(finalisations, f"{SYSTEM}-FIN", "finalisation_id", {
        "event_type": constant("CRIME_FINALISED", finalisations),
        "occurred_at": instants_text(finalisations["finalised_at"], LOCAL_TZ),
        "outcome_code": finalisations["ho_outcome"],
    })


def map_crime_reports(crimes: pd.DataFrame) -> pd.DataFrame:
    """One CRIME_REPORTED event per crime (optional: the report time is on the crime already)."""
    return _events(crimes, f"{SYSTEM}-CRM", "crime_id", {
        "event_type": constant("CRIME_REPORTED", crimes),
        "occurred_at": instants_text(crimes["recorded_at"], LOCAL_TZ),
    })


def to_canonical(native: Mapping[str, pd.DataFrame], config: SourceConfig, *,
                 emit_crime_reported: bool = False) -> dict[str, pd.DataFrame]:
    """CRS tables (any subset of crimes, victims, milestones, finalisations) → canonical frames."""
    crimes = native.get("crimes")
    out = {
        "crimes": map_crimes(crimes, config) if crimes is not None else empty_canonical("crimes"),
        "victims": (map_victims(native["victims"], config, crimes) if "victims" in native
                    else empty_canonical("victims")),
    }
    events = []
    if "milestones" in native:
        events.append(map_milestones(native["milestones"], config))
    if "finalisations" in native:
        events.append(map_finalisations(native["finalisations"]))
    if emit_crime_reported and crimes is not None:
        events.append(map_crime_reports(crimes))
    out["events"] = concat_canonical("events", events)
    return out
