"""Exits (退出) with their deletion certificates: what a leaving partner or consumer had,
deleted with sha256 and times, verified, and accepted by the bureau within 30 days.

Revision ID: 0008_exits
Revises: 0007_annual_inputs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_exits"
down_revision = "0007_annual_inputs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exits",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False, index=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("exited_by", sa.String(64), nullable=False),
        sa.Column("exit_date", sa.String(10), nullable=False),
        sa.Column("deadline", sa.String(10), nullable=False),
        sa.Column("state", sa.String(24), nullable=False, index=True),
        sa.Column("transferred", sa.Text(), nullable=False),
        sa.Column("revoked", sa.Text(), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("certificate_sha256", sa.String(64), nullable=False),
        sa.Column("accepted_by", sa.String(64), nullable=False),
        sa.Column("accepted_at", sa.String(32), nullable=False),
        sa.Column("accept_note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exits")
