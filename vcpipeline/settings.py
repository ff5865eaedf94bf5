"""Where things live, from the environment, with embedded defaults that need nothing installed.

The project root is the working directory: `make demo` and `make test` run there.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_WAREHOUSE_URL = "sqlite:///var/warehouse.db"


def warehouse_url() -> str:
    """`VCP_WAREHOUSE_URL`, or the embedded SQLite file under `var/`."""
    return os.environ.get("VCP_WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL)


def var_dir() -> Path:
    """Working state: the embedded warehouse, synthetic source systems, landing folders."""
    return Path(os.environ.get("VCP_VAR_DIR", "var"))


def out_dir() -> Path:
    """What people read: data docs, mail, samples, reports."""
    return Path(os.environ.get("VCP_OUT_DIR", "out"))
