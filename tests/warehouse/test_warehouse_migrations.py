"""Migrations: the schema comes and goes with Alembic, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from vcpipeline.cli import main
from vcpipeline.rules.summaries import view_names, view_sql
from vcpipeline.warehouse import migrate
from vcpipeline.warehouse.db import make_engine, normalise_url
from vcpipeline.warehouse.load import PII_FIELDS
from vcpipeline.warehouse.schema import metadata

CORE_TABLES = {
    "crimes", "victims", "case_events", "load_batches", "quarantine",
    "source_watermarks", "processed_files",
}
PII_WORDS = ("birth", "dob", "phone", "address", "email", "postcode", "surname", "forename")


FROZEN_PACKAGE = "vcpipeline.warehouse.migrations"
REVISIONS = sorted((migrate.MIGRATIONS_DIR / "versions").glob("*.py"))
FROZEN_MODULES = [*REVISIONS, migrate.MIGRATIONS_DIR / "frozen.py"]


def _imported_modules(path) -> list[str]:
    """Every module a file imports, at any depth (a function-level import counts too)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append("." * node.level + (node.module or ""))
    return names


def _view_definitions(conn: sa.Connection) -> dict[str, str]:
    """Each view's definition as the database keeps it (SQLite: the text; PostgreSQL: normalised)."""
    if conn.dialect.name == "sqlite":
        return dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'view'").all())
    return dict(conn.exec_driver_sql(
        "SELECT viewname, pg_get_viewdef(viewname::regclass) FROM pg_views WHERE schemaname = 'public'").all())


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


@pytest.mark.parametrize("path", FROZEN_MODULES, ids=lambda path: path.name)
def test_a_revision_imports_no_live_project_code(path):
    """A revision is frozen: what `schema.py`, the rules or `sql/` say later cannot change it."""
    live = [name for name in _imported_modules(path)
            if name.startswith(".") or (name.split(".")[0] == "vcpipeline"
                                        and not name.startswith(FROZEN_PACKAGE))]
    assert live == []


def test_loading_every_revision_loads_no_live_project_module():
    probe = (
        "import importlib.util, sys\n"
        f"for path in {[str(path) for path in REVISIONS]!r}:\n"
        "    spec = importlib.util.spec_from_file_location('revision', path)\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(' '.join(sorted(name for name in sys.modules if name.startswith('vcpipeline'))))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                            text=True).stdout.split()
    packages = {"vcpipeline", "vcpipeline.warehouse"}  # their __init__ modules import nothing
    assert [name for name in loaded if name not in packages and not name.startswith(FROZEN_PACKAGE)] == []


def test_the_migrated_views_are_the_sql_folders_selects(migrated_warehouse):
    """`sql/` shows the newest views; changing one there without a new revision fails here."""
    engine = make_engine(migrated_warehouse)
    try:
        with engine.begin() as conn:
            stored = _view_definitions(conn)
            assert set(stored) == set(view_names())
            if conn.dialect.name == "sqlite":
                expected = {name: f"CREATE VIEW {name} AS\n{view_sql(name)}" for name in view_names()}
            else:  # the database's own rendering of each file's SELECT, as a throw-away view
                for name in view_names():
                    conn.exec_driver_sql(f"CREATE TEMPORARY VIEW expected_{name} AS\n{view_sql(name)}")
                expected = {name: conn.exec_driver_sql(
                    f"SELECT pg_get_viewdef('expected_{name}'::regclass)").scalar_one()
                    for name in view_names()}
                conn.rollback()
        assert stored == expected
    finally:
        engine.dispose()


def test_downgrading_the_compliance_base_view_restores_the_views_as_before(warehouse_url):
    engine = make_engine(warehouse_url)
    try:
        migrate.upgrade(warehouse_url, "0004_samples")
        with engine.connect() as conn:
            before = _view_definitions(conn)
        migrate.upgrade(warehouse_url)
        with engine.connect() as conn:
            assert "v_compliance_base" in _view_definitions(conn)
        migrate.downgrade(warehouse_url, "0004_samples")
        with engine.connect() as conn:
            assert _view_definitions(conn) == before
    finally:
        engine.dispose()


def test_version_2_keeps_stored_obligations_with_their_department_as_owner_and_downgrades(warehouse_url):
    """0006 adds interval_days, owner (existing rows: the crime's department, as version 1
    meant), met_channel and channel_as_agreed; WAIVED is storable; down again, the views are 0005's."""
    engine = make_engine(warehouse_url)
    try:
        migrate.upgrade(warehouse_url, "0005_compliance_base_view")
        with engine.connect() as conn:
            before = _view_definitions(conn)
        row = ("'CR1', 'V1', 'acknowledgement', '', '2026-03-02T10:00:00.000000Z', "
               "'2026-03-09T00:00:00.000000Z', NULL, 'PENDING', false, 'vcop-2020', 'PPU'")
        if "postgresql" in warehouse_url:
            row = row.replace(".000000Z'", "Z'")
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO obligations (crime_ref, victim_id, rule, trigger_event_id, trigger_at, "
                f"due_at, met_at, status, enhanced, rule_set, department) VALUES ({row})")
        migrate.upgrade(warehouse_url)
        with engine.begin() as conn:
            stored = conn.exec_driver_sql(
                "SELECT owner, met_channel, channel_as_agreed FROM obligations").one()
            assert tuple(stored) == ("PPU", None, None)
            conn.exec_driver_sql("UPDATE obligations SET status = 'WAIVED', channel_as_agreed = true")
            assert {"interval_days", "channel"} <= {c["name"] for c in sa.inspect(conn).get_columns("case_events")}
        migrate.downgrade(warehouse_url, "0005_compliance_base_view")
        with engine.connect() as conn:
            assert _view_definitions(conn) == before
            assert "owner" not in {c["name"] for c in sa.inspect(conn).get_columns("obligations")}
    finally:
        engine.dispose()
