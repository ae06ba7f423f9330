"""Production jobs, their runs and the runs' state changes.

Revision ID: 0004_production
Revises: 0003_products
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_production"
down_revision = "0003_products"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "production_jobs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("scenario", sa.String(64), nullable=False, index=True),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(16), nullable=False),
        sa.Column("notebook_sha256", sa.String(64), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("cron", sa.String(128), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "production_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "job_id",
            sa.String(64),
            sa.ForeignKey("production_jobs.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("scheduled_for", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("failure", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.String(32), nullable=False),
        sa.Column("model_version", sa.String(16), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=False),
        sa.Column("seconds", sa.String(16), nullable=False),
        sa.Column("log_tail", sa.Text(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("job_id", "scheduled_for"),
    )
    op.create_table(
        "production_run_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "run_id",
            sa.String(64),
            sa.ForeignKey("production_runs.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("production_run_events")
    op.drop_table("production_runs")
    op.drop_table("production_jobs")
