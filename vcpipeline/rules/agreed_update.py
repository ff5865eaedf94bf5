"""The periodic rule `agreed_update` (RULES.md v2): an update at least every k calendar days
while an agreement with `interval_days` k > 0 is in force, until the investigation ends.

- Anchors: every counted CONTACT_AGREED with k > 0, and every update strictly after the
  agreement in force at it when that one has k > 0; one per victim and instant (the first by
  event_id). An anchor at or after the end of the investigation gives nothing.
- Each anchor is due on its local date + k; it ends at the next update or counted agreement
  strictly after it: an update meets it; an agreement before its due instant supersedes it
  (WAIVED), at or after leaves it unmet.
- Still open when the investigation ends and due after the end: not owed, left out.
"""

from __future__ import annotations

import numpy as np

from vcpipeline.calendar import add_calendar_days, local_dates, start_of_local_day
from vcpipeline.rules.ruleset import Rule
from vcpipeline.rules.stream import NAT, NEVER, Stream, kinds, last_position, next_position


def agreed_update_obligations(rule: Rule, block: Stream, in_force: np.ndarray, counted: np.ndarray,
                              end_triggers: np.ndarray, as_instants) -> dict[str, np.ndarray]:
    """The obligations of a periodic rule within one rule set's block of the stream.

    `in_force` and `counted` (block positions) come from `choices`; `end_triggers` are the block
    positions of the triggers of the rule that ends the investigation (`ends_with`).
    """
    n = block.size
    if not (counted & (block.interval > 0)).any():  # no periodic agreement: no anchor at all
        empty = np.zeros(0, np.int64)
        return {"trigger": empty, "met": empty, "met_position": empty, "due": empty,
                "superseded": np.zeros(0, bool)}
    updates = kinds(rule.met_by)[block.kind]
    k_in_force = np.where(in_force >= 0, block.interval[np.maximum(in_force, 0)], 0)
    agreed_at = block.time[np.maximum(in_force, 0)]
    anchor = (counted & (block.interval > 0)) | (updates & (k_in_force > 0) & (agreed_at < block.time))
    earlier = np.append(-1, last_position(anchor)[:-1]) if n else np.zeros(0, np.int64)
    anchor &= earlier < block.tie_start  # the first anchor of its instant only
    end = investigation_end(block, end_triggers)
    anchors = np.flatnonzero(anchor & (block.time < end))

    time = block.time[anchors]
    days = k_in_force[anchors]  # an agreement is the one in force at its own instant
    due = start_of_local_day(add_calendar_days(local_dates(as_instants(time)), days)
                             + np.timedelta64(1, "D")).as_unit("us").asi8
    follows = next_position(updates | counted)[block.tie_end[anchors] + 1]
    ended = follows < n
    ended[ended] = block.victim[follows[ended]] == block.victim[anchors[ended]]
    ender = np.minimum(follows, max(n - 1, 0))
    ended_at = np.where(ended, block.time[ender], NEVER)
    met_position = np.where(ended & updates[ender], ender, -1)
    met = np.where(met_position >= 0, ended_at, NAT)
    superseded = ended & counted[ender] & (ended_at < due)
    end_at = end[anchors]
    open_at_end = (end_at != NEVER) & (ended_at > end_at) & (due > end_at)
    keep = ~open_at_end
    return {
        "trigger": anchors[keep], "met": met[keep], "met_position": met_position[keep],
        "due": due[keep], "superseded": superseded[keep],
    }


def investigation_end(block: Stream, end_triggers: np.ndarray) -> np.ndarray:
    """For every position, its victim's end of investigation (µs UTC; NEVER when not ended)."""
    is_end = np.zeros(block.size, dtype=bool)
    is_end[end_triggers] = True
    first = next_position(is_end)[block.victim_start]
    ended = first < block.size
    ended[ended] = block.victim[first[ended]] == block.victim[ended]
    return np.where(ended, block.time[np.minimum(first, max(block.size - 1, 0))], NEVER)
