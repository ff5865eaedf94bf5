"""Schema migrations with Alembic, configured in code so they work from an installed package.

The scripts live in `vcpipeline/warehouse/migrations/`. To add a revision for a new table:

    .venv/bin/python -m vcpipeline.warehouse.migrate revision -m "obligations"

(any `alembic` sub-command works the same way, against `VCP_WAREHOUSE_URL` or the default).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import CommandLine, Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from vcpipeline import settings
from vcpipeline.warehouse.db import make_engine, normalise_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed number: serialises concurrent upgrades of one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x5643_5044_42  # "VCPDB"


def alembic_config(url: str | None = None, connection: sa.Connection | None = None) -> Config:
    """An Alembic `Config` for our scripts; with `connection`, migrations run on it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "sqlalchemy.url", normalise_url(url or settings.warehouse_url()).replace("%", "%%")
    )
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _migrate(url: str | None, action: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            config = alembic_config(url, conn)
            getattr(command, action)(config, revision)
    finally:
        engine.dispose()


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the warehouse at `url` up to `revision` (default: the newest), in one transaction."""
    _migrate(url, "upgrade", revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Take the warehouse at `url` down to `revision` (`base`: no tables at all)."""
    _migrate(url, "downgrade", revision)


def current(url: str | None = None) -> str | None:
    """The revision the warehouse at `url` is at; None when it has never been migrated."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision this package ships."""
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migration history has {len(heads)} heads: {heads}")
    return heads[0]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m vcpipeline.warehouse.migrate <alembic command>` without an alembic.ini."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # show what Alembic runs
    cli = CommandLine(prog="python -m vcpipeline.warehouse.migrate")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    cli.run_cmd(alembic_config(), options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
