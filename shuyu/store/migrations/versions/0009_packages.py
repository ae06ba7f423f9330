"""Package requests: a partner asks for a package and version, an administrator decides,
the host fetches and checks the wheels for the in-domain index.

Revision ID: 0009_packages
Revises: 0008_exits
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_packages"
down_revision = "0008_exits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "package_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, index=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("partner", sa.String(64), nullable=False, index=True),
        sa.Column("requester", sa.String(64), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("package_requests")
