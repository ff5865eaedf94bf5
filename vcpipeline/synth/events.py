"""The synthetic force's event log and the victims' columns every stage of the journey needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vcpipeline.synth.timing import RuleDeadlines


class EventLog:
    """Canonical-typed events as they happen, before being split into the source systems."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, kind: str, crime: np.ndarray, at: np.ndarray, system: str | np.ndarray, *,
            victim: np.ndarray | None = None, in_need: np.ndarray | None = None,
            outcome: np.ndarray | None = None, court: np.ndarray | None = None,
            channel: np.ndarray | None = None, interval: np.ndarray | None = None) -> None:
        n = len(crime)
        self.parts.append({
            "event_type": np.full(n, kind, dtype=object),
            "crime": crime.astype(np.int64),
            "victim": (np.full(n, -1) if victim is None else victim).astype(np.int64),
            "at": at.astype(np.int64),
            "system": np.broadcast_to(np.asarray(system, dtype=object), (n,)).copy(),
            "in_need": np.full(n, -1, dtype=np.int8) if in_need is None else in_need.astype(np.int8),
            "outcome": np.full(n, -1, dtype=np.int16) if outcome is None else outcome.astype(np.int16),
            "court": np.full(n, "", dtype=object) if court is None else court.astype(object),
            "channel": np.full(n, "", dtype=object) if channel is None else channel.astype(object),
            "interval": np.full(n, -1, dtype=np.int16) if interval is None else interval.astype(np.int16),
        })

    def frame(self) -> pd.DataFrame:
        columns = {key: np.concatenate([part[key] for part in self.parts]) for key in self.parts[0]}
        return pd.DataFrame(columns)


@dataclass(frozen=True)
class Victims:
    """The victims' columns every stage needs, and where each crime's victims sit."""

    crime: np.ndarray          # the victim's crime position
    reported: np.ndarray       # the victim's crime's report time
    department: np.ndarray
    enhanced: np.ndarray
    rule_set: np.ndarray       # the victim's crime's rule set (RuleDeadlines index)
    index: np.ndarray          # 0..m-1
    first_of_crime: np.ndarray  # per crime: the position of its first victim
    count_of_crime: np.ndarray  # per crime: how many victims

    @classmethod
    def of(cls, crimes: pd.DataFrame, victims: pd.DataFrame) -> Victims:
        crime = victims["crime"].to_numpy()
        return cls(crime=crime, reported=crimes["reported"].to_numpy()[crime],
                   department=victims["department"].to_numpy(),
                   enhanced=victims["enhanced"].to_numpy(dtype=bool),
                   rule_set=victims["rule_set"].to_numpy(), index=np.arange(len(victims)),
                   first_of_crime=crimes["first_victim"].to_numpy(),
                   count_of_crime=crimes["victim_count"].to_numpy())

    def of_crimes(self, crimes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For crime-level rows, one row per victim of the crime: (row index, victim index)."""
        counts = self.count_of_crime[crimes]
        rows = np.repeat(np.arange(len(crimes)), counts)
        offsets = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
        return rows, self.first_of_crime[crimes][rows] + offsets

    def due(self, deadlines: RuleDeadlines, rule: str, trigger: np.ndarray, victim: np.ndarray) -> np.ndarray:
        """`due_at` of `rule` for these victims' obligations triggered at `trigger`."""
        return deadlines.due(rule, trigger, self.rule_set[victim], self.enhanced[victim])
