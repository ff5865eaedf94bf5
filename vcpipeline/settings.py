"""Where things live, from the environment, with embedded defaults that need nothing installed.

The project root is the working directory: `make demo` and `make test` run there.
"""

from __future__ import annotations

import os
from pathlib import Path


def positive_whole_number(name: str, default: int) -> int:
    """A setting that counts something (a threshold, a minimum volume): the environment variable
    `name`, else `default`; anything but a whole number of at least 1 is refused, naming it."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


def warehouse_url() -> str:
    """`VCP_WAREHOUSE_URL`, or the embedded SQLite file `warehouse.db` in `var_dir()`."""
    return os.environ.get("VCP_WAREHOUSE_URL") or f"sqlite:///{var_dir() / 'warehouse.db'}"


def var_dir() -> Path:
    """Working state: the embedded warehouse, synthetic source systems, landing folders."""
    return Path(os.environ.get("VCP_VAR_DIR", "var"))


def out_dir() -> Path:
    """What people read: data docs, mail, samples, reports."""
    return Path(os.environ.get("VCP_OUT_DIR", "out"))


def cache_dir() -> Path:
    """What can be rebuilt but is kept between runs to save time (e.g. a migrated, empty Airflow
    metadata DB): `$XDG_CACHE_HOME/vcpipeline`, by default `~/.cache/vcpipeline`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vcpipeline"


DEFAULT_AIRFLOW_BASE_URL = "http://localhost:8080"
DEFAULT_DATA_DOCS_HISTORY_DAYS = 35


def airflow_base_url() -> str:
    """Where people open the Airflow UI (links in e-mails point there): `VCP_AIRFLOW_BASE_URL`,
    else Airflow's own `AIRFLOW__API__BASE_URL`, else `make airflow`'s http://localhost:8080."""
    url = os.environ.get("VCP_AIRFLOW_BASE_URL") or os.environ.get("AIRFLOW__API__BASE_URL")
    return (url or DEFAULT_AIRFLOW_BASE_URL).rstrip("/")


def data_docs_history_days() -> int:
    """How many days of validation pages Data Docs keep (`VCP_DATA_DOCS_HISTORY_DAYS`, default 35):
    long enough to follow up any digest of the last month."""
    return int(os.environ.get("VCP_DATA_DOCS_HISTORY_DAYS") or DEFAULT_DATA_DOCS_HISTORY_DAYS)
