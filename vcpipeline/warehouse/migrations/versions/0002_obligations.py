"""Obligations: the rule engine's results, kept up to date incrementally each night (runs, the
batches and event crimes already evaluated, crimes and days changed since the summaries), the compliance
summaries, and the reporting views in `sql/`.

Revision ID: 0002_obligations
Revises: 0001_warehouse_core
Create Date: 2026-06-01

Tables are spelled out rather than created from `schema.metadata`, so this revision keeps
meaning this model. The views are read from `sql/v_*.sql` (one SELECT per file, the view named
after the file), the same text on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vcpipeline.rules.summaries import view_names, view_sql
from vcpipeline.warehouse.schema import UtcDateTime

revision: str = "0002_obligations"
down_revision: str | None = "0001_warehouse_core"
branch_labels: str | None = None
depends_on: str | None = None


def _counts() -> list[sa.Column]:
    return [
        sa.Column("due", sa.Integer, nullable=False),
        sa.Column("met_on_time", sa.Integer, nullable=False),
        sa.Column("met_late", sa.Integer, nullable=False),
        sa.Column("breached", sa.Integer, nullable=False),
        sa.Column("pending", sa.Integer, nullable=False),
        sa.Column("compliance_rate", sa.Float),
    ]


def _rollup(name: str, period: str, width: int) -> None:
    op.create_table(
        name,
        sa.Column(period, sa.String(width), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("enhanced", sa.Boolean, nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint(period, "department", "rule", "enhanced", name=f"pk_{name}"),
    )


def upgrade() -> None:
    op.create_table(
        "obligations",
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("victim_id", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("trigger_event_id", sa.String(64), nullable=False),
        sa.Column("trigger_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("met_at", UtcDateTime()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("enhanced", sa.Boolean, nullable=False),
        sa.Column("rule_set", sa.String(32), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("crime_ref", "victim_id", "rule", "trigger_event_id",
                                name="pk_obligations"),
        sqlite_with_rowid=False,  # a crime's rows together, in key order
    )
    op.create_index("ix_obligations_due_at", "obligations", ["due_at"])
    op.create_index("ix_obligations_status_due_at", "obligations", ["status", "due_at"])
    op.create_table(
        "obligation_runs",
        sa.Column("as_of", UtcDateTime(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("rulesets_sha256", sa.String(64), nullable=False),
        sa.Column("batches", sa.Integer, nullable=False),
        sa.Column("crimes_reevaluated", sa.Integer, nullable=False),
        sa.Column("obligations_replaced", sa.Integer, nullable=False),
        sa.Column("obligations_written", sa.Integer, nullable=False),
        sa.Column("statuses_advanced", sa.Integer, nullable=False),
        sa.Column("obligations_total", sa.Integer, nullable=False),
        sa.Column("read_seconds", sa.Float),
        sa.Column("evaluate_seconds", sa.Float),
        sa.Column("write_seconds", sa.Float),
        sa.Column("total_seconds", sa.Float),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", name="pk_obligation_runs"),
        sa.CheckConstraint("mode IN ('full', 'incremental')", name="ck_obligation_runs_mode"),
    )
    op.create_table(
        "obligation_batches",
        sa.Column("batch_id", sa.String(128), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name="pk_obligation_batches"),
    )
    op.create_table(
        "evaluated_events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_evaluated_events"),
    )
    op.create_table(
        "obligation_changes",
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("crime_ref", name="pk_obligation_changes"),
    )
    op.create_table(
        "obligation_changed_days",
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("due_at", name="pk_obligation_changed_days"),
    )
    op.create_table(
        "compliance_daily",
        sa.Column("due_date", sa.String(10), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("enhanced", sa.Boolean, nullable=False),
        sa.Column("due_month", sa.String(7), nullable=False),
        sa.Column("due_quarter", sa.String(6), nullable=False),
        *_counts(),
        sa.PrimaryKeyConstraint("due_date", "department", "rule", "enhanced",
                                name="pk_compliance_daily"),
    )
    _rollup("compliance_monthly", "due_month", 7)
    _rollup("compliance_quarterly", "due_quarter", 6)
    op.create_table(
        "victim_compliance",
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("victim_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("enhanced", sa.Boolean, nullable=False),
        sa.Column("report_date", sa.String(10), nullable=False),
        sa.Column("report_month", sa.String(7), nullable=False),
        sa.Column("report_quarter", sa.String(6), nullable=False),
        sa.Column("obligations", sa.Integer, nullable=False),
        sa.Column("met_on_time", sa.Integer, nullable=False),
        sa.Column("met_late", sa.Integer, nullable=False),
        sa.Column("breached", sa.Integer, nullable=False),
        sa.Column("pending", sa.Integer, nullable=False),
        sa.Column("compliant", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("crime_ref", "victim_id", name="pk_victim_compliance"),
    )
    op.create_index("ix_victim_compliance_report_month_department", "victim_compliance",
                    ["report_month", "department"])
    op.create_table(
        "summary_runs",
        sa.Column("as_of", UtcDateTime(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("crimes_changed", sa.Integer, nullable=False),
        sa.Column("daily_rows", sa.Integer, nullable=False),
        sa.Column("victim_rows_written", sa.Integer, nullable=False),
        sa.Column("total_seconds", sa.Float),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", name="pk_summary_runs"),
    )
    for name in view_names():
        op.execute(f"CREATE VIEW {name} AS\n{view_sql(name)}")


def downgrade() -> None:
    for name in reversed(view_names()):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_index("ix_victim_compliance_report_month_department", table_name="victim_compliance")
    op.drop_index("ix_obligations_status_due_at", table_name="obligations")
    op.drop_index("ix_obligations_due_at", table_name="obligations")
    for table in (
        "summary_runs", "victim_compliance", "compliance_quarterly", "compliance_monthly",
        "compliance_daily", "obligation_changed_days", "obligation_changes", "evaluated_events", "obligation_batches",
        "obligation_runs", "obligations",
    ):
        op.drop_table(table)
