"""Evaluate the Victims Code obligations of every victim as of an instant (RULES.md).

The design is one sorted stream, not a loop over victims. Every event that matters to a rule
is expanded to the victims it applies to (a crime-level event to every victim of its crime),
the crime report is added as a pseudo-event, and the stream is sorted once by (victim, time).
Victims are numbered rule set by rule set, so each rule set is a contiguous block of the
stream. Then "the first meeting event at or after the trigger" is, for every position at once,
a reversed running minimum over the positions of meeting events: no per-row Python anywhere.

`evaluate` only ever sees events with `occurred_at <= as_of`, and it is correct for any subset
of crimes given with all their victims and events, so the warehouse can call it incrementally.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vcpipeline.calendar import (
    add_calendar_days,
    add_working_days,
    local_dates,
    next_working_day,
    start_of_local_day,
)
from vcpipeline.canonical import COURT_RESULTS, EVENT_TYPES, OBLIGATION_COLUMNS, STATUSES
from vcpipeline.rules.keys import (
    codes,
    duplicated_keep_last,
    is_in,
    labelled,
    positions_in,
    strings,
    utc_text,
    write_csv,
)
from vcpipeline.rules.ruleset import Rule, RuleSets

CRIME_REPORT = "<crime report>"  # pseudo event type: the crime report as a trigger
EVENT_TYPE_CODES: tuple[str, ...] = (*sorted(EVENT_TYPES), CRIME_REPORT)
_REPORT = len(EVENT_TYPE_CODES) - 1
_COURT_RESULTS: tuple[str, ...] = tuple(sorted(COURT_RESULTS))
_NAT = np.iinfo(np.int64).min  # NaT as int64
_MET, _MET_LATE, _BREACHED, _PENDING = (STATUSES.index(s) for s in ("MET", "MET_LATE", "BREACHED", "PENDING"))

# The obligation frame: the contract columns plus the crime's department for summaries.
RESULT_COLUMNS: tuple[str, ...] = (*OBLIGATION_COLUMNS, "department")
SORT_COLUMNS: tuple[str, ...] = ("crime_ref", "victim_id", "rule", "trigger_at", "trigger_event_id")


@dataclass(frozen=True)
class _Victims:
    """The victims numbered 0..n-1 by (rule set, crime): each crime's victims are contiguous."""

    crime_ref: pa.Array          # of each numbered victim
    victim_id: pa.Array
    department: pd.Categorical   # of each numbered victim's crime
    crime: np.ndarray            # crime number of each victim
    reported_us: np.ndarray      # the crime report instant (int64 µs UTC)
    enhanced: np.ndarray         # bool
    ruleset: np.ndarray          # int index into rulesets.sets
    crime_refs: pa.Array         # crime_ref of each crime number
    crime_first: np.ndarray      # first victim number of each crime
    crime_count: np.ndarray      # number of victims of each crime
    set_first: np.ndarray        # first victim number of each rule set, plus n at the end


@dataclass(frozen=True)
class _Stream:
    """Every (victim, event) pair that can trigger or meet a rule, sorted by (victim, time)."""

    victim: np.ndarray       # int64 victim number
    time: np.ndarray         # int64 µs UTC
    kind: np.ndarray         # int8 index into EVENT_TYPE_CODES
    event: np.ndarray        # int64 row of the events frame; -1 for the crime report
    in_need: np.ndarray      # int8 1 when a NEEDS_ASSESSMENT found the victim in need
    outcome: np.ndarray      # int8 Home Office outcome code, -1 if none
    court: np.ndarray        # int8 index into _COURT_RESULTS, -1 if none
    tie_start: np.ndarray    # first position with the same (victim, time): "at or after"
    victim_start: np.ndarray  # first position of the same victim: "at any time"

    def block(self, lo: int, hi: int) -> _Stream:
        """Positions lo..hi-1 as a stream of their own (views, positions renumbered from 0)."""
        return _Stream(
            self.victim[lo:hi], self.time[lo:hi], self.kind[lo:hi], self.event[lo:hi],
            self.in_need[lo:hi], self.outcome[lo:hi], self.court[lo:hi],
            self.tie_start[lo:hi] - lo, self.victim_start[lo:hi] - lo,
        )


def evaluate(crimes: pd.DataFrame, victims: pd.DataFrame, events: pd.DataFrame,
             as_of: pd.Timestamp, rulesets: RuleSets) -> pd.DataFrame:
    """One row per obligation existing as of `as_of` (RESULT_COLUMNS), in no particular order.

    Takes typed frames as `prepare` returns them: instants tz-aware, flags boolean, ages and
    outcome codes integers, a blank or missing `victim_id` on a crime-level event. Victims and
    events of crimes not in `crimes` are ignored; events after `as_of` do not exist.
    Timestamps come back as datetime64[us, UTC]; ids as strings (`trigger_event_id` <NA> for the
    crime-report rules); `rule`, `status`, `rule_set` and `department` as categoricals.
    """
    as_of_us = _instant_us(as_of)
    table = _number_victims(crimes, victims, rulesets)
    stream = _event_stream(table, events, as_of_us, rulesets)
    rule_names = rulesets.rule_names()
    parts: list[dict[str, np.ndarray]] = []
    for set_index, ruleset in enumerate(rulesets.sets):
        lo, hi = np.searchsorted(stream.victim, table.set_first[set_index:set_index + 2])
        block = stream.block(int(lo), int(hi))
        for rule in ruleset.rules:
            found = _obligations_of(rule, block)
            if found["victim"].size:
                found["rule"] = np.full(found["victim"].size, rule_names.index(rule.name), np.int16)
                found["due"] = _due_us(rule, found["time"], table.enhanced[found["victim"]])
                parts.append(found)
    return _obligation_frame(parts, table, events, as_of_us, rulesets)


def at_risk(obligations: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """True for PENDING obligations due on A's local date or by the next working day after it.

    The due date is the local date before `due_at`. Dates between A's date and the next working
    day (a weekend, for a calendar-day deadline) count as at risk too: they fall due sooner.
    """
    pending = (obligations["status"] == "PENDING").to_numpy(dtype=bool)
    due_at = pd.DatetimeIndex(obligations["due_at"])
    due_date = local_dates(due_at) - np.timedelta64(1, "D")
    today = local_dates(pd.DatetimeIndex([_utc(as_of)]))
    horizon = next_working_day(today)[0]
    risky = pending & (due_date >= today[0]) & (due_date <= horizon)
    return pd.Series(risky, index=obligations.index, name="at_risk")


def sort_obligations(obligations: pd.DataFrame) -> pd.DataFrame:
    """The contract order: crime_ref, victim_id, rule, trigger_at, trigger_event_id as byte strings."""
    return obligations.iloc[_contract_order(obligations)]


def obligations_csv_bytes(obligations: pd.DataFrame) -> bytes:
    """`obligations.csv` exactly as the contract says: its columns, order, text and LF endings."""
    buffer = io.BytesIO()
    _write_obligations(obligations, buffer)
    return buffer.getvalue()


def write_obligations_csv(obligations: pd.DataFrame, file: Path | str | IO[str] | IO[bytes]) -> None:
    """`obligations.csv` to a path, a text stream (stdout) or a binary stream."""
    if isinstance(file, str | Path):
        with Path(file).open("wb") as sink:
            _write_obligations(obligations, sink)
    elif getattr(file, "buffer", None) is not None:  # a real text stream, e.g. sys.stdout
        file.flush()
        _write_obligations(obligations, file.buffer)
        file.buffer.flush()
    elif isinstance(file, io.TextIOBase):
        file.write(obligations_csv_bytes(obligations).decode("utf-8"))
    else:
        _write_obligations(obligations, file)


def _write_obligations(obligations: pd.DataFrame, sink: IO[bytes]) -> None:
    order = _contract_order(obligations)
    taken = pa.array(order)
    columns: dict[str, pa.Array] = {}
    for column in OBLIGATION_COLUMNS:
        values = obligations[column]
        if column in ("trigger_at", "due_at", "met_at"):
            columns[column] = utc_text(_instants_us(values)[order])
        elif column == "enhanced":
            columns[column] = labelled(values.to_numpy(dtype=bool)[order].astype(np.int8), ("false", "true"))
        elif isinstance(values.dtype, pd.CategoricalDtype):
            columns[column] = labelled(values.cat.codes.to_numpy()[order], values.cat.categories.astype(str))
        else:
            columns[column] = strings(values).take(taken)
    write_csv(columns, sink)


def _contract_order(obligations: pd.DataFrame) -> np.ndarray:
    keys = pa.table({
        "crime_ref": strings(obligations["crime_ref"]).fill_null(""),
        "victim_id": strings(obligations["victim_id"]).fill_null(""),
        "rule": strings(obligations["rule"]),
        "trigger_at": _instants_us(obligations["trigger_at"]),
        "trigger_event_id": strings(obligations["trigger_event_id"]).fill_null(""),
    })
    order = pc.sort_indices(keys, sort_keys=[(c, "ascending") for c in SORT_COLUMNS])
    return order.to_numpy()


# ----------------------------------------------------------------------------- building blocks

def _utc(instant: pd.Timestamp | str) -> pd.Timestamp:
    stamp = pd.Timestamp(instant)
    if stamp.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return stamp.tz_convert("UTC")


def _instant_us(instant: pd.Timestamp | str) -> int:
    return int(pd.DatetimeIndex([_utc(instant)]).as_unit("us").asi8[0])


def _instants_us(values: pd.Series) -> np.ndarray:
    """Tz-aware instants as int64 µs since the epoch (NaT as _NAT)."""
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        raise ValueError("instants must be timezone-aware")
    return index.tz_convert("UTC").as_unit("us").asi8


def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _number_victims(crimes: pd.DataFrame, victims: pd.DataFrame, rulesets: RuleSets) -> _Victims:
    """Number the victims of known crimes by (rule set, crime) and say who is enhanced."""
    reported = _instants_us(crimes["reported_at"])
    usable = (reported != _NAT) & ~duplicated_keep_last(crimes["crime_ref"])
    crimes, reported = crimes[usable], reported[usable]
    crime_refs = strings(crimes["crime_ref"])
    report_dates = local_dates(pd.DatetimeIndex(reported.view("datetime64[us]")).tz_localize("UTC"))
    starts = np.array([np.datetime64(s.reported_from, "D") for s in rulesets.sets[1:]],
                      dtype="datetime64[D]")
    crime_set = np.searchsorted(starts, report_dates, side="right")
    crime_enhanced = (
        is_in(crimes["offence_category"], sorted(rulesets.enhanced_offence_categories))
        | _flag(crimes, "domestic_abuse") | _flag(crimes, "hate_crime")
    )

    crime = positions_in(victims["crime_ref"], crime_refs)
    known = np.flatnonzero(crime >= 0)
    crime = crime[known]
    # The latest row of a repeated (crime, victim) wins.
    id_codes = codes(victims["victim_id"].iloc[known])
    latest = ~pd.Series(crime * (id_codes.max(initial=0) + 1) + id_codes).duplicated(keep="last").to_numpy()
    known, crime = known[latest], crime[latest]
    order = np.lexsort((crime, crime_set[crime]))
    rows, crime = known[order], crime[order]
    chosen = victims.iloc[rows]

    age = pd.to_numeric(chosen["age_at_report"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    enhanced = (
        (age < 18) | _flag(chosen, "vulnerable") | _flag(chosen, "intimidated")
        | _flag(chosen, "persistently_targeted") | crime_enhanced[crime]
    )
    count = np.bincount(crime, minlength=len(crime_refs))
    first = np.zeros(len(crime_refs), dtype=np.int64)
    new_crime = np.ones(crime.size, dtype=bool)
    new_crime[1:] = crime[1:] != crime[:-1]
    first[crime[new_crime]] = np.flatnonzero(new_crime)  # each crime's victims are contiguous
    victim_set = crime_set[crime]
    set_first = np.searchsorted(victim_set, np.arange(len(rulesets.sets) + 1))
    department_code, departments = pd.factorize(crimes["department"], sort=True, use_na_sentinel=True)
    department = pd.Categorical.from_codes(department_code[crime], categories=departments.astype(str))
    return _Victims(strings(chosen["crime_ref"]), strings(chosen["victim_id"]), department, crime, reported[crime], enhanced, victim_set, crime_refs, first, count,
                    set_first)


def _event_stream(table: _Victims, events: pd.DataFrame, as_of_us: int, rulesets: RuleSets) -> _Stream:
    """The events (up to as_of) that some rule uses, one row per victim they apply to, sorted."""
    used = np.zeros(len(EVENT_TYPE_CODES), dtype=bool)
    for ruleset in rulesets.sets:
        for rule in ruleset.rules:
            for name in rule.trigger_events | rule.met_by | rule.referral_events:
                used[EVENT_TYPE_CODES.index(name)] = True
    kind = positions_in(events["event_type"], EVENT_TYPE_CODES[:-1]).astype(np.int8)
    time = _instants_us(events["occurred_at"])
    keep = (kind >= 0) & (time != _NAT) & (time <= as_of_us)
    keep[keep] = used[kind[keep]]
    rows = np.flatnonzero(keep)
    crime = positions_in(strings(events["crime_ref"]).take(pa.array(rows)), table.crime_refs)
    rows, crime = rows[crime >= 0], crime[crime >= 0]

    victim_ids = strings(events["victim_id"]).take(pa.array(rows)).fill_null("")
    crime_level = pc.equal(victim_ids, "").to_numpy(zero_copy_only=False)
    # Victim-level events: (crime, victim_id) -> victim number, through integer keys.
    known_ids = pc.unique(table.victim_id)
    width = len(known_ids) + 1
    victim_keys = pd.Index(table.crime * width + positions_in(table.victim_id, known_ids))
    own = np.flatnonzero(~crime_level)
    id_code = positions_in(victim_ids.take(pa.array(own)), known_ids)
    own_victim = victim_keys.get_indexer(np.where(id_code >= 0, crime[own] * width + id_code, -1))
    own, own_victim = own[own_victim >= 0], own_victim[own_victim >= 0]
    # Crime-level events: one copy per victim of the crime.
    shared = np.flatnonzero(crime_level)
    copies = table.crime_count[crime[shared]]
    shared_rows = np.repeat(shared, copies)
    shared_victim = np.repeat(table.crime_first[crime[shared]], copies) + _within_group(copies)

    reported = table.reported_us <= as_of_us
    pick = np.concatenate([rows[own], rows[shared_rows]])
    victim = np.concatenate([own_victim, shared_victim, np.flatnonzero(reported)])
    n_report = int(reported.sum())
    time = np.concatenate([time[pick], table.reported_us[reported]])
    kind = np.concatenate([kind[pick], np.full(n_report, _REPORT, np.int8)])
    event = np.concatenate([pick, np.full(n_report, -1, np.int64)])

    has_event = event >= 0
    rows = event[has_event]
    in_need = np.zeros(event.size, np.int8)
    outcome = np.full(event.size, -1, np.int8)
    court = np.full(event.size, -1, np.int8)
    if "in_need" in events:
        in_need[has_event] = events["in_need"].astype("boolean").fillna(False).to_numpy(dtype=bool)[rows]
    if "outcome_code" in events:
        code = pd.to_numeric(events["outcome_code"], errors="coerce").to_numpy(dtype=float, na_value=-1)
        outcome[has_event] = np.where((code >= 0) & (code <= 22), code, -1).astype(np.int8)[rows]
    if "court_result" in events:
        court[has_event] = positions_in(events["court_result"], _COURT_RESULTS).astype(np.int8)[rows]

    order = _stream_order(victim, time, kind, in_need)
    victim, time, kind, event = victim[order], time[order], kind[order], event[order]
    in_need, outcome, court = in_need[order], outcome[order], court[order]
    n = victim.size
    positions = np.arange(n)
    new_victim = np.ones(n, dtype=bool)
    new_victim[1:] = victim[1:] != victim[:-1]
    new_time = new_victim.copy()
    new_time[1:] |= time[1:] != time[:-1]
    victim_start = np.maximum.accumulate(np.where(new_victim, positions, 0))
    tie_start = np.maximum.accumulate(np.where(new_time, positions, 0))
    return _Stream(victim, time, kind, event, in_need, outcome, court, tie_start, victim_start)


def _stream_order(victim: np.ndarray, time: np.ndarray, kind: np.ndarray, in_need: np.ndarray) -> np.ndarray:
    """The order by (victim, time, kind, in need first): whatever order the rows came in.

    Kind and need settle simultaneous events, so the result never depends on input row order.
    When every time is a whole second (the contract's precision) and the keys fit in 63 bits,
    one argsort of a packed key replaces a 4-key lexsort: about 3x faster at 10M rows.
    """
    need_first = (1 - in_need).astype(np.int64)
    if victim.size == 0:
        return np.zeros(0, dtype=np.int64)
    micros = time % 1_000_000
    if not micros.any():
        seconds = time // 1_000_000
        span = seconds - seconds.min()
        bits_victim = int(victim.max()).bit_length()
        bits_time = int(span.max()).bit_length()
        bits_kind = len(EVENT_TYPE_CODES).bit_length()
        if bits_victim + bits_time + bits_kind + 1 <= 63:
            key = (((victim.astype(np.int64) << bits_time | span) << bits_kind | kind) << 1) | need_first
            return np.argsort(key)  # exact ties differ only in event_id, settled later
    return np.lexsort((need_first, kind, time, victim))


def _within_group(sizes: np.ndarray) -> np.ndarray:
    """0, 1, ..., size-1 for each group in turn (vectorised ragged arange)."""
    total = int(sizes.sum())
    ends = np.cumsum(sizes)
    return np.arange(total) - np.repeat(ends - sizes, sizes)


def _kinds(names: frozenset[str]) -> np.ndarray:
    table = np.zeros(len(EVENT_TYPE_CODES), dtype=bool)
    table[[EVENT_TYPE_CODES.index(name) for name in names]] = True
    return table


def _next_position(mask: np.ndarray) -> np.ndarray:
    """For every position, the first position at or after it where `mask` holds (n if none)."""
    n = mask.size
    positions = np.where(mask, np.arange(n), n)
    return np.minimum.accumulate(positions[::-1])[::-1]


def _first_meeting(block: _Stream, meeting: np.ndarray, triggers: np.ndarray,
                   *, any_time: bool) -> np.ndarray:
    """Position of the first meeting event of each trigger's victim (at or after it); -1 if none."""
    start = block.victim_start if any_time else block.tie_start
    found = _next_position(meeting)[start[triggers]]
    ok = found < block.victim.size
    ok[ok] = block.victim[found[ok]] == block.victim[triggers[ok]]
    return np.where(ok, found, -1)


def _triggers_of(rule: Rule, block: _Stream) -> np.ndarray:
    """Positions in the block that are triggers of `rule`, sorted by (victim, time)."""
    if rule.trigger == "crime_report":
        return np.flatnonzero(block.kind == _REPORT)
    is_trigger = _kinds(rule.trigger_events)[block.kind]
    finalised = block.kind == EVENT_TYPE_CODES.index("CRIME_FINALISED")
    if rule.trigger_outcome_codes is not None:
        allowed = np.zeros(24, dtype=bool)
        allowed[list(rule.trigger_outcome_codes)] = True
        is_trigger &= ~finalised | allowed[block.outcome]  # outcome -1 reads the last slot: False
    court = block.kind == EVENT_TYPE_CODES.index("COURT_OUTCOME")
    if rule.trigger_court_results is not None:
        allowed = np.zeros(len(_COURT_RESULTS) + 1, dtype=bool)
        allowed[[_COURT_RESULTS.index(r) for r in rule.trigger_court_results]] = True
        is_trigger &= ~court | allowed[block.court]
    positions = np.flatnonzero(is_trigger)
    if rule.first_trigger_only:
        positions = _first_per_victim(positions, block)
    return positions


def _first_per_victim(positions: np.ndarray, block: _Stream) -> np.ndarray:
    """The earliest trigger of each victim; simultaneous ones are settled later by event_id."""
    victim, time = block.victim[positions], block.time[positions]
    first = np.ones(positions.size, dtype=bool)
    first[1:] = victim[1:] != victim[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(positions.size), 0))
    earliest = positions[time == time[group_start]]
    return earliest  # ties (same victim, same instant) are resolved in _obligation_frame


def _obligations_of(rule: Rule, block: _Stream) -> dict[str, np.ndarray]:
    """Trigger and meeting time of each obligation of one rule within one rule set's block."""
    triggers = _triggers_of(rule, block)
    if rule.kind == "needs_referral":
        assessment = _first_meeting(block, _kinds(rule.met_by)[block.kind], triggers, any_time=False)
        referral = _first_meeting(block, _kinds(rule.referral_events)[block.kind], triggers, any_time=False)
        assessed = assessment >= 0
        in_need = assessed & (block.in_need[np.maximum(assessment, 0)] == 1)
        referred = referral >= 0
        assessed_at = block.time[np.maximum(assessment, 0)]
        referred_at = block.time[np.maximum(referral, 0)]
        met = np.where(~assessed, _NAT, np.where(
            ~in_need, assessed_at, np.where(referred, np.maximum(assessed_at, referred_at), _NAT)))
    else:
        meeting = _first_meeting(block, _kinds(rule.met_by)[block.kind], triggers, any_time=rule.met_any_time)
        met = np.where(meeting >= 0, block.time[np.maximum(meeting, 0)], _NAT)
    return {
        "victim": block.victim[triggers],
        "event": block.event[triggers],
        "time": block.time[triggers],
        "met": met,
        "first_only": np.full(triggers.size, rule.first_trigger_only),
    }


def _due_us(rule: Rule, trigger_us: np.ndarray, enhanced: np.ndarray) -> np.ndarray:
    """`due_at` (µs UTC) of each obligation: the local midnight ending its due date."""
    days = np.where(enhanced, rule.enhanced_deadline, rule.deadline)
    trigger_dates = local_dates(_as_instants(trigger_us))
    # One unit per rule, so call the calendar's primitive directly (as calendar.due_instants does).
    add = add_working_days if rule.unit == "working_days" else add_calendar_days
    return start_of_local_day(add(trigger_dates, days) + np.timedelta64(1, "D")).as_unit("us").asi8


def _obligation_frame(parts: list[dict[str, np.ndarray]], table: _Victims, events: pd.DataFrame,
                      as_of_us: int, rulesets: RuleSets) -> pd.DataFrame:
    columns = ("victim", "event", "time", "met", "due", "rule", "first_only")
    if parts:
        found = {c: np.concatenate([p[c] for p in parts]) for c in columns}
    else:
        found = {c: np.zeros(0, np.int64) for c in columns}
        found["first_only"] = np.zeros(0, bool)
    event_ids = events["event_id"]
    found = _settle_simultaneous_first_triggers(found, event_ids)
    victim, met, due = found["victim"], found["met"], found["due"]
    has_met = met != _NAT
    status = np.where(has_met, np.where(met < due, _MET, _MET_LATE),
                      np.where(due <= as_of_us, _BREACHED, _PENDING)).astype(np.int8)
    set_names = list(rulesets.names())
    taken = pa.array(victim)
    trigger_ids = pd.array(strings(event_ids).take(pa.array(found["event"], mask=found["event"] < 0)),
                           dtype="string")
    return pd.DataFrame({
        "crime_ref": pd.array(table.crime_ref.take(taken), dtype="string"),
        "victim_id": pd.array(table.victim_id.take(taken), dtype="string"),
        "rule": pd.Categorical.from_codes(found["rule"], categories=list(rulesets.rule_names())),
        "trigger_event_id": trigger_ids,
        "trigger_at": _as_instants(found["time"]),
        "due_at": _as_instants(due),
        "met_at": _as_instants(met),
        "status": pd.Categorical.from_codes(status, categories=list(STATUSES)),
        "enhanced": table.enhanced[victim],
        "rule_set": pd.Categorical.from_codes(table.ruleset[victim], categories=set_names),
        "department": table.department.take(victim),
    }, columns=list(RESULT_COLUMNS))


def _settle_simultaneous_first_triggers(found: dict[str, np.ndarray], event_ids: pd.Series
                                        ) -> dict[str, np.ndarray]:
    """A first-trigger-only rule with two triggers at the same instant keeps the smaller event_id.

    Rare, so a small pandas sort is fine; it keeps the result independent of input row order.
    """
    first_only = found["first_only"]
    if not first_only.any():
        return found
    rows = np.flatnonzero(first_only)
    key = pd.DataFrame({"victim": found["victim"][rows], "rule": found["rule"][rows], "row": rows})
    clash = key.duplicated(["victim", "rule"], keep=False).to_numpy()
    if not clash.any():
        return found
    tied = key[clash].assign(event_id=event_ids.array.take(found["event"][rows[clash]]))
    losers = tied.sort_values(["victim", "rule", "event_id"]).duplicated(["victim", "rule"])
    drop = tied.loc[losers[losers].index, "row"].to_numpy()
    keep = np.ones(first_only.size, dtype=bool)
    keep[drop] = False
    return {name: values[keep] for name, values in found.items()}


def _as_instants(values: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(values.view("datetime64[us]")).tz_localize("UTC")
