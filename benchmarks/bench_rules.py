"""Benchmark the rule engine: a full evaluation at force scale, and `vcp sla` against its I/O floor.

    .venv/bin/python benchmarks/bench_rules.py [--victims 1000000] [--sla-crimes 100000]

1. `evaluate` over ~1,000,000 victims (~10M events), typed frames built here (vectorised),
   wall time and peak RSS (`resource.getrusage`). Target: <= 60 s, <= 6 GB.
2. `vcp sla` on a ~100,000-crime canonical folder, against the floor: pandas reading the three
   CSVs and writing a CSV the size of the output. Target: <= 3x the floor.
Run it once (the machine is shared); record the figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from vcpipeline.canonical import DEPARTMENTS

AS_OF = pd.Timestamp("2026-03-31T12:00:00Z")
_US_PER_DAY = 86_400 * 1_000_000

# Event types with rough weights per victim (updates and triggers dominate real data).
_EVENT_MIX = {
    "WRITTEN_ACKNOWLEDGEMENT": 1.0, "NEEDS_ASSESSMENT": 1.0, "SUPPORT_REFERRAL": 0.4,
    "REFERRAL_DECLINED": 0.2, "SUSPECT_ARRESTED": 0.6, "SUSPECT_INTERVIEWED": 0.5,
    "SUSPECT_BAILED": 0.3, "SUSPECT_RELEASED_UNDER_INVESTIGATION": 0.3, "SUSPECT_CHARGED": 0.3,
    "DECISION_NOT_TO_INVESTIGATE": 0.3, "VICTIM_UPDATE": 2.5, "CRIME_FINALISED": 0.8,
    "COURT_OUTCOME": 0.2, "OUTCOME_COMMUNICATED": 0.6, "VPS_OFFERED": 0.2, "VPS_TAKEN": 0.1,
    "VPS_USED": 0.05, "VPS_USE_COMMUNICATED": 0.05, "CRIME_REPORTED": 0.15,
}
_OFFENCES = np.array(["theft", "burglary", "criminal_damage", "assault", "fraud",
                      "sexual_offence", "gbh_with_intent", "kidnap"])
_OFFENCE_WEIGHTS = np.array([0.35, 0.2, 0.15, 0.18, 0.07, 0.03, 0.015, 0.005])


def _labels(prefix: str, numbers: np.ndarray) -> pd.Series:
    """`prefix` + number as an Arrow-backed string column, built without a Python loop."""
    text = pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")
    return pd.Series(pd.array(text, dtype="string[pyarrow]"))


def synthetic_force(victims: int, seed: int | Sequence[int] = 7, *, first_crime: int = 0,
                    first_victim: int = 0, first_event: int = 0,
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Typed crimes/victims/events frames as `prepare` returns them, ~10 events per victim.

    One chunk of a larger history when given the numbers its labels start from (`first_crime`,
    `first_victim`, `first_event`: the counts of the chunks before it) and a seed of its own
    (`synthetic_history.chunk_seed`): crime refs CR<n>, victim ids P<1,000,000 + n> and event
    ids E<n> are then unique across chunks. With the defaults, the whole force as before."""
    rng = np.random.default_rng(seed)
    per_crime = rng.choice([1, 2, 3, 4], size=int(victims / 1.45) + 10, p=[0.7, 0.18, 0.09, 0.03])
    per_crime = per_crime[: np.searchsorted(np.cumsum(per_crime), victims) + 1]
    n_crimes = per_crime.size
    start = pd.Timestamp("2019-06-01T00:00:00Z").value // 1000
    span = (pd.Timestamp("2026-03-30T00:00:00Z").value // 1000) - start
    reported = start + rng.integers(0, span, n_crimes)
    crimes = pd.DataFrame({
        "crime_ref": _labels("CR", first_crime + np.arange(n_crimes)),
        "reported_at": pd.DatetimeIndex(reported.view("datetime64[us]")).tz_localize("UTC"),
        "department": pd.Categorical(rng.choice(DEPARTMENTS, n_crimes)).astype("string"),
        "offence_category": pd.Series(rng.choice(_OFFENCES, n_crimes, p=_OFFENCE_WEIGHTS)).astype("string"),
        "domestic_abuse": rng.random(n_crimes) < 0.12,
        "hate_crime": rng.random(n_crimes) < 0.03,
    })
    crime_of_victim = np.repeat(np.arange(n_crimes), per_crime)
    n_victims = crime_of_victim.size
    ages = rng.integers(8, 90, n_victims).astype(float)
    ages[rng.random(n_victims) < 0.1] = np.nan
    victims_frame = pd.DataFrame({
        "crime_ref": crimes["crime_ref"].array.take(crime_of_victim),
        "victim_id": _labels("P", first_victim + rng.permutation(n_victims) + 1_000_000),
        "age_at_report": pd.array(ages, dtype="Float64").astype("Int64"),
        "vulnerable": rng.random(n_victims) < 0.08,
        "intimidated": rng.random(n_victims) < 0.04,
        "persistently_targeted": rng.random(n_victims) < 0.02,
    })
    types = list(_EVENT_MIX)
    weights = np.array(list(_EVENT_MIX.values()))
    per_victim = rng.poisson(weights.sum(), n_victims)
    n_events = int(per_victim.sum())
    owner = np.repeat(np.arange(n_victims), per_victim)
    kind = rng.choice(len(types), n_events, p=weights / weights.sum()).astype(np.int8)

    def is_kind(*names: str) -> np.ndarray:
        return np.isin(kind, [types.index(n) for n in names])

    delay = (rng.exponential(12.0, n_events) * _US_PER_DAY).astype(np.int64)
    occurred = reported[crime_of_victim[owner]] + delay
    crime_level = is_kind("SUSPECT_ARRESTED", "SUSPECT_CHARGED", "CRIME_FINALISED", "COURT_OUTCOME",
                          "SUSPECT_BAILED") & (rng.random(n_events) < 0.7)
    victim_ids = victims_frame["victim_id"].array.take(np.where(crime_level, -1, owner), allow_fill=True)
    finalised = is_kind("CRIME_FINALISED")
    outcome = pd.array(rng.integers(0, 23, n_events), dtype="Int64")
    outcome[~finalised] = pd.NA
    results = pa.array(["SENTENCED", "ACQUITTED", "ADJOURNED", "DISCONTINUED"])
    court = results.take(pa.array(rng.integers(0, 4, n_events), mask=~is_kind("COURT_OUTCOME")))
    in_need = pd.array(rng.random(n_events) < 0.4, dtype="boolean")
    in_need[~is_kind("NEEDS_ASSESSMENT")] = pd.NA
    events = pd.DataFrame({
        "event_id": _labels("E", first_event + rng.permutation(n_events)),
        "crime_ref": crimes["crime_ref"].array.take(crime_of_victim[owner]),
        "victim_id": victim_ids,
        "event_type": pd.array(pa.array(types).take(pa.array(kind)), dtype="string[pyarrow]"),
        "occurred_at": pd.DatetimeIndex(occurred.view("datetime64[us]")).tz_localize("UTC"),
        "in_need": in_need,
        "outcome_code": outcome,
        "court_result": pd.array(court, dtype="string[pyarrow]"),
        "channel": pd.array(pa.nulls(n_events, pa.large_string()), dtype="string[pyarrow]"),
    })
    return crimes, victims_frame, events


def write_canonical_folder(crimes: pd.DataFrame, victims: pd.DataFrame, events: pd.DataFrame,
                           folder: Path) -> None:
    """The frames as a canonical input folder (CONTRACT.md text)."""
    from vcpipeline.rules.keys import utc_text

    def format_instants(values: pd.Series) -> pd.Series:
        return pd.Series(pd.array(utc_text(pd.DatetimeIndex(values).as_unit("us").asi8), dtype="string"))

    folder.mkdir(parents=True, exist_ok=True)
    text = crimes.assign(
        reported_at=format_instants(crimes["reported_at"]),
        domestic_abuse=np.where(crimes["domestic_abuse"], "true", "false"),
        hate_crime=np.where(crimes["hate_crime"], "true", "false"))
    text.to_csv(folder / "crimes.csv", index=False, lineterminator="\n")
    flags = ("vulnerable", "intimidated", "persistently_targeted")
    victims.assign(**{f: np.where(victims[f], "true", "false") for f in flags}).to_csv(
        folder / "victims.csv", index=False, lineterminator="\n")
    events.assign(
        occurred_at=format_instants(events["occurred_at"]),
        in_need=events["in_need"].astype("string").str.lower().fillna(""),
    ).to_csv(folder / "events.csv", index=False, lineterminator="\n")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def bench_evaluate(victims: int) -> None:
    from vcpipeline.rules.engine import evaluate
    from vcpipeline.rules.ruleset import load_rulesets

    began = time.perf_counter()
    crimes, victims_frame, events = synthetic_force(victims)
    built = time.perf_counter() - began
    print(f"built {len(crimes):,} crimes, {len(victims_frame):,} victims, {len(events):,} events "
          f"in {built:.1f} s; peak RSS so far {peak_rss_gb():.2f} GB")
    rulesets = load_rulesets()
    began = time.perf_counter()
    obligations = evaluate(crimes, victims_frame, events, AS_OF, rulesets)
    took = time.perf_counter() - began
    print(f"evaluate: {len(obligations):,} obligations in {took:.1f} s wall; "
          f"peak RSS {peak_rss_gb():.2f} GB")
    print(obligations["status"].value_counts().to_string())


def bench_sla(n_crimes: int) -> None:
    from vcpipeline.cli import main

    victims = int(n_crimes * 1.45)
    crimes, victims_frame, events = synthetic_force(victims, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "canonical"
        write_canonical_folder(crimes, victims_frame, events, folder)
        out = Path(tmp) / "obligations.csv"
        began = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()) as err:
            code = main(["sla", "--input", str(folder), "--as-of", AS_OF.isoformat(), "--out", str(out)])
        sla = time.perf_counter() - began
        assert code == 0, err.getvalue()
        size = out.stat().st_size

        began = time.perf_counter()
        frames = [pd.read_csv(folder / f"{name}.csv") for name in ("crimes", "victims", "events")]
        read = time.perf_counter() - began
        same_size = pd.read_csv(out, dtype=str, keep_default_na=False)
        began = time.perf_counter()
        same_size.to_csv(Path(tmp) / "floor.csv", index=False, lineterminator="\n")
        write = time.perf_counter() - began
        floor = read + write
        print(f"vcp sla: {len(crimes):,} crimes, {len(victims_frame):,} victims, {sum(map(len, frames[2:])):,} "
              f"events -> {len(same_size):,} obligations ({size / 1e6:.0f} MB) in {sla:.2f} s")
        print(f"floor: read 3 CSVs {read:.2f} s + write output-sized CSV {write:.2f} s = {floor:.2f} s; "
              f"ratio {sla / floor:.2f}x")
        print(err.getvalue().strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--victims", type=int, default=1_000_000)
    parser.add_argument("--sla-crimes", type=int, default=100_000)
    parser.add_argument("--skip-evaluate", action="store_true")
    parser.add_argument("--skip-sla", action="store_true")
    args = parser.parse_args()
    if not args.skip_sla:
        bench_sla(args.sla_crimes)
    if not args.skip_evaluate:
        bench_evaluate(args.victims)


if __name__ == "__main__":
    main()
