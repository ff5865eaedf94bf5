"""Obligations: the rule engine's results, kept up to date incrementally each night (runs, the
batches and event crimes already evaluated, crimes and days changed since the summaries), the compliance
summaries, and the reporting views in `sql/`.

Revision ID: 0002_obligations
Revises: 0001_warehouse_core
Create Date: 2026-06-01

Tables are spelled out rather than created from `schema.metadata`, and the views' SQL is
inlined as it was in `sql/` at this revision, so this revision keeps meaning this model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vcpipeline.warehouse.migrations.frozen import UtcDateTime

revision: str = "0002_obligations"
down_revision: str | None = "0001_warehouse_core"
branch_labels: str | None = None
depends_on: str | None = None

# The reporting views as this revision made them: one SELECT each, the same text on SQLite
# and PostgreSQL. Frozen here; a later change of a view is a new revision (0005 rebuilt the
# compliance views over `v_compliance_base`).
VIEWS: dict[str, str] = {
    "v_compliance_by_department_month": """\
-- Victims Code compliance per department and month of the local due date (all rules,
-- enhanced and standard victims together).
-- compliance_rate = met_on_time / (met_on_time + met_late + breached): decided obligations
-- only; NULL when none is decided. Same text on SQLite and PostgreSQL (created by migration
-- 0002_obligations; the view is named after this file).
SELECT due_month, department,
       SUM(due) AS due, SUM(met_on_time) AS met_on_time, SUM(met_late) AS met_late,
       SUM(breached) AS breached, SUM(pending) AS pending,
       CASE WHEN SUM(met_on_time) + SUM(met_late) + SUM(breached) > 0
            THEN CAST(SUM(met_on_time) AS DOUBLE PRECISION)
                 / (SUM(met_on_time) + SUM(met_late) + SUM(breached))
       END AS compliance_rate
FROM compliance_monthly
GROUP BY due_month, department""",
    "v_compliance_by_department_quarter": """\
-- Victims Code compliance per department and quarter of the local due date (all rules,
-- enhanced and standard victims together).
-- compliance_rate = met_on_time / (met_on_time + met_late + breached): decided obligations
-- only; NULL when none is decided. Same text on SQLite and PostgreSQL (created by migration
-- 0002_obligations; the view is named after this file).
SELECT due_quarter, department,
       SUM(due) AS due, SUM(met_on_time) AS met_on_time, SUM(met_late) AS met_late,
       SUM(breached) AS breached, SUM(pending) AS pending,
       CASE WHEN SUM(met_on_time) + SUM(met_late) + SUM(breached) > 0
            THEN CAST(SUM(met_on_time) AS DOUBLE PRECISION)
                 / (SUM(met_on_time) + SUM(met_late) + SUM(breached))
       END AS compliance_rate
FROM compliance_quarterly
GROUP BY due_quarter, department""",
    "v_compliance_by_rule_month": """\
-- Force-wide compliance per rule (board-paper question) and month of the local due date.
-- compliance_rate = met_on_time / (met_on_time + met_late + breached): decided obligations
-- only; NULL when none is decided. Same text on SQLite and PostgreSQL (created by migration
-- 0002_obligations; the view is named after this file).
SELECT due_month, rule,
       SUM(due) AS due, SUM(met_on_time) AS met_on_time, SUM(met_late) AS met_late,
       SUM(breached) AS breached, SUM(pending) AS pending,
       CASE WHEN SUM(met_on_time) + SUM(met_late) + SUM(breached) > 0
            THEN CAST(SUM(met_on_time) AS DOUBLE PRECISION)
                 / (SUM(met_on_time) + SUM(met_late) + SUM(breached))
       END AS compliance_rate
FROM compliance_monthly
GROUP BY due_month, rule""",
    "v_compliance_by_service_month": """\
-- Compliance of enhanced-service victims against standard ones, per department and month
-- of the local due date.
-- compliance_rate = met_on_time / (met_on_time + met_late + breached): decided obligations
-- only; NULL when none is decided. Same text on SQLite and PostgreSQL (created by migration
-- 0002_obligations; the view is named after this file).
SELECT due_month, department,
       CASE WHEN enhanced THEN 'enhanced' ELSE 'standard' END AS service,
       SUM(due) AS due, SUM(met_on_time) AS met_on_time, SUM(met_late) AS met_late,
       SUM(breached) AS breached, SUM(pending) AS pending,
       CASE WHEN SUM(met_on_time) + SUM(met_late) + SUM(breached) > 0
            THEN CAST(SUM(met_on_time) AS DOUBLE PRECISION)
                 / (SUM(met_on_time) + SUM(met_late) + SUM(breached))
       END AS compliance_rate
FROM compliance_monthly
GROUP BY due_month, department, CASE WHEN enhanced THEN 'enhanced' ELSE 'standard' END""",
    "v_victim_compliance": """\
-- The board paper's Q1 per department and month of the crime report: a victim is Victims
-- Code compliant when none of its obligations is BREACHED or MET_LATE (RULES.md).
-- compliance_rate = compliant victims / victims. Same text on SQLite and PostgreSQL.
SELECT report_month, department,
       COUNT(*) AS victims,
       SUM(CASE WHEN compliant THEN 1 ELSE 0 END) AS compliant,
       SUM(CASE WHEN compliant THEN 0 ELSE 1 END) AS not_compliant,
       SUM(CASE WHEN pending > 0 THEN 1 ELSE 0 END) AS with_pending,
       CAST(SUM(CASE WHEN compliant THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / COUNT(*)
           AS compliance_rate
FROM victim_compliance
GROUP BY report_month, department""",
    "v_victim_compliance_by_department_quarter": """\
-- The board paper's Q1 per department and quarter of the crime report: a victim is Victims
-- Code compliant when none of its obligations is BREACHED or MET_LATE (RULES.md).
-- compliance_rate = compliant victims / victims. Same text on SQLite and PostgreSQL.
SELECT report_quarter, department,
       COUNT(*) AS victims,
       SUM(CASE WHEN compliant THEN 1 ELSE 0 END) AS compliant,
       SUM(CASE WHEN compliant THEN 0 ELSE 1 END) AS not_compliant,
       SUM(CASE WHEN pending > 0 THEN 1 ELSE 0 END) AS with_pending,
       CAST(SUM(CASE WHEN compliant THEN 1 ELSE 0 END) AS DOUBLE PRECISION) / COUNT(*)
           AS compliance_rate
FROM victim_compliance
GROUP BY report_quarter, department""",
}


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
    for name, select in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS\n{select}")


def downgrade() -> None:
    for name in reversed(VIEWS):
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
