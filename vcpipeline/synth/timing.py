"""Time in the synthetic force: instants as int64 seconds since the epoch, whole columns at once.

Deadlines come from the rule-set data (`rules.ruleset`, via `RuleDeadlines`) and the project's
one calendar (`calendar.due_instants`), so the generator and the rule engine agree on every due
date and on which rule set a crime falls under; the text helpers write the sources' own time formats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vcpipeline.calendar import LONDON, due_instants
from vcpipeline.rules.ruleset import RuleSets, load_rulesets

HOUR, DAY = 3600, 86400


def seconds(stamp: pd.Timestamp) -> int:
    return int(stamp.timestamp())


def instants(seconds: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(seconds, unit="s", utc=True))


def due(trigger: np.ndarray, n: np.ndarray | int, unit: str | np.ndarray = "working_days") -> np.ndarray:
    """`due_at` (seconds) of obligations triggered at `trigger` seconds: calendar.due_instants."""
    if len(trigger) == 0:
        return trigger.astype(np.int64)
    return due_instants(instants(trigger), n, unit).as_unit("s").asi8


@dataclass(frozen=True)
class RuleDeadlines:
    """Each rule's deadline in each rule set, read from the rule-set file (one rule, one place):
    the generator aims its contacts at the deadlines the engine will judge them by."""

    starts: np.ndarray                       # datetime64[D]: each set's first local report day
    days: dict[str, np.ndarray]              # rule → deadline per set (-1: not in that set)
    enhanced_days: dict[str, np.ndarray]
    units: dict[str, np.ndarray]             # rule → unit per set
    outcome_codes: dict[str, tuple[frozenset[int], ...]]  # rule → trigger outcome codes per set

    @classmethod
    def of(cls, rulesets: RuleSets | None = None) -> RuleDeadlines:
        rulesets = rulesets or load_rulesets()
        sets = rulesets.sets
        names = rulesets.rule_names()
        by_set = [{rule.name: rule for rule in s.rules} for s in sets]
        starts = np.array([np.datetime64(s.reported_from, "D") if s.reported_from else
                           np.datetime64("0001-01-01", "D") for s in sets])

        def per_set(name: str, value, missing) -> np.ndarray:
            return np.array([value(rules[name]) if name in rules else missing for rules in by_set])

        return cls(
            starts=starts,
            days={n: per_set(n, lambda r: r.deadline, -1) for n in names},
            enhanced_days={n: per_set(n, lambda r: r.enhanced_deadline, -1) for n in names},
            units={n: per_set(n, lambda r: r.unit, "calendar_days").astype(object) for n in names},
            outcome_codes={n: tuple(frozenset(rules[n].trigger_outcome_codes or ()) if n in rules
                                    else frozenset() for rules in by_set) for n in names},
        )

    def rule_set_of(self, local_days: np.ndarray) -> np.ndarray:
        """The rule set (index) of crimes reported on these local dates."""
        return np.searchsorted(self.starts, local_days.astype("datetime64[D]"), side="right") - 1

    def due(self, rule: str, trigger: np.ndarray, rule_set: np.ndarray,
            enhanced: np.ndarray | bool = False) -> np.ndarray:
        """`due_at` (seconds) of `rule`'s obligations triggered at `trigger` under `rule_set`."""
        n = np.where(enhanced, self.enhanced_days[rule][rule_set], self.days[rule][rule_set])
        return due(trigger, n, self.units[rule][rule_set])

    def notified(self, rule: str, codes: np.ndarray, rule_set: np.ndarray) -> np.ndarray:
        """Whether each Home Office outcome code triggers `rule` under the crime's rule set."""
        out = np.zeros(len(codes), dtype=bool)
        for index, allowed in enumerate(self.outcome_codes[rule]):
            here = rule_set == index
            out[here] = np.isin(codes[here], list(allowed))
        return out


def respond(rng: np.random.Generator, trigger: np.ndarray, due: np.ndarray, on_time: np.ndarray,
            missing_share: float = 0.3, late_mean_days: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """When the satisfying contact happened, and whether it happened at all.

    On time: somewhere between the trigger and the deadline. Otherwise late (after the
    deadline) or, for `missing_share` of those, never.
    """
    n = len(trigger)
    span = np.maximum(due - trigger, HOUR)
    early = trigger + (rng.uniform(0.03, 0.9, n) * span).astype(np.int64)
    late = due + HOUR + rng.exponential(late_mean_days * DAY, n).astype(np.int64)
    present = on_time | (rng.random(n) >= missing_share)
    return np.where(on_time, early, late), present


def uniform(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """`n` whole seconds drawn uniformly in [low, high)."""
    return rng.uniform(low, high, n).astype(np.int64)


def local_naive(seconds: np.ndarray) -> np.ndarray:
    """Europe/London wall time, as naive datetime64[s]."""
    return instants(seconds).tz_convert(LONDON).tz_localize(None).to_numpy().astype("datetime64[s]")


def local_text(seconds: np.ndarray) -> pd.Series:
    """`YYYY-MM-DD HH:MM:SS` Europe/London wall time."""
    return pd.Series(np.datetime_as_string(local_naive(seconds), unit="s"), dtype="string").str.replace("T", " ")


def utc_text(seconds: np.ndarray) -> pd.Series:
    """`YYYY-MM-DDTHH:MM:SSZ`."""
    return pd.Series(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"), dtype="string") + "Z"


def uk_text(seconds: np.ndarray) -> pd.Series:
    """`dd/mm/yyyy HH:MM` Europe/London wall time (the partner's format)."""
    iso = pd.Series(np.datetime_as_string(local_naive(seconds), unit="m"), dtype="string")
    return (iso.str.slice(8, 10) + "/" + iso.str.slice(5, 7) + "/" + iso.str.slice(0, 4)
            + " " + iso.str.slice(11, 16))
