"""Engines for the warehouse: the embedded SQLite file by default, PostgreSQL in production.

SQLite gets WAL (readers never block the nightly writer), enforced foreign keys, a busy timeout
(Airflow tasks share the file) and real transactions (`BEGIN` issued by us, not guessed by the
driver), so a batch is all-or-nothing there too. PostgreSQL sessions run in UTC, dates in ISO
style (what `warehouse.io` parses when it reads by COPY).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from vcpipeline import settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Page cache per connection (KiB; SQLite's default is 2 MiB): bulk upserts touch index pages
# all over the file, and a larger cache more than halves their cost at a million rows.
SQLITE_CACHE_KIB = 262_144


def normalise_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean the psycopg 3 driver; anything else is unchanged."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def display_url(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for `url` (default: `settings.warehouse_url()`), configured per backend."""
    parsed = make_url(normalise_url(url or settings.warehouse_url()))
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        connect_args = {"options": "-c timezone=UTC -c datestyle=ISO", **kwargs.pop("connect_args", {})}
        return sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True, **kwargs)
    return sa.create_engine(parsed, **kwargs)


def _sqlite_engine(url: sa.URL, **kwargs: Any) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA temp_store = MEMORY")
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine
