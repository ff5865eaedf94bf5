"""Evaluate the Victims Code obligations of every victim as of an instant (RULES.md, version 2).

The design is one sorted stream, not a loop over victims (`stream.py`): victims are numbered
rule set by rule set, so each rule set is a contiguous block of the stream, and "the first
meeting event at or after the trigger" is, for every position at once, a reversed running
minimum over the positions of meeting events. The victim's choices (`choices.py`: opted out,
the agreement in force, the first charge) and the periodic rule (`agreed_update.py`) are running
scans of the same stream. Then each obligation gets its status (WAIVED first), its owner and how
it was met: no per-row Python anywhere.

`evaluate` only ever sees events with `occurred_at <= as_of`, and it is correct for any subset
of crimes given with all their victims and events, so the warehouse can call it incrementally.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from vcpipeline.calendar import (
    add_calendar_days,
    add_working_days,
    local_dates,
    next_working_day,
    start_of_local_day,
)
from vcpipeline.canonical import OBLIGATION_COLUMNS, STATUSES
from vcpipeline.rules.agreed_update import agreed_update_obligations
from vcpipeline.rules.choices import (
    agreement_in_force,
    channel_as_agreed,
    counted_agreements,
    first_charge,
    opted_out_from,
)
from vcpipeline.rules.keys import (
    codes,
    duplicated_keep_last,
    instants_us,
    is_in,
    positions_in,
    strings,
)
from vcpipeline.rules.obligations_csv import (  # noqa: F401  (the engine's public face)
    SORT_COLUMNS,
    obligations_csv_bytes,
    sort_obligations,
    write_obligations_csv,
)
from vcpipeline.rules.ruleset import Rule, RuleSets
from vcpipeline.rules.stream import (
    COURT_RESULT_CODES,
    EVENT_TYPE_CODES,
    NAT,
    REPORT,
    Stream,
    Victims,
    event_stream,
    kinds,
    next_position,
    same_victim,
)

_MET, _MET_LATE, _BREACHED, _PENDING, _WAIVED = (
    STATUSES.index(s) for s in ("MET", "MET_LATE", "BREACHED", "PENDING", "WAIVED"))

# The obligation frame: the contract columns plus the crime's department (the dip sample's stratum).
RESULT_COLUMNS: tuple[str, ...] = (*OBLIGATION_COLUMNS, "department")
_PARTS = ("trigger", "met", "met_position", "due", "superseded", "rule")


def evaluate(crimes: pd.DataFrame, victims: pd.DataFrame, events: pd.DataFrame,
             as_of: pd.Timestamp, rulesets: RuleSets) -> pd.DataFrame:
    """One row per obligation existing as of `as_of` (RESULT_COLUMNS), in no particular order.

    Takes typed frames as `prepare` returns them: instants tz-aware, flags boolean, ages and
    outcome codes integers, a blank or missing `victim_id` on a crime-level event, `channel` and
    `interval_days` when present (absent: empty). Victims and events of crimes not in `crimes`
    are ignored; events after `as_of` do not exist.
    Timestamps come back as datetime64[us, UTC]; ids as strings (`trigger_event_id` <NA> for the
    crime-report rules); `rule`, `status`, `rule_set`, `owner`, `met_channel` and `department` as
    categoricals; `channel_as_agreed` as a nullable boolean (<NA>: nothing to compare).
    """
    as_of_us = int(instants_us([as_of])[0])
    table = _number_victims(crimes, victims, rulesets)
    stream = event_stream(table, events, as_of_us, rulesets, instants_us)
    in_force = agreement_in_force(stream)
    counted = counted_agreements(stream)
    rule_names = rulesets.rule_names()
    parts: list[dict[str, np.ndarray]] = []
    for set_index, ruleset in enumerate(rulesets.sets):
        lo, hi = (int(x) for x in np.searchsorted(stream.victim, table.set_first[set_index:set_index + 2]))
        block = stream.block(lo, hi)
        by_name = {rule.name: rule for rule in ruleset.rules}
        for rule in ruleset.rules:
            if rule.kind == "periodic":
                ends = _triggers_of(by_name[rule.ends_with], block)
                found = agreed_update_obligations(rule, block, in_force[lo:hi] - lo * (in_force[lo:hi] >= 0),
                                                  counted[lo:hi], ends, _as_instants)
            else:
                found = _obligations_of(rule, block)
                found["due"] = _due_us(rule, block.time[found["trigger"]],
                                       table.enhanced[block.victim[found["trigger"]]])
                found["superseded"] = np.zeros(found["trigger"].size, dtype=bool)
            found["trigger"] = found["trigger"] + lo
            found["met_position"] = np.where(found["met_position"] >= 0, found["met_position"] + lo, -1)
            found["rule"] = np.full(found["trigger"].size, rule_names.index(rule.name), np.int16)
            parts.append(found)
    return _obligation_frame(parts, stream, table, events, as_of_us, rulesets, in_force)


def at_risk(obligations: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """True for PENDING obligations due on A's local date or by the next working day after it.

    The due date is the local date before `due_at`. Dates between A's date and the next working
    day (a weekend, for a calendar-day deadline) count as at risk too: they fall due sooner.
    """
    pending = (obligations["status"] == "PENDING").to_numpy(dtype=bool)
    due_at = pd.DatetimeIndex(obligations["due_at"])
    due_date = local_dates(due_at) - np.timedelta64(1, "D")
    today = local_dates(pd.DatetimeIndex([as_of]))
    horizon = next_working_day(today)[0]
    risky = pending & (due_date >= today[0]) & (due_date <= horizon)
    return pd.Series(risky, index=obligations.index, name="at_risk")


# ----------------------------------------------------------------------------- building blocks

def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


def _number_victims(crimes: pd.DataFrame, victims: pd.DataFrame, rulesets: RuleSets) -> Victims:
    """Number the victims of known crimes by (rule set, crime) and say who is enhanced."""
    reported = instants_us(crimes["reported_at"])
    usable = (reported != NAT) & ~duplicated_keep_last(crimes["crime_ref"])
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
    return Victims(strings(chosen["crime_ref"]), strings(chosen["victim_id"]), department, crime, reported[crime], enhanced, victim_set, crime_refs, first, count,
                    set_first)


def _first_meeting(block: Stream, meeting: np.ndarray, triggers: np.ndarray,
                   *, any_time: bool) -> np.ndarray:
    """Position of the first meeting event of each trigger's victim (at or after it); -1 if none."""
    start = block.victim_start if any_time else block.tie_start
    found = next_position(meeting)[start[triggers]]
    return np.where(same_victim(block, found, triggers), found, -1)


def _triggers_of(rule: Rule, block: Stream) -> np.ndarray:
    """Positions in the block that are triggers of `rule`, sorted by (victim, time)."""
    if rule.trigger == "crime_report":
        return np.flatnonzero(block.kind == REPORT)
    is_trigger = kinds(rule.trigger_events)[block.kind]
    finalised = block.kind == EVENT_TYPE_CODES.index("CRIME_FINALISED")
    if rule.trigger_outcome_codes is not None:
        allowed = np.zeros(24, dtype=bool)
        allowed[list(rule.trigger_outcome_codes)] = True
        is_trigger &= ~finalised | allowed[block.outcome]  # outcome -1 reads the last slot: False
    court = block.kind == EVENT_TYPE_CODES.index("COURT_OUTCOME")
    if rule.trigger_court_results is not None:
        allowed = np.zeros(len(COURT_RESULT_CODES) + 1, dtype=bool)
        allowed[[COURT_RESULT_CODES.index(r) for r in rule.trigger_court_results]] = True
        is_trigger &= ~court | allowed[block.court]
    positions = np.flatnonzero(is_trigger)
    if rule.first_trigger_only:
        positions = _first_per_victim(positions, block)
    return positions


def _first_per_victim(positions: np.ndarray, block: Stream) -> np.ndarray:
    """The first trigger of each victim: the stream's order settles simultaneous ones by event_id."""
    victim = block.victim[positions]
    first = np.ones(positions.size, dtype=bool)
    first[1:] = victim[1:] != victim[:-1]
    return positions[first]


def _obligations_of(rule: Rule, block: Stream) -> dict[str, np.ndarray]:
    """Trigger, meeting time and meeting position of each obligation of one rule in one block."""
    triggers = _triggers_of(rule, block)
    if rule.kind == "needs_referral":
        assessment = _first_meeting(block, kinds(rule.met_by)[block.kind], triggers, any_time=False)
        referral = _first_meeting(block, kinds(rule.referral_events)[block.kind], triggers, any_time=False)
        assessed = assessment >= 0
        in_need = assessed & (block.in_need[np.maximum(assessment, 0)] == 1)
        referred = referral >= 0
        assessed_at = block.time[np.maximum(assessment, 0)]
        referred_at = block.time[np.maximum(referral, 0)]
        # In need: the later of the two; at the same instant, the referral.
        later = np.where(referred_at >= assessed_at, referral, assessment)
        position = np.where(~assessed, -1, np.where(~in_need, assessment, np.where(referred, later, -1)))
    else:
        position = _first_meeting(block, kinds(rule.met_by)[block.kind], triggers, any_time=rule.met_any_time)
    met = np.where(position >= 0, block.time[np.maximum(position, 0)], NAT)
    return {"trigger": triggers, "met": met, "met_position": position}


def _due_us(rule: Rule, trigger_us: np.ndarray, enhanced: np.ndarray) -> np.ndarray:
    """`due_at` (µs UTC) of each obligation: the local midnight ending its due date."""
    days = np.where(enhanced, rule.enhanced_deadline, rule.deadline)
    trigger_dates = local_dates(_as_instants(trigger_us))
    # One unit per rule, so call the calendar's primitive directly (as calendar.due_instants does).
    add = add_working_days if rule.unit == "working_days" else add_calendar_days
    return start_of_local_day(add(trigger_dates, days) + np.timedelta64(1, "D")).as_unit("us").asi8


def _obligation_frame(parts: list[dict[str, np.ndarray]], stream: Stream, table: Victims,
                      events: pd.DataFrame, as_of_us: int, rulesets: RuleSets,
                      in_force: np.ndarray) -> pd.DataFrame:
    if parts:
        found = {c: np.concatenate([p[c] for p in parts]) for c in _PARTS}
    else:
        found = {c: np.zeros(0, np.int64) for c in _PARTS}
        found["superseded"] = np.zeros(0, bool)
    trigger, met, due, rule = found["trigger"], found["met"], found["due"], found["rule"]
    victim, trigger_at = stream.victim[trigger], stream.time[trigger]
    rules = [_rule_of(rulesets, name) for name in rulesets.rule_names()]
    has_met = met != NAT
    status = np.where(has_met, np.where(met < due, _MET, _MET_LATE),
                      np.where(due <= as_of_us, _BREACHED, _PENDING)).astype(np.int8)
    # Waived: opted out at some w in [trigger, due) (w <= as_of: only such events exist), unless
    # met before the first such w; or an agreed update superseded by a new agreement.
    waivable = np.array([r.waivable for r in rules], dtype=bool)[rule]
    opted_out = opted_out_from(stream)[trigger]
    waived = waivable & (opted_out < due) & ~(has_met & (met < opted_out))
    status[waived | found["superseded"]] = _WAIVED

    set_names = list(rulesets.names())
    taken = pa.array(victim)
    events_of = stream.event[trigger]
    trigger_ids = pd.array(strings(events["event_id"]).take(pa.array(events_of, mask=events_of < 0)),
                           dtype="string")
    met_position = found["met_position"]
    met_channel = np.where(met_position >= 0, stream.channel[np.maximum(met_position, 0)], -1)
    compared = np.array([r.compare_channel for r in rules], dtype=bool)[rule]
    as_agreed = np.where(compared, channel_as_agreed(stream, in_force, met_position), -1)
    return pd.DataFrame({
        "crime_ref": pd.array(table.crime_ref.take(taken), dtype="string"),
        "victim_id": pd.array(table.victim_id.take(taken), dtype="string"),
        "rule": pd.Categorical.from_codes(rule, categories=list(rulesets.rule_names())),
        "trigger_event_id": trigger_ids,
        "trigger_at": _as_instants(trigger_at),
        "due_at": _as_instants(due),
        "met_at": _as_instants(met),
        "status": pd.Categorical.from_codes(status, categories=list(STATUSES)),
        "enhanced": table.enhanced[victim],
        "rule_set": pd.Categorical.from_codes(table.ruleset[victim], categories=set_names),
        "owner": _owner(rules, rule, victim, trigger_at, table, first_charge(stream, table.enhanced.size)),
        "met_channel": pd.Categorical.from_codes(met_channel, categories=stream.channels.to_pylist()),
        "channel_as_agreed": _nullable_flag(as_agreed),
        "department": table.department.take(victim),
    }, columns=list(RESULT_COLUMNS))


def _nullable_flag(values: np.ndarray) -> pd.arrays.BooleanArray:
    """1/0/-1 as true/false/<NA>."""
    return pd.arrays.BooleanArray(values == 1, values < 0)


def _rule_of(rulesets: RuleSets, name: str) -> Rule:
    return rulesets.rule(name)


def _owner(rules: list[Rule], rule: np.ndarray, victim: np.ndarray, trigger_at: np.ndarray,
           table: Victims, charged_at: np.ndarray) -> pd.Categorical:
    """The crime's department, or the rule's post-charge owner for a trigger at/after the first charge."""
    departments = list(table.department.categories)
    handed = sorted({r.post_charge_owner for r in rules if r.post_charge_owner} - set(departments))
    categories = departments + handed
    department = np.asarray(table.department.codes)[victim]
    post = np.array([categories.index(r.post_charge_owner) if r.post_charge_owner else -1 for r in rules],
                    dtype=np.int64)[rule] if rules else np.zeros(0, np.int64)
    after_charge = (post >= 0) & (trigger_at >= charged_at[victim])
    return pd.Categorical.from_codes(np.where(after_charge, post, department), categories=categories)


def _as_instants(values: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(values.view("datetime64[us]")).tz_localize("UTC")
