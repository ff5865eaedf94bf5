"""Each victim's events as one sorted stream: the common ground of every rule (RULES.md).

Every event that matters to a rule or to the victim's choices is expanded to the victims it
applies to (a crime-level event to every victim of its crime), the crime report is added as a
pseudo-event, and the stream is sorted once by (victim, occurred_at, event_id as bytes): the
order RULES.md uses for "first", "next" and "latest". Questions such as "the first meeting
event at or after the trigger" or "the agreement in force" are then running minima or maxima
over positions, for every position at once: no per-row Python anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vcpipeline.canonical import COURT_RESULTS, EVENT_TYPES
from vcpipeline.rules.keys import positions_in, strings
from vcpipeline.rules.ruleset import RuleSets

CRIME_REPORT = "<crime report>"  # pseudo event type: the crime report as a trigger
EVENT_TYPE_CODES: tuple[str, ...] = (*sorted(EVENT_TYPES), CRIME_REPORT)
REPORT = len(EVENT_TYPE_CODES) - 1
AGREED, OPTED_OUT, OPTED_IN, CHARGED = (EVENT_TYPE_CODES.index(t) for t in (
    "CONTACT_AGREED", "OPTED_OUT", "OPTED_IN", "SUSPECT_CHARGED"))
COURT_RESULT_CODES: tuple[str, ...] = tuple(sorted(COURT_RESULTS))
NAT = np.iinfo(np.int64).min   # NaT as int64: "no instant" (e.g. not met)
NEVER = np.iinfo(np.int64).max  # "no such instant" where a later-than comparison must fail


@dataclass(frozen=True)
class Victims:
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
class Stream:
    """Every (victim, event) pair that a rule or a choice uses, sorted by (victim, time, event_id)."""

    victim: np.ndarray       # int64 victim number
    time: np.ndarray         # int64 µs UTC
    kind: np.ndarray         # int8 index into EVENT_TYPE_CODES
    event: np.ndarray        # int64 row of the events frame; -1 for the crime report
    in_need: np.ndarray      # int8 1 when a NEEDS_ASSESSMENT found the victim in need
    outcome: np.ndarray      # int8 Home Office outcome code, -1 if none
    court: np.ndarray        # int8 index into COURT_RESULT_CODES, -1 if none
    channel: np.ndarray      # int32 index into `channels`, -1 when empty
    interval: np.ndarray     # int32 interval_days of a CONTACT_AGREED, 0 when none
    tie_start: np.ndarray    # first position with the same (victim, time): "at or after"
    tie_end: np.ndarray      # last position with the same (victim, time): "at or before"
    victim_start: np.ndarray  # first position of the same victim: "at any time"
    channels: pa.Array       # the trimmed, lower-cased channels met in the stream

    @property
    def size(self) -> int:
        return int(self.victim.size)

    def block(self, lo: int, hi: int) -> Stream:
        """Positions lo..hi-1 as a stream of their own (views, positions renumbered from 0)."""
        return Stream(
            self.victim[lo:hi], self.time[lo:hi], self.kind[lo:hi], self.event[lo:hi],
            self.in_need[lo:hi], self.outcome[lo:hi], self.court[lo:hi], self.channel[lo:hi],
            self.interval[lo:hi], self.tie_start[lo:hi] - lo, self.tie_end[lo:hi] - lo,
            self.victim_start[lo:hi] - lo, self.channels,
        )


def kinds(names: frozenset[str] | set[str]) -> np.ndarray:
    """A lookup table: True at the codes of these event types."""
    table = np.zeros(len(EVENT_TYPE_CODES), dtype=bool)
    table[[EVENT_TYPE_CODES.index(name) for name in names]] = True
    return table


def next_position(mask: np.ndarray) -> np.ndarray:
    """For every position p (and p = n), the first position >= p where `mask` holds (n if none)."""
    n = mask.size
    positions = np.where(mask, np.arange(n), n)
    return np.append(np.minimum.accumulate(positions[::-1])[::-1], n)


def last_position(mask: np.ndarray) -> np.ndarray:
    """For every position p, the last position <= p where `mask` holds (-1 if none)."""
    return np.maximum.accumulate(np.where(mask, np.arange(mask.size), -1))


def same_victim(stream: Stream, found: np.ndarray, of: np.ndarray) -> np.ndarray:
    """True where position `found` (n or -1: none) is an event of the victim at position `of`."""
    ok = (found >= 0) & (found < stream.size)
    ok[ok] = stream.victim[found[ok]] == stream.victim[of[ok]]
    return ok


def within_group(sizes: np.ndarray) -> np.ndarray:
    """0, 1, ..., size-1 for each group in turn (vectorised ragged arange)."""
    total = int(sizes.sum())
    ends = np.cumsum(sizes)
    return np.arange(total) - np.repeat(ends - sizes, sizes)


def event_stream(table: Victims, events: pd.DataFrame, as_of_us: int, rulesets: RuleSets,
                 instants_us) -> Stream:
    """The events (up to as_of) that some rule or choice uses, one row per victim they apply to."""
    used = kinds({"CONTACT_AGREED", "OPTED_OUT", "OPTED_IN", "SUSPECT_CHARGED"})
    for ruleset in rulesets.sets:
        for rule in ruleset.rules:
            used |= kinds(rule.trigger_events | rule.met_by | rule.referral_events)
    kind = positions_in(events["event_type"], EVENT_TYPE_CODES[:-1]).astype(np.int8)
    time = instants_us(events["occurred_at"])
    keep = (kind >= 0) & (time != NAT) & (time <= as_of_us)
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
    shared_victim = np.repeat(table.crime_first[crime[shared]], copies) + within_group(copies)

    reported = table.reported_us <= as_of_us
    pick = np.concatenate([rows[own], rows[shared_rows]])
    victim = np.concatenate([own_victim, shared_victim, np.flatnonzero(reported)])
    n_report = int(reported.sum())
    time = np.concatenate([time[pick], table.reported_us[reported]])
    kind = np.concatenate([kind[pick], np.full(n_report, REPORT, np.int8)])
    event = np.concatenate([pick, np.full(n_report, -1, np.int64)])

    order = _stream_order(victim, time, event, events["event_id"])
    victim, time, kind, event = victim[order], time[order], kind[order], event[order]
    columns, channels = _event_columns(events, event, kind)
    n = victim.size
    positions = np.arange(n)
    new_victim = np.ones(n, dtype=bool)
    new_victim[1:] = victim[1:] != victim[:-1]
    new_time = new_victim.copy()
    new_time[1:] |= time[1:] != time[:-1]
    victim_start = np.maximum.accumulate(np.where(new_victim, positions, 0))
    tie_start = np.maximum.accumulate(np.where(new_time, positions, 0))
    tie_end = np.append(np.flatnonzero(new_time)[1:] - 1, n - 1)[np.cumsum(new_time) - 1] if n else positions
    return Stream(victim, time, kind, event, *columns, tie_start, tie_end, victim_start, channels)


def _event_columns(events: pd.DataFrame, event: np.ndarray, kind: np.ndarray
                   ) -> tuple[tuple[np.ndarray, ...], pa.Array]:
    """in_need, outcome, court, channel and interval of each stream row (crime report: none)."""
    has_event = event >= 0
    rows = event[has_event]
    size = event.size
    in_need = np.zeros(size, np.int8)
    outcome = np.full(size, -1, np.int8)
    court = np.full(size, -1, np.int8)
    channel = np.full(size, -1, np.int32)
    interval = np.zeros(size, np.int32)
    if "in_need" in events:
        in_need[has_event] = events["in_need"].astype("boolean").fillna(False).to_numpy(dtype=bool)[rows]
    if "outcome_code" in events:
        code = pd.to_numeric(events["outcome_code"], errors="coerce").to_numpy(dtype=float, na_value=-1)
        outcome[has_event] = np.where((code >= 0) & (code <= 22), code, -1).astype(np.int8)[rows]
    if "court_result" in events:
        court[has_event] = positions_in(events["court_result"], COURT_RESULT_CODES).astype(np.int8)[rows]
    channels = pa.array([], pa.large_string())
    if "channel" in events:
        channel[has_event], channels = _channel_codes(events, rows)
    if "interval_days" in events:
        agreed = np.flatnonzero(has_event)[kind[has_event] == AGREED]
        days = pd.to_numeric(events["interval_days"].iloc[event[agreed]], errors="coerce")
        interval[agreed] = days.fillna(0).to_numpy(dtype=float).clip(0, 366).astype(np.int32)
    return (in_need, outcome, court, channel, interval), channels


def _clean_channels(values: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.utf8_trim_whitespace(strings(values).fill_null("")))


def _channel_codes(events: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Each row's trimmed, lower-cased channel as an index into the distinct non-empty ones (-1: empty)."""
    channels = strings(events["channel"])
    if channels.null_count == len(channels):
        return np.full(rows.size, -1, np.int32), pa.array([], pa.large_string())
    cleaned = _clean_channels(channels.take(pa.array(rows)))
    distinct = pc.unique(cleaned)
    distinct = distinct.filter(pc.not_equal(distinct, ""))
    return positions_in(cleaned, distinct).astype(np.int32), distinct


def _stream_order(victim: np.ndarray, time: np.ndarray, event: np.ndarray, event_ids: pd.Series) -> np.ndarray:
    """The order by (victim, time, event_id as bytes; the crime report first): whatever order
    the rows came in.

    Simultaneous events of one victim are rare, so (victim, time) is sorted first, one argsort of
    a packed key when it fits in 63 bits, and only the tied rows are then sorted by event_id.
    """
    if victim.size == 0:
        return np.zeros(0, dtype=np.int64)
    span = time - time.min()
    bits_victim = int(victim.max()).bit_length()
    bits_time = int(span.max()).bit_length()
    if bits_victim + bits_time <= 63:
        order = np.argsort((victim.astype(np.int64) << bits_time) | span, kind="stable")
    else:
        order = np.lexsort((time, victim))
    v, t = victim[order], time[order]
    tied = np.zeros(v.size, dtype=bool)
    same = (v[1:] == v[:-1]) & (t[1:] == t[:-1])
    tied[1:] |= same
    tied[:-1] |= same
    if not tied.any():
        return order
    at = np.flatnonzero(tied)
    group = np.cumsum(~np.append(False, same)[at])  # one number per run of tied rows
    rows = event[order[at]]
    ids = strings(event_ids).take(pa.array(rows, mask=rows < 0)).fill_null("")  # the report: ""
    settled = pc.sort_indices(pa.table({"group": group, "id": ids}),
                              sort_keys=[("group", "ascending"), ("id", "ascending")]).to_numpy()
    order[at] = order[at[settled]]
    return order
