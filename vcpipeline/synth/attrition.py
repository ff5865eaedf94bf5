"""Attrition after late updates: a configurable link between the victim's updates and the outcome.

Victims who are not kept informed are more likely to stop supporting the investigation (HMICFRS
and the Victims' Commissioner report this; the board paper asks whether it happens here). The
synthetic force carries it so the report's attrition section has something to find: a crime one
of whose victims was let down on an investigation update owed before the crime was finalised
(the update sent after its deadline, or never) ends, with probability `effect`, in Home Office
outcome 14 or 16 (evidential difficulties, the victim does not support) instead of the other
outcome without charge it would have had (18 "no suspect identified" becomes 14, the others 16).
`effect` 0 changes nothing.

Only outcomes that already notify the victim are changed (14 and 16 notify too), so every other
event of the journey (the outcome told to the victim, court, VPS) stays as drawn. The draws come
from a generator of their own, so the rest of the force does not move when `effect` changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vcpipeline.synth.journey import Victims
from vcpipeline.synth.timing import RuleDeadlines

# The milestones that oblige an investigation update (RULES.md; release under investigation
# only in the 2020 Code: counted in both here, which only blurs the synthetic link a little).
UPDATE_TRIGGERS: tuple[str, ...] = (
    "SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED", "SUSPECT_RELEASED_NO_CHARGE", "SUSPECT_BAILED",
    "BAIL_CONDITIONS_CHANGED", "SUSPECT_CHARGED", "DECISION_NOT_TO_INVESTIGATE",
    "SUSPECT_RELEASED_UNDER_INVESTIGATION")
# Outcomes without charge that notify the victim and may become "victim does not support".
CHANGEABLE: frozenset[int] = frozenset({2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 17, 18, 19, 21, 22})
NO_SUSPECT_IDENTIFIED = 18
SUSPECT_NOT_IDENTIFIED_VICTIM_DOES_NOT_SUPPORT = 14
SUSPECT_IDENTIFIED_VICTIM_DOES_NOT_SUPPORT = 16
_SHIFT = np.int64(1) << 40   # victim × 2^40 + seconds: one sortable key per (victim, instant)


def first_let_down(events: pd.DataFrame, people: Victims, deadlines: RuleDeadlines) -> np.ndarray:
    """Per crime, the earliest trigger of an investigation update that one of its victims got
    late or never (int64 seconds; the int64 maximum when none did)."""
    never = np.iinfo(np.int64).max
    let_down = np.full(len(people.count_of_crime), never, dtype=np.int64)
    milestones = events[events["event_type"].isin(UPDATE_TRIGGERS)]
    if milestones.empty:
        return let_down
    rows, victim = people.of_crimes(milestones["crime"].to_numpy())
    trigger = milestones["at"].to_numpy()[rows]
    due = people.due(deadlines, "investigation_update", trigger, victim)
    updates = events[(events["event_type"] == "VICTIM_UPDATE") & (events["victim"] >= 0)]
    keys = np.sort(updates["victim"].to_numpy().astype(np.int64) * _SHIFT + updates["at"].to_numpy())
    wanted = victim.astype(np.int64) * _SHIFT + trigger
    found = np.searchsorted(keys, wanted, side="left")
    next_key = np.where(found < len(keys), keys[np.minimum(found, max(len(keys) - 1, 0))], never)
    same_victim = (next_key != never) & (next_key // _SHIFT == victim)
    on_time = same_victim & (next_key - victim.astype(np.int64) * _SHIFT < due)
    crime = people.crime[victim]
    np.minimum.at(let_down, crime[~on_time], trigger[~on_time])
    return let_down


def carry_attrition(events: pd.DataFrame, crimes: pd.DataFrame, victims: pd.DataFrame,
                    deadlines: RuleDeadlines, effect: float, seed: int) -> pd.DataFrame:
    """`events` with the finalisations of let-down crimes turned into 14/16 with probability
    `effect` (see the module docstring); the same frame when `effect` is 0."""
    if not 0 <= effect <= 1:
        raise ValueError(f"attrition effect must be between 0 and 1, not {effect}")
    if effect == 0:
        return events
    people = Victims.of(crimes, victims)
    let_down = first_let_down(events, people, deadlines)
    final = np.flatnonzero((events["event_type"] == "CRIME_FINALISED").to_numpy())
    code = events["outcome"].to_numpy()[final].astype(np.int64)
    at = events["at"].to_numpy()[final]
    draw = np.random.default_rng([seed, 15]).random(len(final))
    change = (np.isin(code, list(CHANGEABLE)) & (let_down[events["crime"].to_numpy()[final]] < at)
              & (draw < effect))
    new_code = np.where(code == NO_SUSPECT_IDENTIFIED, SUSPECT_NOT_IDENTIFIED_VICTIM_DOES_NOT_SUPPORT,
                        SUSPECT_IDENTIFIED_VICTIM_DOES_NOT_SUPPORT)
    changed = events.copy()
    outcome = changed["outcome"].to_numpy().copy()
    outcome[final[change]] = new_code[change]
    changed["outcome"] = outcome.astype(events["outcome"].dtype)
    return changed
