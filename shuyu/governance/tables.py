"""Governance's tables: filings (one row per filing or re-filing of a product; the
latest is the one in force) and freezes (active until an administrator lifts them)."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shuyu.store.base import Base


class FilingRow(Base):
    """One filing of an approved product (a registered model): the canonical JSON of
    everything filed and its sha256; re-filing adds a row with the next sequence."""

    __tablename__ = "filings"
    __table_args__ = (UniqueConstraint("product", "sequence"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    product: Mapped[str] = mapped_column(String(128), index=True)  # the registered model
    sequence: Mapped[int] = mapped_column(Integer)
    scenario: Mapped[str] = mapped_column(String(64))
    partner: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)  # canonical JSON of `FilingContent`
    note: Mapped[str] = mapped_column(Text, default="")
    filed_by: Mapped[str] = mapped_column(String(64))
    filed_at: Mapped[str] = mapped_column(String(32))


class FreezeRow(Base):
    """A freeze of one scope (`kind`: partner, scenario, product, consumer, platform;
    `target` its id, "" for the platform), active until lifted."""

    __tablename__ = "freezes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    active: Mapped[int] = mapped_column(Integer, index=True)
    applied_by: Mapped[str] = mapped_column(String(64))
    applied_at: Mapped[str] = mapped_column(String(32))
    lifted_by: Mapped[str] = mapped_column(String(64), default="")
    lifted_at: Mapped[str] = mapped_column(String(32), default="")
    lift_reason: Mapped[str] = mapped_column(Text, default="")
