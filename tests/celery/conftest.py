"""The Celery run's backing services: PostgreSQL databases of its own, a Redis database of its
own, and the figures it measured (printed at the end of the session).

Unlike tests/airflow/, nothing here configures Airflow in the pytest process: every Airflow
process (the deployment, and the `dag.test()` reference run) is a subprocess with its own
environment, so these tests can be collected beside tests/airflow/ without touching its home.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

POSTGRES_ENV = "VCP_TEST_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 7  # this test's own database on the machine's Redis: flushed before and after, nothing else

_MEASURED: list[str] = []


@pytest.fixture
def measured() -> list[str]:
    """Lines the test appends its figures to; printed in the session's summary."""
    return _MEASURED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _MEASURED:
        terminalreporter.section("CeleryExecutor run: measured")
        for line in _MEASURED:
            terminalreporter.line(line)


class Databases:
    """Create and drop databases of this test's own on the PostgreSQL server (names fixed, so a
    run that was killed leaves nothing the next run does not drop first)."""

    def __init__(self, admin_url: str) -> None:
        import sqlalchemy as sa

        self._sa = sa
        self.admin_url = sa.make_url(admin_url)
        self.engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []

    def url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str) -> str:
        assert name.startswith("vcp_celery_"), name  # never another database
        with self.engine.connect() as conn:
            conn.execute(self._sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(self._sa.text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return self.url(name)

    def drop_all(self) -> None:
        with self.engine.connect() as conn:
            for name in self.names:
                conn.execute(self._sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.engine.dispose()


@pytest.fixture
def one_run_at_a_time() -> Iterator[None]:
    """The databases' names and the Redis database are fixed: a second run on this machine
    waits for the first to finish (a lock file in the temporary folder)."""
    import fcntl
    import tempfile
    from pathlib import Path

    with (Path(tempfile.gettempdir()) / "vcp-test-celery.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def databases(one_run_at_a_time) -> Iterator[Databases]:
    """The local PostgreSQL (`VCP_TEST_POSTGRES_URL`'s server when set); fails, not skips, when
    it does not answer: `make test-celery` exists to run this for real."""
    import sqlalchemy as sa

    admin = sa.make_url(os.environ.get(POSTGRES_ENV) or DEFAULT_POSTGRES).set(database="postgres")
    found = Databases(admin.render_as_string(hide_password=False))
    try:
        yield found
    finally:
        found.drop_all()


@pytest.fixture
def redis_broker(one_run_at_a_time) -> Iterator[str]:
    """The machine's Redis on loopback as the Celery broker, in database REDIS_DB only."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    client.ping()  # fails with the reason when no Redis answers on 127.0.0.1:6379
    client.flushdb()
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    finally:
        client.flushdb()
        client.close()
