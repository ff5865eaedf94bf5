"""Airflow tests run against a throw-away Airflow home with a SQLite metadata DB.

Airflow reads its configuration when `airflow` is first imported, so this file points it at a
fresh home (our dags/ and plugins/, no examples) at import time, before any test module here
imports airflow; the metadata DB is created once per session (`airflow_db`).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vcpipeline import settings
from vcpipeline.orchestration import airflow_env

_HOME = Path(tempfile.mkdtemp(prefix="vcp-airflow-test-"))
# A migrated empty metadata DB is cached under var/airflow/ (keyed by Airflow version): copying it
# costs milliseconds where creating one costs ~10 s. Copied now, before anything opens it.
_CACHE = (airflow_env.PROJECT_ROOT / settings.var_dir() / "airflow").resolve()
_SEEDED = airflow_env.seed_metadata_db(_HOME, _CACHE)
airflow_env.apply(airflow_env.airflow_home_env(_HOME))

DATA_ENGINEERING = "data-engineering@force.example"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def airflow_db(airflow_home: Path) -> float:
    """The metadata DB, created once per session; the value is how long that took (seconds)."""
    started = time.perf_counter()
    airflow_env.migrate_metadata_db()
    if not _SEEDED:
        airflow_env.save_metadata_template(airflow_home, _CACHE)
    return time.perf_counter() - started


@pytest.fixture(scope="session")
def mail_sink(airflow_home: Path) -> Iterator:
    """A real SMTP server on loopback filing messages under the Airflow home."""
    from vcpipeline.orchestration.mailsink import MailSink

    with MailSink(airflow_home / "mail") as sink:
        yield sink


@pytest.fixture
def inbox(mail_sink) -> Iterator:
    """The mail sink, emptied before the test."""
    for path in mail_sink.files():
        path.unlink()
    yield mail_sink


@pytest.fixture(scope="session")
def data_engineering_address() -> str:
    return DATA_ENGINEERING


@pytest.fixture
def pipeline_connections(monkeypatch: pytest.MonkeyPatch, mail_sink, tmp_path: Path):
    """Set the DAG's connections/Variable in the environment; returns a setter for the warehouse URL."""

    def configure(warehouse_url: str) -> None:
        env = airflow_env.pipeline_env(
            warehouse_url=warehouse_url,
            smtp_host=mail_sink.host,
            smtp_port=mail_sink.port,
            data_engineering_email=DATA_ENGINEERING,
        )
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    return configure
