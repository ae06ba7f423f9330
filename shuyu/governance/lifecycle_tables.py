"""What the authorisation lifecycle has told people: one row per item (an authorisation
or an agreement), expiry date and stage, so that a sweep that runs every minute sends
each reminder once — and again when a renewal moves the expiry date."""

from __future__ import annotations

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shuyu.store.base import Base


class LifecycleNoticeRow(Base):
    __tablename__ = "lifecycle_notices"
    __table_args__ = (UniqueConstraint("kind", "item", "expires_on", "stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # authorisation | agreement
    item: Mapped[str] = mapped_column(String(160))  # scenario/partner | consumer/product
    expires_on: Mapped[str] = mapped_column(String(10))
    stage: Mapped[str] = mapped_column(String(16))  # renew_soon | expired
    sent_at: Mapped[str] = mapped_column(String(32))
