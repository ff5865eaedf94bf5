"""Shared fixtures and the rules every test session keeps.

- Tests write only into temporary folders: this file points `VCP_OUT_DIR` and `VCP_VAR_DIR` at a
  folder of the session's own when it is imported (before any test module or other conftest uses
  `vcpipeline.settings`), and the session fails, naming the paths, if anything under the checkout's
  `out/` or `var/` (the user's demo) changed while it ran.
- Hypothesis is repeatable: the default profile ("repeatable") derives its examples from each test
  and keeps no example database, so a run fails or passes the same way on every clone; `make fuzz`
  selects the "fuzz" profile (random, FUZZ_FACTOR times each test's examples). A failure fuzzing
  finds is pinned in its test as an `@example`, so the repeatable run checks it from then on.
- A fresh, empty warehouse on SQLite and (when configured) PostgreSQL. PostgreSQL runs when
  `VCP_TEST_POSTGRES_URL` names a server (`.ci/run` sets it); each pytest session works in its own
  throw-away database there, so parallel runs never collide.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

pytest_plugins = ["pytester"]

# --- tests write only into temporary folders ------------------------------------------------------

CHECKOUT = Path(__file__).resolve().parents[1]
GUARDED = ("out", "var")  # the demo's outputs and working state, never the tests'

SCRATCH = Path(tempfile.mkdtemp(prefix="vcp-test-session-"))
os.environ["VCP_OUT_DIR"] = str(SCRATCH / "out")
os.environ["VCP_VAR_DIR"] = str(SCRATCH / "var")
os.environ.pop("VCP_WAREHOUSE_URL", None)  # the default warehouse is then SCRATCH/var/warehouse.db
# Hypothesis keeps caches (constants, unicode data) in ./.hypothesis unless told otherwise.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(SCRATCH / "hypothesis"))


def checkout_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under `root`'s guarded folders with its modification time and size."""
    state: dict[str, tuple[int, int]] = {}
    for name in GUARDED:
        top = root / name
        if not top.exists():
            continue
        found = [top]
        for folder, subfolders, files in os.walk(top):
            found += [Path(folder, n) for n in (*subfolders, *files)]
        for path in found:
            info = path.lstat()
            state[path.relative_to(root).as_posix()] = (info.st_mtime_ns, info.st_size)
    return state


def changed_paths(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """Paths created, removed or modified between two `checkout_state`s, each saying which."""
    return sorted(
        [f"created  {p}" for p in after.keys() - before.keys()]
        + [f"removed  {p}" for p in before.keys() - after.keys()]
        + [f"modified {p}" for p in before.keys() & after.keys() if before[p] != after[p]]
    )


_CHECKOUT_BEFORE = checkout_state(CHECKOUT)
_CHANGED = pytest.StashKey[list[str]]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    changed = changed_paths(_CHECKOUT_BEFORE, checkout_state(CHECKOUT))
    session.config.stash[_CHANGED] = changed
    if changed:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    changed = config.stash.get(_CHANGED, [])
    if changed:
        terminalreporter.section(f"FAILED: tests wrote into the checkout's {' and '.join(GUARDED)}",
                                 sep="!", red=True, bold=True)
        for line in changed:
            terminalreporter.line(f"{line}  (under {CHECKOUT})", red=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(SCRATCH, ignore_errors=True)


# --- hypothesis: repeatable by default, `make fuzz` searches longer -------------------------------

FUZZ_FACTOR = 25
# Nothing in the repeatable run depends on the clock either: no deadlines, no too-slow health check.
hypothesis_settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True,
                                     deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.register_profile("fuzz", derandomize=False, database=None, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("VCP_HYPOTHESIS_PROFILE", "repeatable"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under the fuzz profile every hypothesis test tries FUZZ_FACTOR times its own number of examples.

    Tests state their budget for the repeatable run in `@settings(max_examples=...)`, which a
    profile cannot override; Hypothesis reads a test's settings when it runs, so they are scaled here.
    """
    if os.environ.get("VCP_HYPOTHESIS_PROFILE") != "fuzz":
        return
    for function in {id(item.obj): item.obj for item in items
                     if hasattr(getattr(item, "obj", None), "hypothesis")}.values():
        current = function._hypothesis_internal_use_settings
        function._hypothesis_internal_use_settings = hypothesis_settings(
            current, max_examples=current.max_examples * FUZZ_FACTOR)


# --- warehouses -----------------------------------------------------------------------------------

POSTGRES_ENV = "VCP_TEST_POSTGRES_URL"
POSTGRES_HOWTO = (
    f"PostgreSQL warehouse tests skipped: set {POSTGRES_ENV}="
    "postgresql+psycopg://postgres@127.0.0.1:5432/test (or run `make test-postgres`)"
)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A database of this session's own on the configured server, dropped at the end."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(POSTGRES_HOWTO)
    import sqlalchemy as sa

    name = f"vcp_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        sa.create_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty warehouse database URL, on each backend in turn."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
        return
    import sqlalchemy as sa

    url = request.getfixturevalue("postgres_server_url")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    yield url


@pytest.fixture
def migrated_warehouse(warehouse_url: str) -> str:
    """A warehouse at the newest schema (every Alembic migration applied)."""
    from vcpipeline.warehouse.migrate import upgrade

    upgrade(warehouse_url)
    return warehouse_url


@pytest.fixture
def engine(migrated_warehouse: str) -> Iterator[Engine]:
    """An engine on the migrated warehouse, disposed after the test (SQLite, or PostgreSQL with
    VCP_TEST_POSTGRES_URL)."""
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(migrated_warehouse)
    yield engine
    engine.dispose()
