"""Benchmark: draw the quarterly dip sample from a quarter of 1M crimes (target ≤ 5 s).

Builds the crimes and victims in memory (8 departments of very different sizes, ~1.2 victims
per crime, a few crimes just outside the quarter), then times

1. `draw_sample` on parsed frames (what an Airflow task holding the warehouse rows does), and
2. `vcp sample` end to end on a canonical folder written to a temporary directory (CSV
   reading and timestamp parsing included).

Prints wall and CPU time: on the shared 2-core machine the CPU figure is the one that does
not depend on what else is running.

Usage: .venv/bin/python benchmarks/bench_sample.py [--crimes 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.cli import main as vcp
from vcpipeline.parsing import parse_instants
from vcpipeline.sampling.selection import draw_sample


def synthetic_quarter(count: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical crimes.csv / victims.csv frames (strings) for about one quarter."""
    rng = np.random.default_rng(seed)
    shares = np.array([30, 25, 20, 10, 8, 4, 2, 1], dtype=float)
    start = np.datetime64("2025-12-31T12:00:00", "s")  # half a day before, to exercise the edge
    seconds = rng.integers(0, 91 * 86400, count)
    crimes = pd.DataFrame({
        "crime_ref": [f"BM{i:08d}" for i in range(count)],
        "reported_at": np.datetime_as_string(start + seconds, unit="s"),
        "department": rng.choice(np.array(DEPARTMENTS), count, p=shares / shares.sum()),
        "offence_category": "theft",
        "domestic_abuse": "false",
        "hate_crime": "false",
    }).astype("str")
    crimes["reported_at"] = crimes["reported_at"] + "Z"
    with_victims = crimes["crime_ref"][rng.random(count) < 0.97]
    extra = with_victims[rng.random(len(with_victims)) < 0.25]
    refs = pd.concat([with_victims, extra], ignore_index=True)
    victims = pd.DataFrame({
        "crime_ref": refs,
        "victim_id": "V" + pd.Series(np.arange(len(refs)), dtype="str"),
        "age_at_report": "", "vulnerable": "false", "intimidated": "false", "persistently_targeted": "false",
    }).astype("str")
    return crimes, victims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crimes", type=int, default=1_000_000)
    count = parser.parse_args().crimes

    crimes_text, victims_text = synthetic_quarter(count)
    crimes = crimes_text.assign(reported_at=parse_instants(crimes_text["reported_at"]))

    began, cpu = time.perf_counter(), time.process_time()
    sample = draw_sample(crimes, victims_text["crime_ref"], "2026Q1")
    in_memory, in_memory_cpu = time.perf_counter() - began, time.process_time() - cpu
    print(f"draw_sample on frames: {count:,} crimes, population {sample.population_size:,}, "
          f"sample {len(sample.selected)}: {in_memory:.2f} s wall, {in_memory_cpu:.2f} s CPU")

    with tempfile.TemporaryDirectory() as folder:
        crimes_text.to_csv(Path(folder) / "crimes.csv", index=False, lineterminator="\n")
        victims_text.to_csv(Path(folder) / "victims.csv", index=False, lineterminator="\n")
        began, cpu = time.perf_counter(), time.process_time()
        status = vcp(["sample", "--input", folder, "--quarter", "2026Q1", "--out", f"{folder}/sample.csv"])
        end_to_end, end_to_end_cpu = time.perf_counter() - began, time.process_time() - cpu
    print(f"vcp sample end to end (read + parse + draw + write): {end_to_end:.2f} s wall, "
          f"{end_to_end_cpu:.2f} s CPU (exit {status})")


if __name__ == "__main__":
    main()
