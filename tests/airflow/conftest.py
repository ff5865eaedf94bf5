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
# A migrated empty metadata DB is cached in the user's cache folder (keyed by Airflow version), never
# in the checkout: copying it costs milliseconds where creating one costs ~10 s. Copied now, before
# anything opens it.
_CACHE = settings.cache_dir() / "airflow"
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


# --- for the alert task and the quarterly DAGs (victims_code_quarterly_sample, review ingest) ---

REVIEWERS = "dip-sample-reviewers@force.example"


def prepare_for_alerts(warehouse_url: str) -> None:
    """What the nightly `send_alerts` task reads besides the night's results: the team reference
    (a default lead per department)."""
    from datetime import UTC, datetime

    import pandas as pd

    from vcpipeline.alerts.reference import store_team_leads
    from vcpipeline.canonical import DEPARTMENTS
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(warehouse_url)
    try:
        with engine.begin() as conn:
            store_team_leads(conn, pd.DataFrame({
                "department": list(DEPARTMENTS), "team": "",
                "lead_name": [f"Lead {d.title()}" for d in DEPARTMENTS],
                "lead_email": [f"{d.lower()}.lead@force.example" for d in DEPARTMENTS],
            }), datetime.now(UTC))
    finally:
        engine.dispose()


@pytest.fixture
def sampling_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """The sampling DAGs' Variables in the environment: reviewers' address and folders under tmp."""
    from vcpipeline.orchestration.variables import variables_env

    folders = {"sample": tmp_path / "sample", "returns": tmp_path / "returns"}
    env = variables_env(reviewers_email=REVIEWERS, sample_folder=folders["sample"],
                        returns_folder=folders["returns"],
                        data_docs_url=(tmp_path / "data_docs" / "index.html").as_uri())
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return folders


def load_quarter_crimes(url: str, quarter_start: str, departments: dict[str, int]) -> list[str]:
    """A few crimes (each with a victim) reported in the quarter starting on `quarter_start`."""
    from datetime import UTC, datetime

    import pandas as pd

    from vcpipeline.warehouse.db import make_engine
    from vcpipeline.warehouse.load import start_batch, upsert_crimes, upsert_victims

    start = pd.Timestamp(quarter_start, tz="Europe/London")
    crimes = pd.DataFrame([
        {"crime_ref": f"{department}/{number:02d}", "department": department,
         "reported_at": (start + pd.Timedelta(days=7 * number, hours=9)).tz_convert("UTC")}
        for department, count in departments.items() for number in range(1, count + 1)
    ])
    extracted = pd.Timestamp("2026-10-01T00:30:00Z")
    crimes = crimes.assign(offence_category="burglary", domestic_abuse=False, hate_crime=False,
                           source_system="crime_recording", source_row_id=crimes["crime_ref"],
                           extracted_at=extracted)
    victims = pd.DataFrame({
        "crime_ref": crimes["crime_ref"], "victim_id": "V1", "age_at_report": 40, "vulnerable": False,
        "intimidated": False, "persistently_targeted": False, "source_system": "crime_recording",
        "source_row_id": crimes["crime_ref"] + "/V1", "extracted_at": extracted,
    })
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            batch = start_batch(conn, "crime_recording", datetime(2026, 1, 1, tzinfo=UTC),
                                datetime(2026, 9, 30, tzinfo=UTC))
            upsert_crimes(conn, crimes, batch)
            upsert_victims(conn, victims, batch)
    finally:
        engine.dispose()
    return crimes["crime_ref"].tolist()
