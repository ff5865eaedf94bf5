"""The victim's choices (RULES.md v2): opting out and in, the contact agreement in force, the
channel it agreed, and the first charge that hands an obligation to witness care.

Each is a question about "the latest event of some kinds at or before an instant", answered for
every stream position at once by a running maximum over positions, then read at the end of the
position's tie group (events at the same instant count as "at or before").
"""

from __future__ import annotations

import numpy as np

from vcpipeline.rules.stream import (
    AGREED,
    CHARGED,
    NEVER,
    OPTED_IN,
    OPTED_OUT,
    Stream,
    last_position,
    next_position,
)


def agreement_in_force(stream: Stream) -> np.ndarray:
    """For every position, the position of the CONTACT_AGREED in force at its instant (-1: none).

    The latest agreement at or before the instant; of several at one instant the last by
    event_id, which is the last in stream order.
    """
    agreements = stream.kind == AGREED
    if not agreements.any():  # most forces, most nights: nothing to scan
        return np.full(stream.size, -1, np.int64)
    latest = last_position(agreements)[stream.tie_end]
    return np.where(latest >= stream.victim_start, latest, -1)


def counted_agreements(stream: Stream) -> np.ndarray:
    """True at each CONTACT_AGREED that counts: the last by event_id of its victim and instant."""
    positions = np.arange(stream.size)
    return (stream.kind == AGREED) & (agreement_in_force(stream) == positions)


def opted_out_from(stream: Stream) -> np.ndarray:
    """For every position, the first instant at or after its own at which the victim is opted out
    (NEVER when there is none): the `w` of RULES.md "Waived".

    Opted out at t: the latest OPTED_OUT or OPTED_IN at or before t is an OPTED_OUT. The state
    only changes at such events, so the first w is the position's own instant when opted out then,
    else the next instant whose last choice (by event_id) is an OPTED_OUT.
    """
    n = stream.size
    if n == 0:
        return np.zeros(0, np.int64)
    choice = (stream.kind == OPTED_OUT) | (stream.kind == OPTED_IN)
    if not choice.any():
        return np.full(n, NEVER, np.int64)
    latest = last_position(choice)[stream.tie_end]
    decided = latest >= stream.victim_start
    out_now = decided & (stream.kind[np.maximum(latest, 0)] == OPTED_OUT)
    positions = np.arange(n)
    out_instant = (stream.kind == OPTED_OUT) & (latest == positions)  # last choice of its instant
    following = next_position(out_instant)[stream.tie_end + 1]
    later = following < n
    later[later] = stream.victim[following[later]] == stream.victim[later]
    found = np.where(later, stream.time[np.minimum(following, n - 1)], NEVER)
    return np.where(out_now, stream.time, found)


def first_charge(stream: Stream, n_victims: int) -> np.ndarray:
    """Each victim's first SUSPECT_CHARGED applying to them (µs UTC; NEVER when not charged)."""
    charged = np.flatnonzero(stream.kind == CHARGED)
    victims = stream.victim[charged]
    first = np.ones(charged.size, dtype=bool)
    first[1:] = victims[1:] != victims[:-1]
    found = np.full(n_victims, NEVER, np.int64)
    found[victims[first]] = stream.time[charged[first]]
    return found


def channel_as_agreed(stream: Stream, in_force: np.ndarray, met_position: np.ndarray) -> np.ndarray:
    """1 when the meeting event's channel is the one agreed at its instant, 0 when not, -1 when
    there is nothing to compare (not met, or no agreement with a channel in force)."""
    met = met_position >= 0
    at = np.maximum(met_position, 0)
    agreement = np.where(met, in_force[at], -1)
    agreed = np.where(agreement >= 0, stream.channel[np.maximum(agreement, 0)], -1)
    return np.where(agreed >= 0, (stream.channel[at] == agreed).astype(np.int8), -1).astype(np.int8)
