"""A small generated force shared by the synth tests (generated once per session: it is pure)."""

from __future__ import annotations

import pytest

from vcpipeline.sources.config import load_source_config
from vcpipeline.synth.force import ForceSpec, SyntheticForce, generate_force
from vcpipeline.synth.write import write_force


@pytest.fixture(scope="session")
def force_root(tmp_path_factory):
    return tmp_path_factory.mktemp("force")


@pytest.fixture(scope="session")
def force_configs(force_root):
    return load_source_config(var=force_root)


@pytest.fixture(scope="session")
def small_force(force_configs) -> SyntheticForce:
    return generate_force(ForceSpec(crimes=12_000, seed=7), force_configs)


@pytest.fixture(scope="session")
def written_force(small_force, force_configs, force_root):
    write_force(small_force.native, force_configs)
    return force_root


@pytest.fixture(scope="session")
def read_back(written_force, force_configs):
    """Every written source read back through the real readers: {source name: {table: frame}}."""
    from vcpipeline.sources.readers import extract

    return {config.name: extract(config) for config in force_configs}
