"""Warehouses for the return: the report's synthetic force (tests/report/conftest.py, loaded
from its file so the two never drift) and a second, smaller force of another seed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_REPORT_CONFTEST = Path(__file__).resolve().parents[1] / "report" / "conftest.py"
QUARTER = "2026Q1"  # surveyed, with the quarter before it


def _report_fixtures():
    spec = importlib.util.spec_from_file_location("_vcp_returns_report_fixtures", _REPORT_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


report_fixtures = _report_fixtures()


@pytest.fixture(scope="session")
def warehouse_a(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report's force (600 crimes over a year, seed 7) on SQLite, read-only."""
    workdir = tmp_path_factory.mktemp("return-a")
    url = f"sqlite:///{workdir / 'warehouse.db'}"
    report_fixtures.load_force(url, report_fixtures.make_force(), workdir)
    return url


@pytest.fixture(scope="session")
def warehouse_b(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A smaller force (300 crimes, seed 11) on SQLite, read-only."""
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.synth.force import ForceSpec, generate_force
    from vcpipeline.synth.summary import canonical_rows

    configs = load_source_config()
    spec = ForceSpec(crimes=300, start=report_fixtures.PERIOD_START, days=365, seed=11)
    canonical = canonical_rows(generate_force(spec, configs).native, configs)
    force = report_fixtures.Force({**canonical, "events": report_fixtures.with_victim_choices(canonical)},
                                  spec.extracted_at)
    workdir = tmp_path_factory.mktemp("return-b")
    url = f"sqlite:///{workdir / 'warehouse.db'}"
    report_fixtures.load_force(url, force, workdir)
    return url


@pytest.fixture(scope="session")
def postgres_warehouse_a(tmp_path_factory: pytest.TempPathFactory):
    """The report's force on PostgreSQL (when VCP_TEST_POSTGRES_URL is set), read-only."""
    import os
    import uuid

    import sqlalchemy as sa

    base = os.environ.get("VCP_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("PostgreSQL return tests skipped: set VCP_TEST_POSTGRES_URL="
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"vcp_returns_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        report_fixtures.load_force(url, report_fixtures.make_force(), tmp_path_factory.mktemp("return-pg"))
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def returns_dir(tmp_path_factory: pytest.TempPathFactory, warehouse_a: str, warehouse_b: str) -> dict[str, Path]:
    """Each force's return for QUARTER, built once (read-only): force code -> manifest path."""
    from vcpipeline.returns.run import build_return

    folder = tmp_path_factory.mktemp("returns")
    return {"AAA": build_return(warehouse_a, QUARTER, "AAA", folder / "a"),
            "BBB": build_return(warehouse_b, QUARTER, "BBB", folder / "b")}
