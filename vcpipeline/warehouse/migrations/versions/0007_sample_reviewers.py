"""Sample reviewers: who reviewed each sampled crime, at what rank and on which day (the audit trail).

Revision ID: 0007_sample_reviewers
Revises: 0006_victims_code_v2
Create Date: 2026-11-29

One row per sampled crime a returned worksheet answered: the reviewer's name and rank as they
wrote them (staff data, not a victim's), whether that rank meets the board's review standard
(Inspector or police staff equivalent or above), the review date, the worksheet format (which
says how the automated findings were shown) and the file it came from. A re-submitted worksheet
replaces the row, as it replaces the answers in `sample_reviews`. The published survey results
count reviews at and below the standard; names stay here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vcpipeline.warehouse.migrations.frozen import UtcDateTime

revision: str = "0007_sample_reviewers"
down_revision: str | None = "0006_victims_code_v2"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sample_reviewers",
        sa.Column("sample_id", sa.String(16), nullable=False),
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("reviewer_name", sa.String(100), nullable=False),
        sa.Column("reviewer_rank", sa.String(64), nullable=False),
        sa.Column("at_required_rank", sa.Boolean, nullable=False),
        sa.Column("reviewed_on", sa.Date, nullable=False),
        sa.Column("worksheet_format", sa.String(64), nullable=False),
        sa.Column("source_file", sa.String(255), nullable=False),
        sa.Column("ingested_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sample_id", "crime_ref", name="pk_sample_reviewers"),
        sa.ForeignKeyConstraint(["sample_id", "crime_ref"], ["sample_crimes.sample_id", "sample_crimes.crime_ref"],
                                name="fk_sample_reviewers_sample_id_sample_crimes"),
    )


def downgrade() -> None:
    op.drop_table("sample_reviewers")
