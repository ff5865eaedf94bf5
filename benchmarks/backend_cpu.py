"""CPU time of PostgreSQL backends, read from /proc (the server runs on this machine).

On a busy machine a benchmark's wall time mostly measures its neighbours; its own CPU and its
backends' CPU measure its work. One home for reading them, shared by the benchmark scripts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa


def backends_cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds so far of these backends (one that has gone counts nothing;
    parallel query workers are not counted)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def remember_backends(engine: sa.Engine) -> set[int]:
    """The backend pids of every connection this engine opens from now on (empty on SQLite)."""
    pids: set[int] = set()
    if engine.dialect.name == "postgresql":
        @sa.event.listens_for(engine, "connect")
        def _remember(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT pg_backend_pid()")
            pids.add(int(cursor.fetchone()[0]))
            cursor.close()
    return pids


def database_backends(conn: sa.Connection) -> list[int]:
    """The backend pids connected to this connection's database now (its own included)."""
    return [row[0] for row in conn.exec_driver_sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")]
