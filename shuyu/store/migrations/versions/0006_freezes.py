"""Incident freezes (应急处置): a partner, a scenario, a product, a consumer or the whole
platform frozen by an administrator, with the reason, until lifted.

Revision ID: 0006_freezes
Revises: 0005_filings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_freezes"
down_revision = "0005_filings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "freezes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=False, index=True),
        sa.Column("applied_by", sa.String(64), nullable=False),
        sa.Column("applied_at", sa.String(32), nullable=False),
        sa.Column("lifted_by", sa.String(64), nullable=False),
        sa.Column("lifted_at", sa.String(32), nullable=False),
        sa.Column("lift_reason", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("freezes")
