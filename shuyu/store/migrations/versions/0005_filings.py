"""Filing records (登记备案): each filing and re-filing of an approved product, with the
fingerprint of what was filed.

Revision ID: 0005_filings
Revises: 0004_production
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_filings"
down_revision = "0004_production"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "filings",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("product", sa.String(128), nullable=False, index=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("filed_by", sa.String(64), nullable=False),
        sa.Column("filed_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("product", "sequence"),
    )


def downgrade() -> None:
    op.drop_table("filings")
