"""Warehouse core: canonical crimes, victims and case events with lineage; load batches,
quarantine, source watermarks and processed files.

Revision ID: 0001_warehouse_core
Revises:
Create Date: 2026-06-01

The tables are spelled out here rather than created from `schema.metadata`, because the
metadata grows with later revisions and this revision must keep meaning this model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vcpipeline.warehouse.migrations.frozen import UtcDateTime

revision: str = "0001_warehouse_core"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _lineage() -> list[sa.Column]:
    return [
        sa.Column("source_system", sa.String(64), nullable=False),
        sa.Column("source_row_id", sa.String(128), nullable=False),
        sa.Column("load_batch_id", sa.String(128), nullable=False),
        sa.Column("extracted_at", UtcDateTime(), nullable=False),
    ]


def _batch_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["batch_id"], ["load_batches.batch_id"], name=f"fk_{table}_batch_id_load_batches"
    )


def upgrade() -> None:
    op.create_table(
        "load_batches",
        sa.Column("batch_id", sa.String(128), nullable=False),
        sa.Column("source_system", sa.String(64), nullable=False),
        sa.Column("interval_start", UtcDateTime(), nullable=False),
        sa.Column("interval_end", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime()),
        sa.Column("rows_extracted", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_loaded", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rows_quarantined", sa.Integer, nullable=False, server_default="0"),
        sa.Column("message", sa.Text),
        sa.PrimaryKeyConstraint("batch_id", name="pk_load_batches"),
        sa.UniqueConstraint(
            "source_system", "interval_start", "interval_end",
            name="uq_load_batches_source_system_interval_start_interval_end",
        ),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed')", name="ck_load_batches_status"
        ),
    )
    op.create_table(
        "crimes",
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("reported_at", UtcDateTime(), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("offence_category", sa.String(64)),
        sa.Column("domestic_abuse", sa.Boolean, nullable=False),
        sa.Column("hate_crime", sa.Boolean, nullable=False),
        sa.Column("team", sa.String(64)),
        sa.Column("officer_collar", sa.String(32)),
        *_lineage(),
        sa.PrimaryKeyConstraint("crime_ref", name="pk_crimes"),
    )
    op.create_index("ix_crimes_reported_at", "crimes", ["reported_at"])
    op.create_index("ix_crimes_load_batch_id", "crimes", ["load_batch_id"])
    op.create_table(
        "victims",
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("victim_id", sa.String(64), nullable=False),
        sa.Column("age_at_report", sa.Integer),
        sa.Column("vulnerable", sa.Boolean, nullable=False),
        sa.Column("intimidated", sa.Boolean, nullable=False),
        sa.Column("persistently_targeted", sa.Boolean, nullable=False),
        *_lineage(),
        sa.PrimaryKeyConstraint("crime_ref", "victim_id", name="pk_victims"),
    )
    op.create_index("ix_victims_load_batch_id", "victims", ["load_batch_id"])
    op.create_table(
        "case_events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("victim_id", sa.String(64)),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("in_need", sa.Boolean),
        sa.Column("outcome_code", sa.Integer),
        sa.Column("court_result", sa.String(32)),
        sa.Column("channel", sa.String(16)),
        *_lineage(),
        sa.PrimaryKeyConstraint("event_id", name="pk_case_events"),
    )
    op.create_index("ix_case_events_crime_ref", "case_events", ["crime_ref"])
    op.create_index("ix_case_events_occurred_at", "case_events", ["occurred_at"])
    op.create_index("ix_case_events_load_batch_id", "case_events", ["load_batch_id"])
    op.create_table(
        "quarantine",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            autoincrement=True, nullable=False,
        ),
        sa.Column("batch_id", sa.String(128), nullable=False),
        sa.Column("source_system", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("source_row_id", sa.String(128), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("raw_row", sa.Text),
        sa.Column("quarantined_at", UtcDateTime(), nullable=False),
        sa.Column("replayed_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
        sa.UniqueConstraint(
            "batch_id", "source_system", "entity", "source_row_id",
            name="uq_quarantine_batch_id_source_system_entity_source_row_id",
        ),
        _batch_fk("quarantine"),
    )
    op.create_table(
        "source_watermarks",
        sa.Column("source_system", sa.String(64), nullable=False),
        sa.Column("watermark", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source_system", name="pk_source_watermarks"),
    )
    op.create_table(
        "processed_files",
        sa.Column("source_system", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("batch_id", sa.String(128), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source_system", "file_name", name="pk_processed_files"),
        _batch_fk("processed_files"),
    )


def downgrade() -> None:
    for table in (
        "processed_files", "source_watermarks", "quarantine",
        "case_events", "victims", "crimes", "load_batches",
    ):
        op.drop_table(table)
