"""Production's tables: jobs (what runs, on which approved model, when), their runs and
every state change of a run."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shuyu.store.base import Base


class ProductionJobRow(Base):
    """A production job, registered by an operator: an approved model by name (its
    `approved` alias is resolved at each run), the scenario's production notebook pinned
    by sha256 (its bytes kept beside the job), parameters and a cron schedule."""

    __tablename__ = "production_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    scenario: Mapped[str] = mapped_column(String(64), index=True)
    partner: Mapped[str] = mapped_column(String(64))
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(16))  # approved when registered
    notebook_sha256: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    cron: Mapped[str] = mapped_column(String(128), default="")  # "" = run by hand only
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=1800)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    enabled: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32))


class ProductionRunRow(Base):
    __tablename__ = "production_runs"
    # one run per job and scheduled time: a scheduler that fires twice (a restart, two
    # replicas) cannot start the same run twice
    __table_args__ = (UniqueConstraint("job_id", "scheduled_for"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("production_jobs.id"), index=True)
    scheduled_for: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | manual
    operator: Mapped[str] = mapped_column(String(64))  # who asked (platform for schedules)
    state: Mapped[str] = mapped_column(String(16), index=True)
    failure: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[str] = mapped_column(String(32))
    model_version: Mapped[str] = mapped_column(String(16), default="")
    started_at: Mapped[str] = mapped_column(String(32), default="")
    finished_at: Mapped[str] = mapped_column(String(32), default="")
    seconds: Mapped[str] = mapped_column(String(16), default="")
    log_tail: Mapped[str] = mapped_column(Text, default="")
    verdict: Mapped[str] = mapped_column(Text, default="")  # the output check, JSON
    created_at: Mapped[str] = mapped_column(String(32))


class ProductionRunEventRow(Base):
    __tablename__ = "production_run_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("production_runs.id"), index=True)
    ts: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
