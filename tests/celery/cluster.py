"""A real Airflow 3.3 deployment with the CeleryExecutor, started as subprocesses on this machine.

The processes Airflow 3.3 needs (as docker-compose.yaml runs them): the API server (the UI's REST
API, and the execution API that Task SDK workers report to), the scheduler, the DAG processor and
Celery workers (`airflow celery worker`), each in its own process group, with one environment:

- `[database] sql_alchemy_conn`: a PostgreSQL metadata database; the Celery result backend is the
  same database (`db+postgresql+psycopg://…`, as the compose file's `db+postgresql://`).
- `[celery] broker_url`: the machine's Redis on loopback, in a database number of the test's own.
- `[core] execution_api_server_url`: where task processes reach the API server; `[api_auth]
  jwt_secret`: one random secret for every component (the scheduler signs the tasks' tokens, the
  API server checks them); `[core] fernet_key` and `[api] secret_key` likewise.
- `[core] auth_manager`: Airflow's SimpleAuthManager with one admin user whose password the test
  writes to `[core] simple_auth_manager_passwords_file`; the REST API takes the JWT from
  `POST /auth/token`.
- `[scheduler] use_job_schedule = False`: unpausing the nightly DAG creates no scheduled run for
  today; only the run the test triggers runs.
- Each worker has its own Celery node name and reported hostname (`[core] hostname_callable`),
  as each replica of the compose service has its own container hostname.

`stop()` ends every process and every descendant (task processes have process groups of their
own), first with SIGTERM (Celery's warm shutdown), then SIGKILL.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from vcpipeline.orchestration import airflow_env

USER = "vcp"
HOSTNAME_ENV = "VCP_CELERY_WORKER_HOSTNAME"
HOSTNAME_CALLABLE = "tests.celery.hostnames.worker_hostname"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5,
             alive: Callable[[], None] | None = None) -> Any:
    """`check()`'s first truthy value, polled every `every` s; fails after `timeout` s, or at once
    when `alive()` raises (a process died)."""
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None:
            alive()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@dataclass
class CeleryCluster:
    """Airflow with the CeleryExecutor under `home`; `start()` it, `stop()` it."""

    home: Path
    metadata_url: str  # postgresql+psycopg://…
    broker_url: str  # redis://127.0.0.1:6379/N
    extra_env: Mapping[str, str]  # the DAGs' connections and Variables, VCP_* folders
    workers: int = 2
    concurrency: int = 2  # [celery] worker_concurrency: task slots per worker
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    _token: str | None = None
    _secrets: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_hostname(self, number: int) -> str:
        return f"vcp-celery-worker-{number}"

    def env(self) -> dict[str, str]:
        """The environment every Airflow process of this deployment runs in."""
        inherited = {k: v for k, v in os.environ.items()
                     if not k.startswith("AIRFLOW") and k not in {"VCP_PARTITIONS", "VCP_WAREHOUSE_URL"}}
        env = inherited | airflow_env.airflow_home_env(self.home) | dict(self.extra_env)
        result_backend = "db+" + self.metadata_url
        env.update({
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt"),
            "AIRFLOW__API__SECRET_KEY": self._secret("api"),
            "AIRFLOW__CORE__FERNET_KEY": self._secret("fernet"),
            "AIRFLOW__CORE__AUTH_MANAGER":
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        })
        return env

    def _secret(self, name: str) -> str:
        if name not in self._secrets:
            self._secrets[name] = _fernet_key() if name == "fernet" else secrets.token_hex(32)
        return self._secrets[name]

    # --- processes --------------------------------------------------------------------------

    def _airflow(self) -> str:
        return str(Path(sys.executable).with_name("airflow"))

    def migrate(self) -> None:
        """`airflow db migrate` on the empty metadata database."""
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.home / "db-migrate.log"
        with log.open("wb") as out:
            done = subprocess.run([self._airflow(), "db", "migrate"], env=self.env(), stdout=out,
                                  stderr=subprocess.STDOUT, check=False, timeout=300)
        if done.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{log.read_text()[-4000:]}")

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        log = (self.home / "processes" / f"{name}.log")
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            self.processes[name] = subprocess.Popen(
                [self._airflow(), *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)

    def log(self, name: str) -> str:
        return (self.home / "processes" / f"{name}.log").read_text(errors="replace")

    def start(self) -> None:
        """Migrate, then start the API server, scheduler, DAG processor and the workers."""
        self.migrate()
        (self.home / "passwords.json").write_text(json.dumps({USER: self._password}))
        env = self.env()
        self._spawn("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(self.port)], env)
        self._spawn("scheduler", ["scheduler"], env)
        self._spawn("dag-processor", ["dag-processor"], env)
        for number in range(1, self.workers + 1):
            hostname = self.worker_hostname(number)
            worker_env = env | {"AIRFLOW__CORE__HOSTNAME_CALLABLE": HOSTNAME_CALLABLE,
                                HOSTNAME_ENV: hostname}
            # --skip-serve-logs: the workers write to this home's logs/, which the API server reads
            # itself; a worker's log server would listen on every interface, not only loopback.
            self._spawn(hostname, ["celery", "worker", "--celery-hostname", f"{hostname}@%h",
                                   "--concurrency", str(self.concurrency), "--skip-serve-logs"],
                        worker_env)

    def check_alive(self) -> None:
        """Fail, with its log's tail, when a process of the deployment has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.log(name)[-4000:]}")

    def wait_until_ready(self, dag_id: str, timeout: float = 180) -> None:
        """The API answers, the DAG is parsed (without import errors) and every worker is ready."""
        wait_for("the API server", self._healthy, timeout, alive=self.check_alive)
        self._token = self._login()

        def dag_parsed() -> bool:
            errors = self.get("/api/v2/importErrors").json()["import_errors"]
            if errors:
                raise RuntimeError(f"DAG import errors: {errors}")
            return self.client().get(f"/api/v2/dags/{dag_id}").status_code == 200

        wait_for(f"the DAG processor to parse {dag_id}", dag_parsed, timeout, alive=self.check_alive)
        for number in range(1, self.workers + 1):
            name = self.worker_hostname(number)
            wait_for(f"Celery worker {name}", lambda name=name: " ready." in self.log(name),
                     timeout, alive=self.check_alive)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    def _login(self) -> str:
        response = httpx.post(f"{self.base_url}/auth/token", timeout=30,
                              json={"username": USER, "password": self._password})
        response.raise_for_status()
        return response.json()["access_token"]

    # --- REST API -----------------------------------------------------------------------------

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60,
                            headers={"Authorization": f"Bearer {self._token}"})

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as client:
            response = client.request(method, path, **kwargs)
        if response.is_error:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._call("GET", path, **kwargs)

    def post(self, path: str, body: dict) -> httpx.Response:
        return self._call("POST", path, json=body)

    def patch(self, path: str, body: dict) -> httpx.Response:
        return self._call("PATCH", path, json=body)

    # --- teardown -----------------------------------------------------------------------------

    def pids(self) -> list[int]:
        """Every live process of the deployment: the ones started and all their descendants."""
        found: set[int] = set()
        for process in self.processes.values():
            try:
                parent = psutil.Process(process.pid)
                found |= {parent.pid, *(child.pid for child in parent.children(recursive=True))}
            except psutil.NoSuchProcess:
                continue
        return sorted(found)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the deployment's live processes, with the
        children each has reaped (finished task processes)."""
        total = 0.0
        for pid in self.pids():
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        return total

    def stop(self, grace: float = 30) -> list[int]:
        """SIGTERM every process group and descendant, SIGKILL what is left after `grace` s;
        returns the pids still alive after that (none, unless something is badly wrong)."""
        pids = self.pids()
        self._signal(pids, signal.SIGTERM)
        _, alive = psutil.wait_procs(_existing(pids), timeout=grace)
        leftovers = [p.pid for p in alive] + [pid for pid in self.pids() if pid not in pids]
        self._signal(leftovers, signal.SIGKILL)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        _, still = psutil.wait_procs(_existing(leftovers), timeout=10)
        return [p.pid for p in still]

    def _signal(self, pids: list[int], sig: signal.Signals) -> None:
        groups = {process.pid for process in self.processes.values()}
        for pid in pids:
            try:
                if pid in groups:  # the group: the process and whatever it started in it
                    os.killpg(pid, sig)
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _existing(pids: list[int]) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return found
