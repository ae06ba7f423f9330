"""The import airlock: a partner's uploaded file, its scan, the provider's decision and
where it was placed.

Revision ID: 0010_airlock
Revises: 0009_packages
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_airlock"
down_revision = "0009_packages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "airlock_imports",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("partner", sa.String(64), nullable=False, index=True),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("scan", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("placed_as", sa.String(255), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("airlock_imports")
