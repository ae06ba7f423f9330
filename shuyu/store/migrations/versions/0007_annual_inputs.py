"""The annual evaluation's manual figures (年度评估: what the platform's records cannot
compute, entered by an administrator) and the authorisation lifecycle's record of the
reminders and expiry notices it sent (each once per item, expiry date and stage).

Revision ID: 0007_annual_inputs
Revises: 0006_freezes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_annual_inputs"
down_revision = "0006_freezes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "annual_inputs",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("indicator", sa.String(32), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(64), nullable=False),
        sa.Column("entered_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "lifecycle_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("item", sa.String(160), nullable=False),
        sa.Column("expires_on", sa.String(10), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("sent_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("kind", "item", "expires_on", "stage"),
    )


def downgrade() -> None:
    op.drop_table("lifecycle_notices")
    op.drop_table("annual_inputs")
