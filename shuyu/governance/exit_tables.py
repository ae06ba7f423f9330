"""Exits (退出): one row per partner or consumer leaving, with its 30-day deadline, its
state (`shuyu.governance.exit_states`), the deletion certificate's canonical JSON and
that JSON's sha256 (a certificate changed after it was stored no longer matches)."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shuyu.store.base import Base


class ExitRow(Base):
    __tablename__ = "exits"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # partner | consumer
    subject: Mapped[str] = mapped_column(String(128), index=True)
    reason: Mapped[str] = mapped_column(Text)
    exited_by: Mapped[str] = mapped_column(String(64))
    exit_date: Mapped[str] = mapped_column(String(10))
    deadline: Mapped[str] = mapped_column(String(10))  # exit date + 30 days
    state: Mapped[str] = mapped_column(String(24), index=True)
    transferred: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of models kept
    revoked: Mapped[str] = mapped_column(Text, default="{}")  # JSON: what was revoked
    certificate: Mapped[str] = mapped_column(Text, default="")  # canonical JSON
    certificate_sha256: Mapped[str] = mapped_column(String(64), default="")
    accepted_by: Mapped[str] = mapped_column(String(64), default="")
    accepted_at: Mapped[str] = mapped_column(String(32), default="")
    accept_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))
