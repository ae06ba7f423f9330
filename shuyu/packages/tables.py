"""Package requests: one row per (package, version) a partner asked for; package sets:
one folder of the index per scenario, when policy keeps approved sets per scenario."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shuyu.store.base import Base


class PackageRequestRow(Base):
    __tablename__ = "package_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)  # PEP 503 normalised
    version: Mapped[str] = mapped_column(String(64))
    scenario: Mapped[str] = mapped_column(String(64))
    partner: Mapped[str] = mapped_column(String(64), index=True)
    requester: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[str] = mapped_column(String(32), default="")
    note: Mapped[str] = mapped_column(Text, default="")  # the decision's or the checks' reason
    files: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [{filename, sha256, size}]
    # the scenario whose set it was published to; "" for the set every sandbox sees
    index_set: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class PackageSetRow(Base):
    """A scenario's set: served under /<token>/simple/, a random name that only the
    scenario's sandboxes are given (the index holds no secret and no database)."""

    __tablename__ = "package_sets"

    scenario: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[str] = mapped_column(String(32))
