"""Victim attributes: sex, ethnicity (the ONS 5 broad groups) and disability, each optional.

Revision ID: 0008_victim_attributes
Revises: 0007_sample_reviewers
Create Date: 2026-11-29

Who is being failed: the compliance report breaks victims down by these (aggregated, with
disclosure control; never in an e-mail or a worksheet). NULL where a source does not record the
attribute (every row stored before this revision); `NOT_STATED` where it records that none was
given. No view reads them, so the views stay as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_victim_attributes"
down_revision: str | None = "0007_sample_reviewers"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS: tuple[str, ...] = ("sex", "ethnicity", "disability")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("victims", sa.Column(name, sa.String(16)))


def downgrade() -> None:
    for name in reversed(COLUMNS):
        op.drop_column("victims", name)
