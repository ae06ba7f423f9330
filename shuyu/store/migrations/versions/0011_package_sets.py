"""Per-scenario package sets: where a scenario's approved wheels are served from (a
folder of the packages volume whose random name is the index path its sandboxes get),
and in which set each published request landed.

Revision ID: 0011_package_sets
Revises: 0010_airlock
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_package_sets"
down_revision = "0010_airlock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "package_sets",
        sa.Column("scenario", sa.String(64), primary_key=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    with op.batch_alter_table("package_requests") as batch:
        batch.add_column(sa.Column("index_set", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("package_requests") as batch:
        batch.drop_column("index_set")
    op.drop_table("package_sets")
