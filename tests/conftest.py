"""Shared fixtures: a fresh, empty warehouse on SQLite and (when configured) PostgreSQL.

PostgreSQL runs when `VCP_TEST_POSTGRES_URL` names a server (`.ci/run` sets it); each pytest
session works in its own throw-away database there, so parallel runs never collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

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
