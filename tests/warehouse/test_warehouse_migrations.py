"""Migrations: the schema comes and goes with Alembic, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from vcpipeline.cli import main
from vcpipeline.warehouse import migrate
from vcpipeline.warehouse.db import make_engine, normalise_url
from vcpipeline.warehouse.load import PII_FIELDS
from vcpipeline.warehouse.schema import metadata

CORE_TABLES = {
    "crimes", "victims", "case_events", "load_batches", "quarantine",
    "source_watermarks", "processed_files",
}
PII_WORDS = ("birth", "dob", "phone", "address", "email", "postcode", "surname", "forename")


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_creates_every_table_and_downgrade_base_removes_them(warehouse_url):
    assert migrate.current(warehouse_url) is None
    migrate.upgrade(warehouse_url)
    assert CORE_TABLES <= _tables(warehouse_url)
    assert migrate.current(warehouse_url) == migrate.head()
    migrate.downgrade(warehouse_url, "base")
    assert _tables(warehouse_url) == set()
    assert migrate.current(warehouse_url) is None


def test_upgrade_twice_is_harmless(migrated_warehouse):
    migrate.upgrade(migrated_warehouse)
    assert migrate.current(migrated_warehouse) == migrate.head()


def test_migrations_build_exactly_the_schema_module(migrated_warehouse):
    engine = make_engine(migrated_warehouse)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []


def test_no_warehouse_table_has_a_column_for_a_victims_personal_details():
    names = {column.name for name in CORE_TABLES for column in metadata.tables[name].columns}
    assert names & PII_FIELDS == set()
    assert [name for name in names if any(word in name for word in PII_WORDS)] == []


def test_postgresql_urls_use_the_psycopg3_driver():
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///var/warehouse.db") == "sqlite:///var/warehouse.db"


def test_sqlite_engine_creates_its_folder_and_runs_in_wal_with_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'warehouse.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    engine.dispose()
    assert (tmp_path / "new" / "warehouse.db").is_file()


def test_vcp_db_upgrade_then_current_reports_head(warehouse_url, capsys):
    assert main(["db", "current", "--url", warehouse_url]) == 0
    assert "not created" in capsys.readouterr().out
    assert main(["db", "upgrade", "--url", warehouse_url]) == 0
    assert migrate.head() in capsys.readouterr().out
    assert main(["db", "current", "--url", warehouse_url]) == 0
    assert capsys.readouterr().out.strip() == f"{migrate.head()} (head)"


def test_vcp_db_upgrade_with_an_unusable_url_is_a_one_line_error(capsys):
    assert main(["db", "upgrade", "--url", "nosuchdialect://x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vcp db: error:") and err.count("\n") == 1
