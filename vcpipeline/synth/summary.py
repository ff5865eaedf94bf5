"""What the generated force really holds: on-time rates per department and rule, measured.

`vcp generate --summary` proves the calibration by measuring the rows it wrote (through the
real adapters), not by echoing its parameters. This is a calibration check, deliberately
small: usable events only (known crime and type, parseable, not before the report, not after
the extract; the latest delivery of each `event_id`), the six rules of RULES.md evaluated as of
the extract. The rule engine in `vcpipeline.rules` remains the contract for compliance figures.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from vcpipeline.calendar import due_instants, local_dates
from vcpipeline.canonical import DEPARTMENTS, EVENT_TYPES
from vcpipeline.parsing import parse_booleans, parse_instants, parse_integers

RULES: tuple[str, ...] = (
    "acknowledgement", "needs_referral", "investigation_update", "outcome_notification",
    "vps_offer", "vps_feedback",
)
ENHANCED_OFFENCES: frozenset[str] = frozenset({
    "homicide", "sexual_offence", "terrorism", "human_trafficking", "attempted_murder", "kidnap",
    "false_imprisonment", "arson_endangering_life", "gbh_with_intent",
})
UPDATE_TRIGGERS: frozenset[str] = frozenset({
    "SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED", "SUSPECT_RELEASED_NO_CHARGE", "SUSPECT_BAILED",
    "BAIL_CONDITIONS_CHANGED", "SUSPECT_CHARGED", "DECISION_NOT_TO_INVESTIGATE",
})
NOTIFIED_OUTCOMES = frozenset({*range(2, 20), 21, 22})
VCOP_2020_FROM = np.datetime64("2021-04-01")
SUMMARY_COLUMNS = ("department", "rule", "obligations", "decided", "met_on_time", "rate")


def _victims_in_scope(canonical: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per known victim: key, department, report instant, enhanced, rule set."""
    crimes = canonical["crimes"].drop_duplicates("crime_ref", keep="last")
    crimes = crimes.assign(
        reported=parse_instants(crimes["reported_at"]),
        crime_enhanced=(crimes["offence_category"].isin(list(ENHANCED_OFFENCES))
                        | parse_booleans(crimes["domestic_abuse"]).fillna(False)
                        | parse_booleans(crimes["hate_crime"]).fillna(False)).astype(bool),
    )
    crimes = crimes[crimes["reported"].notna() & crimes["department"].isin(list(DEPARTMENTS))]
    victims = canonical["victims"].drop_duplicates(["crime_ref", "victim_id"], keep="last")
    age = parse_integers(victims["age_at_report"])
    flags = [parse_booleans(victims[c]).fillna(False) for c in ("vulnerable", "intimidated", "persistently_targeted")]
    victims = victims.assign(victim_enhanced=((age < 18).fillna(False) | flags[0] | flags[1] | flags[2]).astype(bool))
    out = victims[["crime_ref", "victim_id", "victim_enhanced"]].merge(
        crimes[["crime_ref", "department", "reported", "crime_enhanced"]], on="crime_ref")
    out["enhanced"] = out["victim_enhanced"] | out["crime_enhanced"]
    out["vcop_2020"] = local_dates(out["reported"]) >= VCOP_2020_FROM
    out["key"] = out["crime_ref"] + "|" + out["victim_id"]
    return out[["key", "crime_ref", "victim_id", "department", "reported", "enhanced", "vcop_2020"]]


def _victim_events(events: pd.DataFrame, victims: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Usable events, one row per victim they concern (crime-level events go to every victim)."""
    events = events.assign(source_modified=parse_instants(events["source_modified_at"])) \
        if "source_modified_at" in events.columns else events.assign(source_modified=pd.NaT)
    events = events.sort_values("source_modified", kind="stable", na_position="first")
    events = events.drop_duplicates("event_id", keep="last")
    events = events.assign(at=parse_instants(events["occurred_at"]))
    events = events[events["event_type"].isin(list(EVENT_TYPES)) & events["at"].notna() & (events["at"] <= as_of)]
    columns = ["key", "department", "reported", "enhanced", "vcop_2020"]
    by_victim = events[events["victim_id"] != ""].merge(victims, on=["crime_ref", "victim_id"])
    by_crime = events[events["victim_id"] == ""].drop(columns="victim_id").merge(victims, on="crime_ref")
    both = pd.concat([by_victim, by_crime], ignore_index=True)
    both = both[both["at"] >= both["reported"]]
    return both[["event_id", "event_type", "at", "in_need", "outcome_code", "court_result", *columns]]


def _first(events: pd.DataFrame, types: set[str] | frozenset[str]) -> pd.Series:
    """The first time each victim (key) had an event of one of `types`."""
    return events[events["event_type"].isin(list(types))].groupby("key")["at"].min()


def _met_after(triggers: pd.DataFrame, events: pd.DataFrame, kind: str) -> pd.Series:
    """For each trigger, the first `kind` event of the same victim at or after it."""
    answers = events.loc[events["event_type"] == kind, ["key", "at"]].rename(columns={"at": "met"})
    left = triggers.reset_index().sort_values("at", kind="stable")
    joined = pd.merge_asof(left, answers.sort_values("met", kind="stable"), left_on="at",
                           right_on="met", by="key", direction="forward")
    return joined.set_index("index")["met"].reindex(triggers.index)


def _obligations(rule: str, frame: pd.DataFrame, met: pd.Series, n: np.ndarray | int,
                 unit: str | np.ndarray) -> pd.DataFrame:
    due = due_instants(frame["at"], n, unit)
    met_at = pd.DatetimeIndex(met) if len(frame) else pd.DatetimeIndex([], tz="UTC")
    return pd.DataFrame({"department": frame["department"].to_numpy(), "rule": rule,
                         "due": due, "met": met_at.tz_convert("UTC").as_unit("us")})


def obligations(canonical: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Every obligation of every victim (department, rule, due, met), as of `as_of`."""
    victims = _victims_in_scope(canonical)
    events = _victim_events(canonical["events"], victims, as_of)
    by_key = victims.set_index("key")
    reported = by_key.assign(at=by_key["reported"])
    parts = []

    met = _first(events, {"WRITTEN_ACKNOWLEDGEMENT"}).reindex(reported.index)
    parts.append(_obligations("acknowledgement", reported, met, 5, "working_days"))

    assessments = events[events["event_type"] == "NEEDS_ASSESSMENT"].sort_values("at", kind="stable")
    first_assessment = assessments.drop_duplicates("key").set_index("key")
    in_need = parse_booleans(first_assessment["in_need"]).fillna(False).astype(bool)
    referral = _first(events, {"SUPPORT_REFERRAL", "REFERRAL_DECLINED"}).reindex(first_assessment.index)
    met_need = first_assessment["at"].where(~in_need, np.maximum(first_assessment["at"], referral))
    met_need = met_need.where(~in_need | referral.notna())
    unit = np.where(reported["vcop_2020"], "working_days", "calendar_days")
    parts.append(_obligations("needs_referral", reported, met_need.reindex(reported.index), 2, unit))

    triggers = events[events["event_type"].isin(list(UPDATE_TRIGGERS))
                      | ((events["event_type"] == "SUSPECT_RELEASED_UNDER_INVESTIGATION") & events["vcop_2020"])]
    parts.append(_obligations("investigation_update", triggers, _met_after(triggers, events, "VICTIM_UPDATE"),
                              np.where(triggers["enhanced"], 1, 5), "working_days"))

    codes = parse_integers(events["outcome_code"])
    notifiable = ((events["event_type"] == "CRIME_FINALISED") & codes.isin(list(NOTIFIED_OUTCOMES)).fillna(False)) | (
        (events["event_type"] == "COURT_OUTCOME") & events["court_result"].isin(["SENTENCED", "ACQUITTED", "DISCONTINUED"]))
    outcomes = events[notifiable.astype(bool)]
    parts.append(_obligations("outcome_notification", outcomes,
                              _met_after(outcomes, events, "OUTCOME_COMMUNICATED"),
                              np.where(outcomes["enhanced"], 1, 5), "working_days"))

    charges = events[events["event_type"] == "SUSPECT_CHARGED"].sort_values("at", kind="stable")
    charges = charges.drop_duplicates("key")
    vps = _first(events, {"VPS_OFFERED", "VPS_TAKEN", "VPS_DECLINED"}).reindex(charges["key"])
    parts.append(_obligations("vps_offer", charges, vps, 5, "working_days"))

    used = events[events["event_type"] == "VPS_USED"]
    parts.append(_obligations("vps_feedback", used, _met_after(used, events, "VPS_USE_COMMUNICATED"),
                              np.where(used["enhanced"], 1, 5), "working_days"))

    out = pd.concat(parts, ignore_index=True)
    out["met"] = pd.to_datetime(out["met"], utc=True)
    out["due"] = pd.to_datetime(out["due"], utc=True)
    out.loc[out["met"] > as_of, "met"] = pd.NaT
    return out


def measured_rates(canonical: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> pd.DataFrame:
    """Per department and rule: obligations, those decided by `as_of`, met on time, and the rate.

    Decided = met, or past its deadline; rate = met on time / decided.
    """
    table = obligations(canonical, as_of)
    table["decided"] = table["met"].notna() | (table["due"] <= as_of)
    table["met_on_time"] = table["met"].notna() & (table["met"] < table["due"])
    grouped = table.groupby(["department", "rule"], sort=True).agg(
        obligations=("rule", "size"), decided=("decided", "sum"), met_on_time=("met_on_time", "sum"))
    grouped = grouped.reset_index()
    grouped["rate"] = (grouped["met_on_time"] / grouped["decided"].where(grouped["decided"] > 0)).round(4)
    return grouped[list(SUMMARY_COLUMNS)]


def rates_table(rates: pd.DataFrame) -> pd.DataFrame:
    """Departments × rules, rates as percentages: what `vcp generate --summary` prints."""
    wide = rates.pivot_table(index="department", columns="rule", values="rate", aggfunc="first")
    wide = wide.reindex(columns=list(RULES))
    return (wide * 100).round(1)


def canonical_rows(native: Mapping[str, Mapping[str, pd.DataFrame]], configs) -> dict[str, pd.DataFrame]:
    """The generated native frames run through the real adapters, as they would be read back."""
    from vcpipeline.sources import combine_canonical, to_canonical
    from vcpipeline.sources.readers import native_strings

    parts = []
    for config in configs:
        if config.name in native:
            tables = {name: native_strings(frame) for name, frame in native[config.name].items()}
            parts.append(to_canonical(tables, config))
    return combine_canonical(parts)
