"""Samples: the quarterly dip sample (draw, allocation, crimes, reserves), the findings shown to
reviewers, their answers, and the published survey results.

Revision ID: 0004_samples
Revises: 0003_alerts (the brief said 0001_warehouse_core "for now"; on 0001 it made a second
         head and `migrate.upgrade()` to "head" failed for everyone: the lead relinks the chain)
Create Date: 2026-06-01

Spelled out rather than created from `schema.metadata`, so this revision keeps meaning this model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from vcpipeline.warehouse.migrations.frozen import UtcDateTime

revision: str = "0004_samples"
down_revision: str | None = "0003_alerts"
branch_labels: str | None = None
depends_on: str | None = None


def _sample_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["sample_id"], ["samples.sample_id"],
                                   name=f"fk_{table}_sample_id_samples")


def _sample_crime_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["sample_id", "crime_ref"], ["sample_crimes.sample_id", "sample_crimes.crime_ref"],
        name=f"fk_{table}_sample_id_sample_crimes",
    )


def upgrade() -> None:
    op.create_table(
        "samples",
        sa.Column("sample_id", sa.String(16), nullable=False),
        sa.Column("quarter", sa.String(8), nullable=False),
        sa.Column("seed", sa.String(128), nullable=False),
        sa.Column("population_hash", sa.String(64), nullable=False),
        sa.Column("population_size", sa.Integer, nullable=False),
        sa.Column("sample_size", sa.Integer, nullable=False),
        sa.Column("size_requested", sa.Integer, nullable=False),
        sa.Column("minimum_per_stratum", sa.Integer, nullable=False),
        sa.Column("reserve_size", sa.Integer, nullable=False),
        sa.Column("excluded", sa.Integer, nullable=False),
        sa.Column("drawn_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sample_id", name="pk_samples"),
        sa.UniqueConstraint("quarter", name="uq_samples_quarter"),
    )
    op.create_table(
        "sample_strata",
        sa.Column("sample_id", sa.String(16), nullable=False),
        sa.Column("stratum", sa.String(64), nullable=False),
        sa.Column("stratum_population", sa.Integer, nullable=False),
        sa.Column("stratum_minimum", sa.Integer, nullable=False),
        sa.Column("exact_allocation", sa.Float, nullable=False),
        sa.Column("stratum_sample_size", sa.Integer, nullable=False),
        sa.Column("selection_probability", sa.Float),
        sa.Column("design_weight", sa.Float),
        sa.PrimaryKeyConstraint("sample_id", "stratum", name="pk_sample_strata"),
        _sample_fk("sample_strata"),
    )
    op.create_table(
        "sample_crimes",
        sa.Column("sample_id", sa.String(16), nullable=False),
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("stratum", sa.String(64), nullable=False),
        sa.Column("permanent_random_number", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("sample_id", "crime_ref", name="pk_sample_crimes"),
        _sample_fk("sample_crimes"),
    )
    op.create_index("ix_sample_crimes_crime_ref", "sample_crimes", ["crime_ref"])
    op.create_table(
        "sample_reserve",
        sa.Column("sample_id", sa.String(16), nullable=False),
        sa.Column("stratum", sa.String(64), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("permanent_random_number", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("sample_id", "stratum", "rank", name="pk_sample_reserve"),
        _sample_fk("sample_reserve"),
    )
    op.create_table(
        "sample_findings",
        sa.Column("sample_id", sa.String(16), nullable=False),
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("question", sa.String(4), nullable=False),
        sa.Column("finding", sa.String(32), nullable=False),
        sa.Column("automated_answer", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("sample_id", "crime_ref", "question", name="pk_sample_findings"),
        _sample_crime_fk("sample_findings"),
    )
    op.create_table(
        "sample_reviews",
        sa.Column("sample_id", sa.String(16), nullable=False),
        sa.Column("crime_ref", sa.String(64), nullable=False),
        sa.Column("question", sa.String(4), nullable=False),
        sa.Column("answer", sa.String(8), nullable=False),
        sa.Column("source_file", sa.String(255), nullable=False),
        sa.Column("ingested_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sample_id", "crime_ref", "question", name="pk_sample_reviews"),
        _sample_crime_fk("sample_reviews"),
    )
    op.create_table(
        "survey_results",
        sa.Column("quarter", sa.String(8), nullable=False),
        sa.Column("question", sa.String(4), nullable=False),
        sa.Column("domain", sa.String(64), nullable=False),
        sa.Column("estimate", sa.Float),
        sa.Column("variance", sa.Float),
        sa.Column("standard_error", sa.Float),
        sa.Column("ci_lower", sa.Float),
        sa.Column("ci_upper", sa.Float),
        sa.Column("reviewed", sa.Integer, nullable=False),
        sa.Column("applicable", sa.Integer, nullable=False),
        sa.Column("yes", sa.Integer, nullable=False),
        sa.Column("previous_estimate", sa.Float),
        sa.Column("change", sa.Float),
        sa.Column("p_value", sa.Float),
        sa.Column("significant", sa.Boolean, nullable=False),
        sa.Column("agreement_compared", sa.Integer, nullable=False),
        sa.Column("percent_agreement", sa.Float),
        sa.Column("kappa", sa.Float),
        sa.Column("published_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("quarter", "question", "domain", name="pk_survey_results"),
    )


def downgrade() -> None:
    op.drop_index("ix_sample_crimes_crime_ref", table_name="sample_crimes")
    for table in ("survey_results", "sample_reviews", "sample_findings", "sample_reserve",
                  "sample_crimes", "sample_strata", "samples"):
        op.drop_table(table)
