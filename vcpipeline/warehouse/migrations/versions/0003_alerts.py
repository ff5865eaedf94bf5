"""Alerts: team reference data (`team_leads`), the e-mails sent (`alert_messages`) and what they
covered (`alert_log`), so a breach is alerted once and a re-run of a night sends nothing new.

Revision ID: 0003_alerts
Revises: 0002_obligations
Create Date: 2026-06-01

Spelled out rather than created from `schema.metadata`, so this revision keeps meaning this model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vcpipeline.warehouse.migrations.frozen import UtcDateTime

revision: str = "0003_alerts"
down_revision: str | None = "0002_obligations"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "team_leads",
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("lead_name", sa.String(128), nullable=False),
        sa.Column("lead_email", sa.String(254), nullable=False),
        sa.Column("loaded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("department", "team", name="pk_team_leads"),
    )
    op.create_table(
        "alert_messages",
        sa.Column("message_key", sa.String(160), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("as_of", UtcDateTime(), nullable=False),
        sa.Column("items", sa.Integer, nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("message_key", name="pk_alert_messages"),
    )
    op.create_table(
        "alert_log",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("victim_id", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("trigger_event_id", sa.String(64), nullable=False),
        sa.Column("risk_due_date", sa.String(10), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_key", sa.String(160), nullable=False),
        sa.PrimaryKeyConstraint(
            "kind", "crime_ref", "victim_id", "rule", "trigger_event_id", "risk_due_date",
            name="pk_alert_log",
        ),
        sa.ForeignKeyConstraint(
            ["message_key"], ["alert_messages.message_key"],
            name="fk_alert_log_message_key_alert_messages",
        ),
    )
    op.create_index("ix_alert_log_due_at", "alert_log", ["due_at"])
    op.create_index("ix_alert_log_message_key", "alert_log", ["message_key"])


def downgrade() -> None:
    op.drop_index("ix_alert_log_message_key", table_name="alert_log")
    op.drop_index("ix_alert_log_due_at", table_name="alert_log")
    for table in ("alert_log", "alert_messages", "team_leads"):
        op.drop_table(table)
