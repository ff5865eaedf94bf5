"""A small generated force (once per session) and per-test copies of it, plus warehouse helpers."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from vcpipeline.sources.config import SourceConfig, load_source_config
from vcpipeline.synth.force import ForceSpec, SyntheticForce, generate_force
from vcpipeline.synth.write import write_force

LONDON = ZoneInfo("Europe/London")
SPEC = ForceSpec(crimes=2_000, start=datetime(2026, 7, 1).date(), days=30, seed=11, tail_days=14)
FIRST_NIGHT = datetime(2026, 7, 6, 2, tzinfo=LONDON)  # the nightly run at 02:00 on 6 July (local)


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> tuple[Path, SyntheticForce]:
    """The force written once: its root folder (sources/, landing/) and the generated frames."""
    root = tmp_path_factory.mktemp("ingest-force")
    configs = load_source_config(var=root)
    force = generate_force(SPEC, configs)
    write_force(force.native, configs)
    return root, force


@pytest.fixture
def force_root(generated, tmp_path) -> Path:
    """A private copy of the generated sources: a test may change its drop files."""
    root = tmp_path / "force"
    shutil.copytree(generated[0], root)
    return root


@pytest.fixture
def configs(force_root) -> list[SourceConfig]:
    return load_source_config(var=force_root)


