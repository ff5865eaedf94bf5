"""The demo's regional picture: two more small synthetic forces, each in its own warehouse, and the
three forces' quarterly returns combined as `vcp return combine` would.

A region's tables are built from returns alone (no force sends victims' records), so each extra
force needs only what its return reads: its sources generated, loaded (one batch per source, as
`vcp ingest --all-until` does), its obligations evaluated and its summaries stored, as of the same
night as the main force's last run. That is the real pipeline without Airflow, the dip sample or
the e-mails, so the extra forces cost seconds, not minutes. Without a dip sample their returns
carry no survey figures, and the combined survey rows are partial, as they would be for a force
that had not published one.

The force codes are made up and say so (`DEMO-…`): no real force's figures are implied.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from vcpipeline import settings

MAIN_FORCE = "DEMO-A"


@dataclass(frozen=True)
class ExtraForce:
    """A small synthetic force: its made-up code, its crimes in the quarter and its random seed."""

    code: str
    crimes: int
    seed: int


EXTRA_FORCES = (ExtraForce("DEMO-B", 4_000, 1_004), ExtraForce("DEMO-C", 7_000, 1_007))


@dataclass
class RegionResult:
    """Where the returns went, and how long the extra forces and the combining took."""

    returns: list[Path]  # the manifests, the main force's first
    combined: Path
    seconds: float
    warehouse_urls: list[str]  # the extra forces' warehouses


def forces_dir() -> Path:
    """Each extra force's sources and warehouse live under `var/demo-forces/<code>/`."""
    return settings.var_dir() / "demo-forces"


def build_small_force(folder: Path, force: ExtraForce, start: date, days: int, as_of: datetime) -> str:
    """Generate `force` into `folder` (sources/, warehouse.db; emptied first), load everything its
    sources hold before `as_of`, evaluate its obligations and store its summaries; its warehouse URL.

    `days` of reports from `start`, the extract taken at their end (as the main force's demo)."""
    from vcpipeline.errors import InputError
    from vcpipeline.ingest.run import run_source_batch
    from vcpipeline.ingest.windows import EPOCH
    from vcpipeline.rules.store import refresh_obligations
    from vcpipeline.rules.summaries import load_summaries
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.synth.force import ForceSpec, generate_force
    from vcpipeline.synth.write import write_force
    from vcpipeline.warehouse.db import make_engine
    from vcpipeline.warehouse.migrate import upgrade

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    configs = load_source_config(var=folder)
    spec = ForceSpec(crimes=force.crimes, start=start, days=days, seed=force.seed, tail_days=0)
    write_force(generate_force(spec, configs).native, configs)

    url = f"sqlite:///{(folder / 'warehouse.db').resolve()}"
    upgrade(url)
    engine = make_engine(url)
    try:
        for config in configs:  # sources.toml order: the crimes first
            result = run_source_batch(config, EPOCH, as_of, engine, configs=configs)
            if result.status != "succeeded":
                raise InputError(f"{force.code}: {config.name} batch failed: {result.message}")
        refresh_obligations(engine, as_of)
        load_summaries(engine, as_of)
    finally:
        engine.dispose()
    return url


def build_region(main_warehouse_url: str, quarter: str, start: date, days: int, as_of: datetime,
                 returns_folder: Path, *, main_force: str = MAIN_FORCE,
                 extra_forces: Sequence[ExtraForce] = EXTRA_FORCES,
                 forces_folder: Path | None = None) -> RegionResult:
    """The main force's return for `quarter`, the extra forces built and their returns written,
    and the three combined into `returns_folder/combined/`."""
    from vcpipeline.returns.run import build_return, combine_files

    t0 = time.perf_counter()
    folder = forces_folder if forces_folder is not None else forces_dir()
    manifests = [build_return(main_warehouse_url, quarter, main_force, returns_folder)]
    urls = [build_small_force(folder / force.code, force, start, days, as_of) for force in extra_forces]
    manifests += [build_return(url, quarter, force.code, returns_folder)
                  for url, force in zip(urls, extra_forces, strict=True)]
    combined = combine_files(manifests, returns_folder / "combined")
    return RegionResult(returns=manifests, combined=combined, seconds=time.perf_counter() - t0,
                        warehouse_urls=urls)
