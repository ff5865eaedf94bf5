"""docker-compose.yaml and Dockerfile, checked without a Docker engine: parsed, not run.

Compose's variable interpolation is reproduced here (`${VAR}`, `:-`, `-`, `:?`, `?`, `:+`, `$$`)
so the file can be read as compose would read it with a given `.env`: none, the demo's
env file, or a production one.
"""

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
SECRETS = {"AIRFLOW_DB_PASSWORD", "VCP_WAREHOUSE_PASSWORD", "AIRFLOW_JWT_SECRET", "AIRFLOW_FERNET_KEY"}
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
PRODUCTION_ENV = {name: f"secret-{name.lower()}" for name in SECRETS} | {
    "VCP_SMTP_HOST": "relay.force.example", "VCP_SMTP_LOGIN": "vcp", "VCP_SMTP_PASSWORD": "pw"}


def interpolate(node, env: dict[str, str], missing: set[str]):
    """`node` with every string interpolated as compose does; required variables unset → `missing`."""
    if isinstance(node, dict):
        return {key: interpolate(value, env, missing) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env, missing) for value in node]
    if not isinstance(node, str):
        return node

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if name is None:
            return "$"
        value = env.get(name)
        unset = value is None or ((operator or "").startswith(":") and value == "")
        if operator in {":?", "?"} and unset:
            missing.add(name)
            return ""
        if operator in {":-", "-"}:
            return argument if unset else value
        if operator in {":+", "+"}:
            return "" if unset else argument
        return value or ""

    return _VARIABLE.sub(substitute, node)


def env_file(path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


@pytest.fixture(scope="module")
def raw_compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yaml").read_text())


@pytest.fixture(scope="module")
def demo_env() -> dict[str, str]:
    return env_file(PROJECT_ROOT / "docker-compose.demo.env")


@pytest.fixture(scope="module")
def compose(raw_compose, demo_env) -> dict:
    """The compose file as the demo reads it (`--env-file docker-compose.demo.env`)."""
    missing: set[str] = set()
    interpolated = interpolate(raw_compose, demo_env, missing)
    assert not missing
    return interpolated


def _smtp_connection(compose_file: dict):
    from airflow.sdk import Connection

    spec = json.loads(compose_file["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_VCP_SMTP"])
    return Connection(conn_id="vcp_smtp", conn_type=spec["conn_type"], host=spec["host"],
                      port=spec["port"], login=spec["login"], password=spec["password"],
                      extra=json.dumps(spec["extra"]))


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
    mounts = [v.split(":") for v in compose["services"]["airflow-worker"]["volumes"]]
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

    warehouse = Connection.from_uri(env["AIRFLOW_CONN_VCP_WAREHOUSE"], conn_id="w")
    assert sqlalchemy_url(warehouse) == (
        "postgresql+psycopg://vcp:demo-only-warehouse@warehouse-db:5432/warehouse")
    smtp = json.loads(env["AIRFLOW_CONN_VCP_SMTP"])
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


def test_without_an_env_file_compose_refuses_to_start_for_each_missing_secret(raw_compose):
    missing: set[str] = set()
    interpolate(raw_compose, {}, missing)
    assert missing == SECRETS | {"VCP_SMTP_HOST"}


def test_no_secret_has_a_placeholder_default():
    text = (PROJECT_ROOT / "docker-compose.yaml").read_text()
    for name in SECRETS | {"VCP_SMTP_HOST"}:
        uses = re.findall(r"\$\{" + name + r"(:?[-?+]?)", text)
        assert uses and set(uses) == {":?"}, name
    assert "change-me" not in text
    assert not re.search(r"//\w+:\w+@", text)  # no password written into a URL


def test_a_production_env_supplies_everything_and_the_demo_profile_is_off(raw_compose):
    missing: set[str] = set()
    production = interpolate(raw_compose, PRODUCTION_ENV, missing)
    assert not missing
    env = production["services"]["airflow-worker"]["environment"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "secret-airflow_jwt_secret"
    assert env["AIRFLOW__CORE__FERNET_KEY"] == "secret-airflow_fernet_key"


def test_mailpit_runs_only_in_the_demo_profile_which_the_demo_env_file_selects(compose, demo_env):
    assert compose["services"]["mailpit"]["profiles"] == ["demo"]
    assert demo_env["COMPOSE_PROFILES"] == "demo"
    for name in AIRFLOW_SERVICES:  # without the demo profile nothing waits for Mailpit
        assert compose["services"][name]["depends_on"]["mailpit"]["required"] is False
    others = set(compose["services"]) - {"mailpit", "airflow-cli"}
    assert not any(compose["services"][name].get("profiles") for name in others)


def test_every_published_port_is_bound_to_loopback(compose):
    published = []
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).rsplit(":", 2)[0]
            published.append((name, host_ip))
    assert {name for name, _ in published} >= {"airflow-apiserver", "mailpit", "warehouse-db"}
    assert all(host_ip == "127.0.0.1" for _, host_ip in published), published


def test_smtp_connection_uses_starttls_and_only_the_demo_turns_it_off_without_a_login(
        raw_compose, compose):
    from vcpipeline.alerts.deliver import (
        InsecureSmtpConnection,
        refuse_login_without_tls,
    )

    production = _smtp_connection(interpolate(raw_compose, PRODUCTION_ENV, set()))
    assert production.login == "vcp"
    assert production.extra_dejson["disable_tls"] is False  # STARTTLS on
    assert (production.host, production.port) == ("relay.force.example", 587)
    refuse_login_without_tls(production)

    demo = _smtp_connection(compose)
    assert demo.extra_dejson["disable_tls"] is True and not demo.login and not demo.password
    refuse_login_without_tls(demo)

    careless = _smtp_connection(
        interpolate(raw_compose, PRODUCTION_ENV | {"VCP_SMTP_DISABLE_TLS": "true"}, set()))
    with pytest.raises(InsecureSmtpConnection, match="clear text"):
        refuse_login_without_tls(careless)


def test_the_alert_sender_refuses_a_login_without_tls_before_connecting(monkeypatch):
    from email.message import EmailMessage

    from vcpipeline.alerts.deliver import InsecureSmtpConnection, smtp_hook_sender

    monkeypatch.setenv("AIRFLOW_CONN_VCP_PLAIN_LOGIN", json.dumps({
        "conn_type": "smtp", "host": "192.0.2.1", "port": 25, "login": "vcp", "password": "pw",
        "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "a@force.example"}}))
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@force.example", "b@force.example", "x"
    with pytest.raises(InsecureSmtpConnection):  # not a timeout: it never dials 192.0.2.1
        smtp_hook_sender("vcp_plain_login")(message)


def test_every_module_the_image_and_init_run_exists():
    """A module moved in the package fails here, not at `docker compose build` or `up`."""
    import importlib.util

    text = (PROJECT_ROOT / "Dockerfile").read_text() + (PROJECT_ROOT / "docker-compose.yaml").read_text()
    modules = set(re.findall(r"(?:import|-m) (vcpipeline[\w.]*)", text))
    modules |= {m for found in re.findall(r"import (vcpipeline[\w.]*(?:, vcpipeline[\w.]*)+)", text)
                for m in found.split(", ")}
    assert len(modules) >= 3, modules
    assert all(importlib.util.find_spec(module) for module in modules), modules


def test_the_worker_service_scales_with_docker_compose_up_scale(raw_compose, compose):
    """`docker compose up --scale airflow-worker=N` starts N replicas. Compose refuses to scale a
    service with a container_name or a fixed published host port, and replicas given one hostname
    would share one Celery node name (the broker then sees one worker) and one hostname on every
    task instance: so the worker has none of these, each replica keeps its container's own
    hostname, and its Celery node name and health check follow that hostname."""
    import shlex

    worker = compose["services"]["airflow-worker"]
    assert not {"container_name", "hostname", "ports", "network_mode", "pid"} & worker.keys()
    assert worker.get("deploy", {}).get("replicas") in (None, 1)  # N comes from --scale
    command = worker["command"] if isinstance(worker["command"], list) else shlex.split(worker["command"])
    assert command[:2] == ["celery", "worker"]
    for flag in ("-H", "--celery-hostname"):  # a node name, if given, must carry the hostname (%h)
        if flag in command:
            assert "%h" in command[command.index(flag) + 1], command
    # The health check pings this replica's own node: compose turns `$$` into `$`, the container's
    # shell expands HOSTNAME (its own container id) when the check runs.
    assert 'inspect ping -d "celery@${HOSTNAME}"' in worker["healthcheck"]["test"][1]
    env = worker["environment"]
    assert "AIRFLOW__CORE__HOSTNAME_CALLABLE" not in env  # the default: the container's hostname
    assert int(env["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) >= 1
    production = interpolate(raw_compose, PRODUCTION_ENV | {"AIRFLOW_WORKER_CONCURRENCY": "6"}, set())
    assert production["services"]["airflow-worker"]["environment"][
        "AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "6"
    # Every replica reaches the same broker, metadata DB, API server and shared folders.
    common = compose["services"]["airflow-scheduler"]["environment"]
    for key in ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL"):
        assert env[key] == common[key], key
    assert "@redis:" in env["AIRFLOW__CELERY__BROKER_URL"]
    assert "://airflow-apiserver:" in env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
