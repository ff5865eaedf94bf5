"""The data rules: from canonical text frames to typed rows the engine can trust, plus quarantine.

RULES.md "Data rules": the latest extract of an event wins (in one CSV, the later row), and a row
that cannot be used is set aside with a short, stable reason and counted, never guessed at.
The first failing check gives the reason, in the order the checks are listed below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vcpipeline.canonical import (
    COURT_RESULTS,
    CRIME_COLUMNS,
    EVENT_COLUMNS,
    EVENT_TYPES,
    OUTCOME_CODES,
    VICTIM_COLUMNS,
)
from vcpipeline.parsing import InputError, parse_booleans, parse_instants, parse_integers
from vcpipeline.rules.keys import duplicated_keep_last, is_in, positions_in

QUARANTINE_LEAD: tuple[str, ...] = ("file", "row_number")
_FILES = {"crimes": "crimes.csv", "victims": "victims.csv", "events": "events.csv"}
_SEP = "\x1f"  # joins crime_ref and victim_id into one key; never in an identifier


@dataclass(frozen=True)
class Prepared:
    """Typed, usable rows of each file; the quarantined rows with their reasons; the counts.

    `counts` has, per file (`crimes`, `victims`, `events`): `<file>_read`, `<file>_used`,
    `<file>_quarantined`, `<file>_superseded`; and the totals `quarantined` and `superseded`.
    """

    crimes: pd.DataFrame
    victims: pd.DataFrame
    events: pd.DataFrame
    quarantine: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def prepare(raw: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> Prepared:
    """Apply the data rules to `read_canonical_folder` output, as of the evaluation instant."""
    as_of = pd.Timestamp(as_of)
    if as_of.tzinfo is None:
        raise InputError("as-of instant must carry a time zone")
    as_of = as_of.tz_convert("UTC")
    for name, columns in (("crimes", CRIME_COLUMNS), ("victims", VICTIM_COLUMNS), ("events", EVENT_COLUMNS)):
        if name not in raw:
            raise InputError(f"missing input: {_FILES[name]}")
        missing = [c for c in columns if c not in raw[name].columns]
        if missing:
            raise InputError(f"{_FILES[name]}: missing required column(s): {', '.join(missing)}")

    crimes, crime_reasons, crime_superseded, crime_state = _crimes(raw["crimes"], as_of)
    victims, victim_reasons, victim_superseded, victim_state = _victims(raw["victims"], crime_state)
    events, event_reasons, event_superseded = _events(raw["events"], as_of, crime_state, victim_state)

    counts: dict[str, int] = {}
    quarantined: list[pd.DataFrame] = []
    for name, reasons, superseded in (
        ("crimes", crime_reasons, crime_superseded),
        ("victims", victim_reasons, victim_superseded),
        ("events", event_reasons, event_superseded),
    ):
        bad = pd.notna(reasons)
        counts[f"{name}_read"] = len(reasons)
        counts[f"{name}_quarantined"] = int(bad.sum())
        counts[f"{name}_superseded"] = int(superseded.sum())
        counts[f"{name}_used"] = len(reasons) - int(bad.sum()) - int(superseded.sum())
        rows = np.flatnonzero(bad)
        original = raw[name].iloc[rows].astype("string").reset_index(drop=True)
        quarantined.append(pd.concat([
            pd.DataFrame({"file": _FILES[name], "row_number": rows + 1}),
            original,
            pd.DataFrame({"reason": reasons[rows]}),
        ], axis=1))
    counts["quarantined"] = sum(counts[f"{n}_quarantined"] for n in _FILES)
    counts["superseded"] = sum(counts[f"{n}_superseded"] for n in _FILES)
    return Prepared(crimes, victims, events, _quarantine_frame(quarantined), counts)


def _quarantine_frame(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One frame for every file: file, row_number, the union of original columns as text, reason."""
    columns = list(QUARANTINE_LEAD)
    for part in parts:
        columns += [c for c in part.columns if c not in columns and c != "reason"]
    columns.append("reason")
    frame = pd.concat([p.reindex(columns=columns) for p in parts], ignore_index=True)
    text = [c for c in columns if c not in ("row_number",)]
    frame[text] = frame[text].astype("string").fillna("")
    frame["row_number"] = frame["row_number"].astype("int64")
    return frame


def _keep(frame: pd.DataFrame, used: np.ndarray) -> pd.DataFrame:
    """The usable rows, renumbered (no copy of the columns when every row is usable)."""
    return frame.reset_index(drop=True) if used.all() else frame[used].reset_index(drop=True)


def _clean(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna("").str.strip()


def _first_reason(checks: Sequence[tuple[np.ndarray | pd.Series, str]], skip: np.ndarray) -> np.ndarray:
    """The first failing check's reason for each row (None when every check passes or `skip`)."""
    reasons = np.full(skip.size, None, dtype=object)
    for failed, reason in reversed(checks):
        reasons[np.asarray(failed, dtype=bool)] = reason
    reasons[skip] = None
    return reasons


def _not_boolean(parsed: pd.Series) -> np.ndarray:
    return parsed.isna().to_numpy(dtype=bool)


def _crimes(raw: pd.DataFrame, as_of: pd.Timestamp):
    ref = _clean(raw["crime_ref"])
    superseded = duplicated_keep_last(ref) & (ref != "").to_numpy(dtype=bool)
    reported = parse_instants(raw["reported_at"])
    domestic = parse_booleans(raw["domestic_abuse"])
    hate = parse_booleans(raw["hate_crime"])
    reasons = _first_reason([
        (ref == "", "crime_ref missing"),
        (reported.isna(), "reported_at missing or unparseable"),
        (reported.fillna(as_of) > as_of, "reported_at after as-of"),
        (_not_boolean(domestic), "domestic_abuse not a boolean"),
        (_not_boolean(hate), "hate_crime not a boolean"),
    ], superseded)
    used = ~superseded & pd.isna(reasons)
    crimes = pd.DataFrame({
        "crime_ref": ref,
        "reported_at": reported,
        "department": _clean(raw["department"]),
        "offence_category": _clean(raw["offence_category"]),
        "domestic_abuse": domestic.fillna(False).astype(bool),
        "hate_crime": hate.fillna(False).astype(bool),
    })
    extra = [c for c in raw.columns if c not in CRIME_COLUMNS]
    crimes = pd.concat([crimes, raw[extra].astype("string")], axis=1).pipe(_keep, used)
    state = {
        "known": ref[ref != ""].unique(),
        "used": crimes["crime_ref"],
        "reported_at": crimes["reported_at"],
    }
    return crimes, reasons, superseded, state


def _victims(raw: pd.DataFrame, crime_state: dict):
    ref = _clean(raw["crime_ref"])
    victim = _clean(raw["victim_id"])
    key = ref + _SEP + victim
    superseded = duplicated_keep_last(key) & ((ref != "") & (victim != "")).to_numpy(dtype=bool)
    age_text = _clean(raw["age_at_report"])
    age = parse_integers(age_text)
    flags = {name: parse_booleans(raw[name]) for name in ("vulnerable", "intimidated", "persistently_targeted")}
    reasons = _first_reason([
        (ref == "", "crime_ref missing"),
        (victim == "", "victim_id missing"),
        (~is_in(ref, crime_state["known"]), "unknown crime_ref"),
        (~is_in(ref, crime_state["used"]), "crime quarantined"),
        ((age_text != "") & ~(age >= 0).fillna(False), "age_at_report not a whole number"),
        *((_not_boolean(parsed), f"{name} not a boolean") for name, parsed in flags.items()),
    ], superseded)
    used = ~superseded & pd.isna(reasons)
    victims = pd.DataFrame({
        "crime_ref": ref,
        "victim_id": victim,
        "age_at_report": age,
        **{name: parsed.fillna(False).astype(bool) for name, parsed in flags.items()},
    })
    extra = [c for c in raw.columns if c not in VICTIM_COLUMNS]
    victims = pd.concat([victims, raw[extra].astype("string")], axis=1).pipe(_keep, used)
    known = key[(ref != "") & (victim != "")].unique()
    state = {"known": known, "known_used": is_in(known, victims["crime_ref"] + _SEP + victims["victim_id"])}
    return victims, reasons, superseded, state


def _events(raw: pd.DataFrame, as_of: pd.Timestamp, crime_state: dict, victim_state: dict):
    event_id = _clean(raw["event_id"])
    superseded = duplicated_keep_last(event_id) & (event_id != "").to_numpy(dtype=bool)
    ref = _clean(raw["crime_ref"])
    victim = _clean(raw["victim_id"])
    event_type = _clean(raw["event_type"])
    occurred = parse_instants(raw["occurred_at"])
    crime = positions_in(ref, crime_state["used"])
    reported = pd.DatetimeIndex(crime_state["reported_at"]).as_unit("us").asi8
    occurred_us = pd.DatetimeIndex(occurred).as_unit("us").asi8
    before_report = (crime >= 0) & occurred.notna().to_numpy() & (
        occurred_us < reported[np.maximum(crime, 0)] if reported.size else False)
    named = (victim != "").to_numpy(dtype=bool)
    key = ref + _SEP + victim
    victim_row = positions_in(key, victim_state["known"])  # one hash pass answers both questions
    known_victim = victim_row >= 0
    used_victim = known_victim.copy()
    used_victim[known_victim] = victim_state["known_used"][victim_row[known_victim]]
    # Parsed only where the event type gives the field a meaning (it is ignored elsewhere).
    assessed = (event_type == "NEEDS_ASSESSMENT").to_numpy(dtype=bool)
    finalised = (event_type == "CRIME_FINALISED").to_numpy(dtype=bool)
    in_need = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    in_need[assessed] = parse_booleans(raw["in_need"][assessed])
    outcome = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    outcome[finalised] = parse_integers(raw["outcome_code"][finalised])
    court = _clean(raw["court_result"])
    reasons = _first_reason([
        (event_id == "", "event_id missing"),
        (~is_in(ref, crime_state["known"]), "unknown crime_ref"),
        (crime < 0, "crime quarantined"),
        (~is_in(event_type, sorted(EVENT_TYPES)), "unknown event_type"),
        (occurred.isna(), "occurred_at missing or unparseable"),
        (occurred.fillna(as_of) > as_of, "occurred_at after as-of"),
        (before_report, "occurred_at before the crime was reported"),
        (named & known_victim & ~used_victim, "victim quarantined"),
        (named & ~used_victim, "victim_id is not a victim of the crime"),
        (assessed & in_need.isna().to_numpy(), "in_need not a boolean"),
        (finalised & ~outcome.isin(list(OUTCOME_CODES)).to_numpy(dtype=bool, na_value=False),
         "outcome_code not 0-22"),
        ((event_type == "COURT_OUTCOME").to_numpy(dtype=bool) & ~is_in(court, sorted(COURT_RESULTS)),
         "court_result unknown"),
    ], superseded)
    used = ~superseded & pd.isna(reasons)
    events = pd.DataFrame({
        "event_id": event_id,
        "crime_ref": ref,
        "victim_id": victim.mask(~named),
        "event_type": event_type,
        "occurred_at": occurred,
        "in_need": in_need,
        "outcome_code": outcome,
        "court_result": court.mask(court == ""),
        "channel": _clean(raw["channel"]).replace("", pd.NA),
    })
    extra = [c for c in raw.columns if c not in EVENT_COLUMNS]
    events = pd.concat([events, raw[extra].astype("string")], axis=1).pipe(_keep, used)
    return events, reasons, superseded
