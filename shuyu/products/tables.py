"""The product API's tables: consumers, their keys, agreements and consent records, the
quota counters, the 事中检查 cases with their history, and the audit-watch cursors.

Times are ISO 8601 text in UTC (as the audit log's); dates are ISO dates. No raw
identifier is stored anywhere: a consent record names its subject by pseudonym.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shuyu.store.base import Base


class ConsumerRow(Base):
    """A 使用单位: a bank or insurer that calls products with its keys."""

    __tablename__ = "product_consumers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    name_en: Mapped[str] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))  # bank | insurer | other
    status: Mapped[str] = mapped_column(String(16))  # active | suspended
    created_at: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64))


class ApiKeyRow(Base):
    __tablename__ = "product_api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # the public key id
    consumer_id: Mapped[str] = mapped_column(ForeignKey("product_consumers.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256(pepper, id:secret)
    status: Mapped[str] = mapped_column(String(16))  # active | blocked | rotated | revoked
    case_id: Mapped[str] = mapped_column(String(32), default="")  # the case that blocked it
    expires_at: Mapped[str] = mapped_column(String(32), default="")  # a rotated key's grace
    replaced_by: Mapped[str] = mapped_column(String(16), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[str] = mapped_column(String(32))


class AgreementRow(Base):
    """A usage agreement (使用协议): one per consumer and product, replaced when set."""

    __tablename__ = "product_agreements"
    __table_args__ = (UniqueConstraint("consumer_id", "product"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consumer_id: Mapped[str] = mapped_column(ForeignKey("product_consumers.id"), index=True)
    product: Mapped[str] = mapped_column(String(64))
    scenario: Mapped[str] = mapped_column(String(64))
    purposes: Mapped[str] = mapped_column(Text)  # JSON list of purpose ids
    valid_from: Mapped[str] = mapped_column(String(10))
    valid_until: Mapped[str] = mapped_column(String(10))
    daily_quota: Mapped[int] = mapped_column(Integer)
    monthly_quota: Mapped[int] = mapped_column(Integer)
    price_fen: Mapped[int] = mapped_column(Integer)  # price per billable call, in 分
    regions: Mapped[str] = mapped_column(Text)  # JSON list of region codes
    status: Mapped[str] = mapped_column(String(16))  # active | terminated
    updated_at: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(64))


class ConsentRow(Base):
    """A subject's consent (个人授权书) that a consumer registered for a product."""

    __tablename__ = "product_consents"
    __table_args__ = (Index("ix_product_consents_subject", "consumer_id", "product", "subject"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consumer_id: Mapped[str] = mapped_column(ForeignKey("product_consumers.id"))
    product: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64))  # the subject's pseudonym
    purpose: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[str] = mapped_column(String(10))
    valid_until: Mapped[str] = mapped_column(String(10))
    document_sha256: Mapped[str] = mapped_column(String(64))  # the signed 授权书's digest
    status: Mapped[str] = mapped_column(String(16))  # active | withdrawn
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class UsageCounterRow(Base):
    """Subjects looked up per consumer, product and period (`d:2026-07-01`,
    `m:2026-07`, in the monitor's time zone): the quota, counted atomically."""

    __tablename__ = "product_usage_counters"

    consumer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)


class CaseRow(Base):
    """A 事中检查 case: a rule's hit, its evidence, and the bureau's manual check."""

    __tablename__ = "product_cases"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # product | sandbox
    rule: Mapped[str] = mapped_column(String(32), index=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # api_key | user
    subject: Mapped[str] = mapped_column(String(64), index=True)  # key id or username
    consumer_id: Mapped[str] = mapped_column(String(64), default="")
    product: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16), index=True)
    resolution: Mapped[str] = mapped_column(String(16), default="")
    summary_zh: Mapped[str] = mapped_column(Text)
    summary_en: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text)  # canonical JSON
    opened_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class CaseEventRow(Base):
    __tablename__ = "product_case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("product_cases.id"), index=True)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")


class WatchCursorRow(Base):
    """How far a watcher of the audit log has read (the last event's sequence number)."""

    __tablename__ = "product_watch_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[str] = mapped_column(String(32))
