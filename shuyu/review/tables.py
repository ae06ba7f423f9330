"""The review's tables: submissions, their state changes, and the reviewers' votes."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shuyu.store.base import Base


class SubmissionRow(Base):
    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scenario: Mapped[str] = mapped_column(String(64), index=True)
    partner: Mapped[str] = mapped_column(String(64))
    submitter: Mapped[str] = mapped_column(String(64), index=True)
    run_id: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    spec: Mapped[str | None] = mapped_column(Text, nullable=True)  # canonical JSON
    spec_sha256: Mapped[str] = mapped_column(String(64), default="")
    notebook_sha256: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(16), index=True)
    state_reason: Mapped[str] = mapped_column(Text, default="")
    level: Mapped[int] = mapped_column(Integer, default=0)
    """Index of the review level now deciding (while in review)."""
    check_job: Mapped[str] = mapped_column(String(64), default="")
    check_attempts: Mapped[int] = mapped_column(Integer, default=0)
    report_sha256: Mapped[str] = mapped_column(String(64), default="")
    report_json_sha256: Mapped[str] = mapped_column(String(64), default="")
    check_status: Mapped[str] = mapped_column(String(8), default="")
    epsilon: Mapped[str] = mapped_column(String(32), default="")
    privacy_kind: Mapped[str] = mapped_column(String(16), default="")
    model_name: Mapped[str] = mapped_column(String(128), default="")
    model_version: Mapped[str] = mapped_column(String(16), default="")
    approval: Mapped[str] = mapped_column(Text, default="")  # the approval record, JSON
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class SubmissionEventRow(Base):
    __tablename__ = "submission_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")


class VoteRow(Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("submission_id", "level", "reviewer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    level: Mapped[str] = mapped_column(String(64))  # the review level's id
    reviewer: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(8))  # approve | reject
    comment: Mapped[str] = mapped_column(Text, default="")
    ts: Mapped[str] = mapped_column(String(32))


class NoticeRow(Base):
    """What a person or a group is told: a new submission in a queue, a decision."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(64), index=True)  # a user or "group:<g>"
    submission_id: Mapped[str] = mapped_column(String(32), default="")
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
