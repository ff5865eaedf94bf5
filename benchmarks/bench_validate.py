"""Benchmark: validate canonical events with GX (target: 1M rows well under 30 s).

Builds canonical event frames as the adapters emit them (strings; ~1 % bad rows of five kinds:
unknown type, unparseable or future time, before the report, unknown crime) and times, each in
its own process so that peak RSS is that mode's own:

- `summary`: GX alone with result_format SUMMARY over the same frame (counts only, no row ids);
- `ours`: `validate_batch` (derived columns, COMPLETE by index, reasons per row id);
- `naive`: GX COMPLETE with `unexpected_index_column_names=[source_row_id]` (row ids by key).

`ours` and `naive` are also run on a broken feed (30 % bad rows), where naive's per-failing-row
Python work shows.

GX's import (~9 s, once per process) is reported apart. Wall and CPU seconds are printed: on
the shared 2-core machine CPU is the figure that does not depend on what else is running.

Usage: .venv/bin/python benchmarks/bench_validate.py [--rows 200000 1000000] [--naive-rows 200000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from vcpipeline.canonical import EVENT_TYPES

NOW = "2026-06-01T00:00:00Z"


def synthetic_events(count: int, seed: int = 1, bad_fraction: float = 0.01) -> tuple[pd.DataFrame, pd.Series]:
    """`count` canonical events of count/5 crimes, `bad_fraction` bad, and the crimes' report instants."""
    rng = np.random.default_rng(seed)
    crimes = max(count // 5, 1)
    start = np.datetime64("2025-06-01T00:00:00", "s")
    reported = start + rng.integers(0, 300 * 86400, crimes).astype("timedelta64[s]")
    crime_of = rng.integers(0, crimes, count)
    occurred = reported[crime_of] + rng.integers(0, 30 * 86400, count).astype("timedelta64[s]")
    types = np.array(sorted(EVENT_TYPES))[rng.integers(0, len(EVENT_TYPES), count)].astype(object)
    occurred_text = np.char.add(np.datetime_as_string(occurred, unit="s"), "Z").astype(object)
    crime_refs = np.char.add("C", np.arange(crimes).astype(str))
    refs = crime_refs[crime_of].astype(object)
    bad = rng.choice(count, int(count * bad_fraction), replace=False)
    kind = np.arange(len(bad)) % 5
    types[bad[kind == 0]] = "WNT"
    occurred_text[bad[kind == 1]] = "31/02/2026 10:00"
    occurred_text[bad[kind == 2]] = "2099-01-01T00:00:00Z"
    occurred_text[bad[kind == 3]] = np.char.add(
        np.datetime_as_string(reported[crime_of[bad[kind == 3]]] - np.timedelta64(86400, "s"),
                              unit="s"), "Z")
    refs[bad[kind == 4]] = "C-UNKNOWN"
    ids = np.char.add("E", np.arange(count).astype(str))
    empty = np.full(count, "", dtype=object)
    frame = pd.DataFrame({
        "event_id": ids, "crime_ref": refs, "victim_id": empty, "event_type": types,
        "occurred_at": occurred_text, "in_need": empty, "outcome_code": empty,
        "court_result": empty, "channel": np.where(rng.random(count) < 0.5, "email", ""),
        "source_system": np.full(count, "BENCH", dtype=object), "source_row_id": ids,
        "source_modified_at": occurred_text,
    }).astype("string")
    report_times = pd.Series(np.char.add(np.datetime_as_string(reported, unit="s"), "Z"),
                             index=crime_refs, dtype="string")
    return frame, report_times


def child(rows: int, mode: str, bad_fraction: float) -> dict[str, object]:
    frame, reported = synthetic_events(rows, bad_fraction=bad_fraction)
    began = time.perf_counter()
    from vcpipeline.validation.gx import quiet_gx, validation_context

    quiet_gx()
    validation_context()
    imported = time.perf_counter() - began
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "ours":
        from vcpipeline.validation.validate import validate_batch

        result = validate_batch(frame, "canonical_events", row_id="source_row_id", now=NOW,
                                crime_reported_at=reported)
        failed = len(result.row_failures)
    else:
        from vcpipeline.validation.frame import referenced_columns, validation_frame
        from vcpipeline.validation.gx import dataframe_batch
        from vcpipeline.validation.suites import load_suite, load_suite_dict
        from vcpipeline.validation.validate import default_parameters

        document = load_suite_dict("canonical_events")
        vframe = validation_frame(frame, document["meta"]["derive"],
                                  known_crime_refs=set(reported.index.astype(str)),
                                  crime_reported_at=reported,
                                  columns=referenced_columns(document))
        result_format: object = "SUMMARY" if mode == "summary" else {
            "result_format": "COMPLETE", "unexpected_index_column_names": ["source_row_id"],
            "return_unexpected_index_query": False}
        outcome = dataframe_batch(vframe, "events").validate(
            load_suite("canonical_events"), result_format=result_format,
            expectation_parameters=default_parameters() | {"now": pd.Timestamp(NOW)})
        failed = sum(r.result.get("unexpected_count") or 0 for r in outcome.results)
    return {
        "rows": rows, "mode": mode, "bad": bad_fraction, "gx_import_s": round(imported, 2),
        "wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "failures_found": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--naive-rows", type=int, default=200_000)
    parser.add_argument("--broken-rows", type=int, default=200_000,
                        help="also compare ours and naive on a broken feed (30 %% bad rows)")
    parser.add_argument("--child", nargs=3, metavar=("ROWS", "MODE", "BAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1], float(args.child[2]))))
        return
    runs = [(rows, mode, 0.01) for rows in args.rows for mode in ("summary", "ours")]
    if args.naive_rows:
        runs.append((args.naive_rows, "naive", 0.01))
    if args.broken_rows:
        runs += [(args.broken_rows, "ours", 0.3), (args.broken_rows, "naive", 0.3)]
    print(f"{'rows':>9} {'bad':>4} {'mode':>8} {'wall s':>7} {'cpu s':>6} {'peak MB':>8} {'failures':>9}")
    for rows, mode, bad in runs:
        out = subprocess.run([sys.executable, __file__, "--child", str(rows), mode, str(bad)],
                             check=True, capture_output=True, text=True).stdout
        figures = json.loads(out.strip().splitlines()[-1])
        print(f"{rows:>9,} {bad:>4.0%} {mode:>8} {figures['wall_s']:>7} {figures['cpu_s']:>6} "
              f"{figures['peak_rss_mb']:>8} {figures['failures_found']:>9,}"
              f"   (GX import {figures['gx_import_s']} s)", flush=True)


if __name__ == "__main__":
    main()
