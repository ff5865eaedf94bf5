"""docker-compose.yaml and Dockerfile, checked without a Docker engine: parsed, not run."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from vcpipeline.orchestration.airflow_env import PROJECT_ROOT

AIRFLOW_SERVICES = {
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
    "airflow-triggerer",
}
LONG_RUNNING = AIRFLOW_SERVICES | {"postgres", "warehouse-db", "redis", "mailpit"}
_DEFAULTED = re.compile(r"\$\{[A-Z0-9_]+:-([^}]*)\}")


def _with_defaults(value: str) -> str:
    """What compose substitutes when no `.env` sets anything: each `${VAR:-default}` → default."""
    return _DEFAULTED.sub(lambda m: m.group(1), value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yaml").read_text())


def test_compose_has_every_airflow_component_and_backing_service(compose):
    assert set(compose["services"]) >= LONG_RUNNING | {"airflow-init"}


def test_every_long_running_service_has_a_health_check(compose):
    for name in LONG_RUNNING:
        assert compose["services"][name].get("healthcheck", {}).get("test"), name


def test_airflow_services_build_the_project_image_and_wait_for_init(compose):
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        assert service["build"]["dockerfile"] == "Dockerfile"
        assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in service["environment"]


def test_project_folders_are_mounted(compose):
    mounts = [_with_defaults(v).split(":") for v in compose["services"]["airflow-worker"]["volumes"]]
    targets = {source.removeprefix("./"): target for source, target, *_ in mounts}
    assert targets["dags"] == "/opt/airflow/dags"
    assert targets["plugins"] == "/opt/airflow/plugins"
    for folder in ("expectations", "sql", "out", "var"):  # settings.var_dir()/out_dir() point here
        assert targets[folder] == f"/opt/vcp/{folder}"


def test_environment_provides_what_the_dags_read(compose):
    from airflow.sdk import Connection

    from vcpipeline.orchestration.connections import sqlalchemy_url

    env = compose["services"]["airflow-triggerer"]["environment"]
    for key in ("AIRFLOW_CONN_VCP_WAREHOUSE", "AIRFLOW_CONN_VCP_SMTP",
                "AIRFLOW_VAR_VCP_DATA_ENGINEERING_EMAIL", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW_VAR_VCP_REVIEWERS_EMAIL",
                "AIRFLOW_VAR_VCP_SAMPLE_FOLDER", "AIRFLOW_VAR_VCP_RETURNS_FOLDER"):
        assert env.get(key), key
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"

    warehouse = Connection.from_uri(_with_defaults(env["AIRFLOW_CONN_VCP_WAREHOUSE"]), conn_id="w")
    assert sqlalchemy_url(warehouse) == "postgresql+psycopg://vcp:vcp@warehouse-db:5432/warehouse"
    smtp = json.loads(_with_defaults(env["AIRFLOW_CONN_VCP_SMTP"]))
    assert (smtp["conn_type"], smtp["host"], smtp["port"]) == ("smtp", "mailpit", 1025)
    assert "mailpit" in compose["services"]


def test_init_migrates_airflow_and_the_warehouse(compose):
    init = compose["services"]["airflow-init"]
    assert init["environment"]["_AIRFLOW_DB_MIGRATE"] == "true"
    assert "vcpipeline.warehouse.migrate upgrade head" in "\n".join(init["command"])


def test_dockerfile_installs_the_lock_on_the_official_image():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "apache/airflow:3.3.2-python3.11" in dockerfile
    assert "uv export --frozen" in dockerfile
    assert "--require-hashes" in dockerfile
    instructions = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    assert not any("_PIP_ADDITIONAL_REQUIREMENTS" in line for line in instructions)
