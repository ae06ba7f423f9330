"""The product API: consumers, API keys, agreements, consents, quota counters, the
事中检查 cases and the audit-watch cursors.

Revision ID: 0003_products
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_products"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_consumers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("name_en", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "product_api_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column(
            "consumer_id",
            sa.String(64),
            sa.ForeignKey("product_consumers.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
        sa.Column("replaced_by", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "product_agreements",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "consumer_id",
            sa.String(64),
            sa.ForeignKey("product_consumers.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(64), nullable=False),
        sa.Column("purposes", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.String(10), nullable=False),
        sa.Column("valid_until", sa.String(10), nullable=False),
        sa.Column("daily_quota", sa.Integer(), nullable=False),
        sa.Column("monthly_quota", sa.Integer(), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("regions", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("consumer_id", "product"),
    )
    op.create_table(
        "product_consents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "consumer_id", sa.String(64), sa.ForeignKey("product_consumers.id"), nullable=False
        ),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("valid_from", sa.String(10), nullable=False),
        sa.Column("valid_until", sa.String(10), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_index(
        "ix_product_consents_subject",
        "product_consents",
        ["consumer_id", "product", "subject"],
    )
    op.create_table(
        "product_usage_counters",
        sa.Column("consumer_id", sa.String(64), primary_key=True),
        sa.Column("product", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(16), primary_key=True),
        sa.Column("calls", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "product_cases",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False, index=True),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False, index=True),
        sa.Column("consumer_id", sa.String(64), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("resolution", sa.String(16), nullable=False),
        sa.Column("summary_zh", sa.Text(), nullable=False),
        sa.Column("summary_en", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "product_case_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "case_id",
            sa.String(32),
            sa.ForeignKey("product_cases.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("ts", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=False),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
    )
    op.create_table(
        "product_watch_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("product_watch_cursors")
    op.drop_table("product_case_events")
    op.drop_table("product_cases")
    op.drop_table("product_usage_counters")
    op.drop_index("ix_product_consents_subject", table_name="product_consents")
    op.drop_table("product_consents")
    op.drop_table("product_agreements")
    op.drop_table("product_api_keys")
    op.drop_table("product_consumers")
