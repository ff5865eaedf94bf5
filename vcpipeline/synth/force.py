"""A synthetic force: a quarter's crimes, victims and the Victims Code journey of each, in the
native shapes of the four source systems (docs/sources.md).

The parts, in the order they are drawn from one seeded generator: the crimes and victims
(`synth.crimes`), each victim's journey through the investigation and their choices
(`synth.journey`), and the rows each source system holds of it (`synth.native`, written late,
corrected or bad as `synth.delivery` describes). The rates are the board paper's
(`synth.calibration`); the deadlines and the 2021 cut-over are the rule-set file's
(`synth.timing.RuleDeadlines`).

Everything is vectorised numpy over whole columns, driven by one seeded generator, and never
looks at today's date: the same spec gives the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from vcpipeline.calendar import LONDON
from vcpipeline.sources.config import SourceConfig, load_source_config
from vcpipeline.synth.attrition import carry_attrition
from vcpipeline.synth.calibration import ATTRITION_EFFECT
from vcpipeline.synth.crimes import crimes_and_victims
from vcpipeline.synth.journey import journey
from vcpipeline.synth.native import crime_recording, victim_contact, victim_support, witness_care
from vcpipeline.synth.timing import RuleDeadlines, seconds


@dataclass(frozen=True)
class ForceSpec:
    """What to generate: how many crimes, reported over which local dates, from which seed."""

    crimes: int = 80_000
    start: date = date(2026, 7, 1)
    days: int = 92
    seed: int = 42
    tail_days: int = 14   # the extract is taken this many days after the last report day
    # How often a crime whose victim got an update late or never ends in outcome 14/16 instead
    # of another outcome without charge (`synth.attrition`; 0: no link).
    attrition_effect: float = ATTRITION_EFFECT

    @property
    def window_start(self) -> pd.Timestamp:
        return pd.Timestamp(self.start).tz_localize(LONDON).tz_convert("UTC")

    @property
    def window_end(self) -> pd.Timestamp:
        return (pd.Timestamp(self.start) + pd.Timedelta(days=self.days)).tz_localize(LONDON).tz_convert("UTC")

    @property
    def extracted_at(self) -> pd.Timestamp:
        """The instant the sources are a snapshot of: nothing happens, or is written, after it."""
        return (pd.Timestamp(self.start) + pd.Timedelta(days=self.days + self.tail_days)
                ).tz_localize(LONDON).tz_convert("UTC")


@dataclass
class SyntheticForce:
    """The generated sources: native frames per source name and table, plus what was made bad."""

    spec: ForceSpec
    native: dict[str, dict[str, pd.DataFrame]]
    bad_rows: pd.DataFrame   # source, table, row_id, kind


def generate_force(spec: ForceSpec, configs: list[SourceConfig] | None = None) -> SyntheticForce:
    """Generate the four source systems' native rows for `spec` (in memory)."""
    configs = configs or load_source_config()
    by_name = {config.name: config for config in configs}
    rng = np.random.default_rng(spec.seed)
    horizon = seconds(spec.extracted_at)

    deadlines = RuleDeadlines.of()   # the rule-set file's deadlines and cut-over
    crimes, victims = crimes_and_victims(rng, spec.crimes, seconds(spec.window_start), seconds(spec.window_end),
                                         deadlines)
    events = journey(rng, crimes, victims, deadlines, horizon)
    events = carry_attrition(events, crimes, victims, deadlines, spec.attrition_effect, spec.seed)
    events = events[events["at"] <= horizon].reset_index(drop=True)

    bad: list[pd.DataFrame] = []
    native = {  # in this order: each system's rows draw from the generator in turn
        name: write_rows(rng, crimes, victims, events, horizon, by_name[name], bad)
        for name, write_rows in (("crime_recording", crime_recording), ("victim_contact", victim_contact),
                                 ("victim_support", victim_support), ("witness_care", witness_care))
    }
    bad_rows = pd.concat(bad, ignore_index=True) if bad else pd.DataFrame(
        columns=["source", "table", "row_id", "kind"])
    return SyntheticForce(spec=spec, native=native, bad_rows=bad_rows)

