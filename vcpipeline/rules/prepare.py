"""The data rules: from canonical text frames to typed rows the engine can trust, plus quarantine.

RULES.md "Data rules" (version 2): the later row of a repeated key replaces the earlier one, even
when it cannot be used (then the key is quarantined as a whole); a row that cannot be used is set
aside with a short, stable reason and counted, never guessed at; a ragged row (its field count is
not the header's) is quarantined and replaces nothing; rows dated after the as-of instant (events
after it, crimes reported after it with their victims and events) are left out and counted, not
quarantined: they have not happened yet. The first failing check gives the reason, in the order
the checks are listed below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vcpipeline.canonical import (
    CHANNELS,
    COURT_RESULTS,
    CRIME_COLUMNS,
    EVENT_COLUMNS,
    EVENT_TYPES,
    OPTIONAL_EVENT_COLUMNS,
    OUTCOME_CODES,
    VICTIM_COLUMNS,
)
from vcpipeline.errors import InputError
from vcpipeline.parsing import (
    RAGGED_FIELDS,
    parse_booleans,
    parse_instants,
    parse_whole_numbers,
)
from vcpipeline.rules.keys import duplicated_keep_last, is_in, positions_in

QUARANTINE_LEAD: tuple[str, ...] = ("file", "row_number")
# The union of the three files' columns, in CONTRACT.md's order (the quarantine file's middle).
CANONICAL_UNION: tuple[str, ...] = tuple(dict.fromkeys(
    (*CRIME_COLUMNS, *VICTIM_COLUMNS, *EVENT_COLUMNS, *OPTIONAL_EVENT_COLUMNS)))
_FILES = {"crimes": "crimes.csv", "victims": "victims.csv", "events": "events.csv"}
_SEP = "\x1f"  # joins crime_ref and victim_id into one key; never in an identifier
_MAX_AGE = 130
_MAX_INTERVAL_DAYS = 366


@dataclass(frozen=True)
class Prepared:
    """Typed, usable rows of each file; the quarantined rows with their reasons; the counts.

    `counts` has, per file (`crimes`, `victims`, `events`): `<file>_read`, `<file>_used`,
    `<file>_quarantined`, `<file>_superseded` (replaced by a later row with the same key),
    `<file>_after_as_of` (left out as not yet happened); and the totals `quarantined`,
    `superseded` and `after_as_of`.

    `events` carries, beside the canonical columns, `channel` (trimmed, lower case, '' when empty)
    and `interval_days` (nullable integer, only on `CONTACT_AGREED`).
    """

    crimes: pd.DataFrame
    victims: pd.DataFrame
    events: pd.DataFrame
    quarantine: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Sorted:
    """What the checks decided for each row of one file."""

    reasons: np.ndarray  # the quarantine reason, None for a usable row
    superseded: np.ndarray  # replaced by a later row with the same key
    after_as_of: np.ndarray  # left out: not yet happened as of the instant


def prepare(raw: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> Prepared:
    """Apply the data rules to `read_canonical_folder` output, as of the evaluation instant (an
    aware instant, converted where it entered: `vcp sla` reads it with `parse_instants`)."""
    as_of = pd.Timestamp(as_of)
    for name, columns in (("crimes", CRIME_COLUMNS), ("victims", VICTIM_COLUMNS), ("events", EVENT_COLUMNS)):
        if name not in raw:
            raise InputError(f"missing input: {_FILES[name]}")
        missing = [c for c in columns if c not in raw[name].columns]
        if missing:
            raise InputError(f"{_FILES[name]}: missing required column(s): {', '.join(missing)}")
    ragged = {name: _ragged(raw[name]) for name in _FILES}
    raw = {**raw, "events": _with_optional_columns(raw["events"])}

    crimes, crime_rows, crime_state = _crimes(raw["crimes"], as_of, ragged["crimes"])
    victims, victim_rows, victim_state = _victims(raw["victims"], crime_state, ragged["victims"])
    events, event_rows = _events(raw["events"], as_of, crime_state, victim_state, ragged["events"])

    counts: dict[str, int] = {}
    quarantined: list[pd.DataFrame] = []
    for name, rows in (("crimes", crime_rows), ("victims", victim_rows), ("events", event_rows)):
        bad = pd.notna(rows.reasons)
        counts[f"{name}_read"] = len(rows.reasons)
        counts[f"{name}_quarantined"] = int(bad.sum())
        counts[f"{name}_superseded"] = int(rows.superseded.sum())
        counts[f"{name}_after_as_of"] = int(rows.after_as_of.sum())
        counts[f"{name}_used"] = (len(rows.reasons) - counts[f"{name}_quarantined"]
                                  - counts[f"{name}_superseded"] - counts[f"{name}_after_as_of"])
        positions = np.flatnonzero(bad)
        original = raw[name].iloc[positions].astype("string").reset_index(drop=True)
        quarantined.append(pd.concat([
            pd.DataFrame({"file": _FILES[name], "row_number": positions + 1}),
            original,
            pd.DataFrame({"reason": rows.reasons[positions]}),
        ], axis=1))
    for total in ("quarantined", "superseded", "after_as_of"):
        counts[total] = sum(counts[f"{n}_{total}"] for n in _FILES)
    return Prepared(crimes, victims, events, _quarantine_frame(quarantined), counts)


def _with_optional_columns(events: pd.DataFrame) -> pd.DataFrame:
    """The events with every optional column (absent = empty)."""
    absent = [c for c in OPTIONAL_EVENT_COLUMNS if c not in events.columns]
    if not absent:
        return events
    return events.assign(**{c: pd.Series("", index=events.index, dtype="string") for c in absent})


def _quarantine_frame(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One frame for every file: file, row_number, the union of the files' columns in the contract's
    order (then any extra columns, as the files have them), all as text, and the reason."""
    columns = [*QUARANTINE_LEAD, *CANONICAL_UNION]
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


def _ragged(raw: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are ragged (`parsing.RAGGED_FIELDS`), and the reason for each of them."""
    fields = raw.attrs.get(RAGGED_FIELDS) or {}
    ragged = np.zeros(len(raw), dtype=bool)
    reasons = np.full(len(raw), None, dtype=object)
    for position, count in fields.items():
        ragged[position] = True
        reasons[position] = f"ragged row: {count} fields, the header has {raw.shape[1]}"
    return ragged, reasons


def _replaced(key: pd.Series, ragged: np.ndarray) -> np.ndarray:
    """Rows whose key appears again later in the file (a ragged row has no key: it replaces nothing)."""
    keyed = (key.fillna("") != "").to_numpy(dtype=bool) & ~ragged
    if ragged.any():
        key = key.mask(ragged)
    return duplicated_keep_last(key) & keyed


def _sort(checks: Sequence[tuple[np.ndarray | pd.Series, str]], ragged: tuple[np.ndarray, np.ndarray],
          superseded: np.ndarray, after_as_of: np.ndarray) -> _Sorted:
    """Each row is superseded, else ragged (quarantined), else after the as-of instant (left out),
    else quarantined with the first failing check's reason, else usable."""
    is_ragged, ragged_reasons = ragged
    after_as_of = after_as_of & ~superseded & ~is_ragged
    reasons = np.full(superseded.size, None, dtype=object)
    for failed, reason in reversed(checks):
        reasons[np.asarray(failed, dtype=bool)] = reason
    reasons[is_ragged] = ragged_reasons[is_ragged]
    reasons[superseded | after_as_of] = None
    return _Sorted(reasons, superseded, after_as_of)


def _used(rows: _Sorted) -> np.ndarray:
    return ~rows.superseded & ~rows.after_as_of & pd.isna(rows.reasons)


def _not_boolean(parsed: pd.Series) -> np.ndarray:
    return parsed.isna().to_numpy(dtype=bool)


def _crimes(raw: pd.DataFrame, as_of: pd.Timestamp, ragged: tuple[np.ndarray, np.ndarray]):
    ref = _clean(raw["crime_ref"])
    superseded = _replaced(ref, ragged[0])
    reported = parse_instants(raw["reported_at"])
    after = (reported.fillna(as_of) > as_of).to_numpy(dtype=bool)
    domestic = parse_booleans(raw["domestic_abuse"])
    hate = parse_booleans(raw["hate_crime"])
    rows = _sort([
        (ref == "", "crime_ref missing"),
        (reported.isna(), "reported_at missing or unparseable"),
        (_not_boolean(domestic), "domestic_abuse not a boolean"),
        (_not_boolean(hate), "hate_crime not a boolean"),
    ], ragged, superseded, after)
    used = _used(rows)
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
    keyed = (ref != "").to_numpy(dtype=bool) & ~ragged[0]
    state = {
        "known": ref[keyed].unique(),
        "after_as_of": ref[rows.after_as_of].unique(),
        "used": crimes["crime_ref"],
        "reported_at": crimes["reported_at"],
    }
    return crimes, rows, state


def _victims(raw: pd.DataFrame, crime_state: dict, ragged: tuple[np.ndarray, np.ndarray]):
    ref = _clean(raw["crime_ref"])
    victim = _clean(raw["victim_id"])
    named = ((ref != "") & (victim != "")).to_numpy(dtype=bool)
    key = (ref + _SEP + victim).mask(~named)
    superseded = _replaced(key, ragged[0])
    age_text = _clean(raw["age_at_report"])
    age = parse_whole_numbers(age_text, 0, _MAX_AGE)
    flags = {name: parse_booleans(raw[name]) for name in ("vulnerable", "intimidated", "persistently_targeted")}
    rows = _sort([
        (ref == "", "crime_ref missing"),
        (victim == "", "victim_id missing"),
        (~is_in(ref, crime_state["known"]), "unknown crime_ref"),
        (~is_in(ref, crime_state["used"]), "crime quarantined"),
        ((age_text != "") & age.isna(), f"age_at_report not a whole number 0-{_MAX_AGE}"),
        *((_not_boolean(parsed), f"{name} not a boolean") for name, parsed in flags.items()),
    ], ragged, superseded, is_in(ref, crime_state["after_as_of"]))
    used = _used(rows)
    victims = pd.DataFrame({
        "crime_ref": ref,
        "victim_id": victim,
        "age_at_report": age,
        **{name: parsed.fillna(False).astype(bool) for name, parsed in flags.items()},
    })
    extra = [c for c in raw.columns if c not in VICTIM_COLUMNS]
    victims = pd.concat([victims, raw[extra].astype("string")], axis=1).pipe(_keep, used)
    known = key[named & ~ragged[0]].unique()
    state = {"known": known, "known_used": is_in(known, victims["crime_ref"] + _SEP + victims["victim_id"])}
    return victims, rows, state


def _events(raw: pd.DataFrame, as_of: pd.Timestamp, crime_state: dict, victim_state: dict,
            ragged: tuple[np.ndarray, np.ndarray]):
    event_id = _clean(raw["event_id"])
    superseded = _replaced(event_id, ragged[0])
    ref = _clean(raw["crime_ref"])
    victim = _clean(raw["victim_id"])
    event_type = _clean(raw["event_type"])
    occurred = parse_instants(raw["occurred_at"])
    after = (occurred.fillna(as_of) > as_of).to_numpy(dtype=bool) | is_in(ref, crime_state["after_as_of"])
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
    # Read and validated only on the event type each field belongs to (ignored elsewhere).
    assessed = (event_type == "NEEDS_ASSESSMENT").to_numpy(dtype=bool)
    finalised = (event_type == "CRIME_FINALISED").to_numpy(dtype=bool)
    court_outcome = (event_type == "COURT_OUTCOME").to_numpy(dtype=bool)
    agreed = (event_type == "CONTACT_AGREED").to_numpy(dtype=bool)
    in_need = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    in_need[assessed] = parse_booleans(raw["in_need"][assessed])
    outcome = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    outcome[finalised] = parse_whole_numbers(raw["outcome_code"][finalised], OUTCOME_CODES.start,
                                             OUTCOME_CODES.stop - 1)
    interval_text = _clean(raw["interval_days"])
    interval = pd.Series(pd.NA, index=raw.index, dtype="Int64")
    interval[agreed] = parse_whole_numbers(interval_text[agreed], 0, _MAX_INTERVAL_DAYS)
    court = _clean(raw["court_result"])
    channel = _clean(raw["channel"]).str.lower()
    rows = _sort([
        (event_id == "", "event_id missing"),
        (~is_in(ref, crime_state["known"]), "unknown crime_ref"),
        (crime < 0, "crime quarantined"),
        (~is_in(event_type, sorted(EVENT_TYPES)), "unknown event_type"),
        (occurred.isna(), "occurred_at missing or unparseable"),
        (before_report, "occurred_at before the crime was reported"),
        (named & known_victim & ~used_victim, "victim quarantined"),
        (named & ~used_victim, "victim_id is not a victim of the crime"),
        (assessed & in_need.isna().to_numpy(), "in_need not a boolean"),
        (finalised & outcome.isna().to_numpy(), "outcome_code not 0-22"),
        (court_outcome & (court == "").to_numpy(dtype=bool), "court_result missing"),
        (court_outcome & ~is_in(court, sorted(COURT_RESULTS)), "court_result unknown"),
        (agreed & (interval_text != "").to_numpy(dtype=bool) & interval.isna().to_numpy(),
         f"interval_days not a whole number 0-{_MAX_INTERVAL_DAYS}"),
        (agreed & (channel != "").to_numpy(dtype=bool) & ~is_in(channel, sorted(CHANNELS)),
         "channel not one of " + "/".join(sorted(CHANNELS))),
    ], ragged, superseded, after)
    used = _used(rows)
    events = pd.DataFrame({
        "event_id": event_id,
        "crime_ref": ref,
        "victim_id": victim.mask(~named),
        "event_type": event_type,
        "occurred_at": occurred,
        "in_need": in_need,
        "outcome_code": outcome,
        "court_result": court.mask(court == ""),
        "channel": channel,
        "interval_days": interval,
    })
    extra = [c for c in raw.columns if c not in EVENT_COLUMNS and c not in OPTIONAL_EVENT_COLUMNS]
    events = pd.concat([events, raw[extra].astype("string")], axis=1).pipe(_keep, used)
    return events, rows
