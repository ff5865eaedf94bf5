"""Benchmark `vcp generate` at force scale: wall time per stage and peak RSS.

    .venv/bin/python benchmarks/bench_generate.py [--crimes 1000000] [--out /tmp/vcp-bench] [--summary]

Run once (the machine is shared); record the figures in docs/performance.md.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path


def peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crimes", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/vcp-bench-generate"))
    parser.add_argument("--summary", action="store_true", help="also time the measured-rates summary")
    args = parser.parse_args()

    from vcpipeline.sources.config import load_source_config
    from vcpipeline.synth.force import ForceSpec, generate_force
    from vcpipeline.synth.write import write_force

    shutil.rmtree(args.out, ignore_errors=True)
    configs = load_source_config(var=args.out)
    timings: dict[str, float] = {}
    peaks: dict[str, float] = {}
    started = time.perf_counter()
    force = generate_force(ForceSpec(crimes=args.crimes), configs)
    timings["generate (in memory)"] = time.perf_counter() - started
    peaks["generate (in memory)"] = peak_rss_mib()

    for config in configs:
        t = time.perf_counter()
        write_force({config.name: force.native[config.name]}, [config])
        timings[f"write {config.name} ({config.kind})"] = time.perf_counter() - t
        peaks[f"write {config.name} ({config.kind})"] = peak_rss_mib()

    if args.summary:
        from vcpipeline.synth.summary import canonical_rows, measured_rates

        t = time.perf_counter()
        canonical = canonical_rows(force.native, configs)
        timings["adapters (in memory)"] = time.perf_counter() - t
        peaks["adapters (in memory)"] = peak_rss_mib()
        t = time.perf_counter()
        measured_rates(canonical, force.spec.extracted_at)
        timings["summary rates"] = time.perf_counter() - t
        peaks["summary rates"] = peak_rss_mib()

    total = time.perf_counter() - started
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    rows = {f"{s}.{t}": len(f) for s, tables in force.native.items() for t, f in tables.items()}
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file()) / 2**20
    files = sum(1 for p in args.out.rglob("*") if p.is_file())
    print(f"crimes: {args.crimes:,}")
    for name, count in rows.items():
        print(f"rows {name}: {count:,}")
    for name, seconds in timings.items():
        print(f"{name}: {seconds:.1f} s (peak RSS so far {peaks[name]:,.0f} MiB)")
    print(f"total wall: {total:.1f} s, CPU {cpu.ru_utime + cpu.ru_stime:.1f} s")
    print(f"peak RSS: {peak_rss_mib():,.0f} MiB")
    print(f"on disk: {size:,.0f} MiB in {files} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
