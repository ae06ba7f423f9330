"""Production as the service runs it: jobs, runs, the output check, the outbox.

Operators register a job (an approved model by name, the scenario's production notebook
pinned by sha256, parameters, a cron schedule) and run it now; the scheduler
(`shuyu.production.scheduler`) queues the scheduled runs; the worker thread takes queued
runs (`run_pending`), at most `concurrency` at once. Before anything starts, a run is
refused — failed with a reason that says what differs — when the notebook's sha256 is not
the pinned one, `approved` points to a version without a verifiable approval record,
the model's files differ from the approved ones, or the scenario's authorisation has
expired. Then platform code in the service builds the input batch from the files of the
scenario's view (`shuyu.production.prepare`, no label), and the notebook runs with
papermill on that batch alone in a runner (`shuyu.production.execute`): no network, no
credential, one output folder.
What it wrote is checked (`shuyu.production.output_check`): released into the outbox,
or quarantined with the reasons until a reviewer — never the operator who ran it —
releases or discards it. Every transition goes through `_transition` (rules in
`shuyu.production.states`), with its event row and audit event in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from shuyu.audit.events import audit_event, now_iso
from shuyu.errors import InputError, ShuyuError
from shuyu.fsutil import atomic_write_bytes, atomic_write_text
from shuyu.policy.load import default_policies_dir
from shuyu.policy.models import Policies
from shuyu.production.execute import EXIT_CODES
from shuyu.production.inputs import report_window, time_field
from shuyu.production.output_check import check_outputs
from shuyu.production.output_rules import rules_for
from shuyu.production.packages import ApprovedWheels, runner_env
from shuyu.production.prepare import BATCH, Window, build_batch
from shuyu.production.scenario_notebooks import PRODUCTION, scenario_file
from shuyu.production.states import (
    FailureReason,
    ReleaseDecision,
    RunState,
    after_failure,
    check_transition,
)
from shuyu.production.tables import ProductionJobRow, ProductionRunEventRow, ProductionRunRow
from shuyu.registry.approval import ApprovalRecord
from shuyu.registry.approved import ApprovedModel, ModelChanged, NotApproved
from shuyu.review.service import Forbidden, NotFound, Principal
from shuyu.review.tables import NoticeRow
from shuyu.runner.job import (
    Executor,
    JobKind,
    Outcome,
    RunnerJob,
    RunnerResult,
    WarmSpec,
    folder_inputs,
)
from shuyu.store.database import Database

OPERATORS = "operators"
REVIEWERS = "reviewers"
VIEW_MAX_BYTES = 2 << 30  # a view the batch is built from, read whole into memory
START_TIMEOUT = 60  # papermill's kernel start: a cold runner needs more than its default
MODEL_INPUT = "model"
NOTEBOOK_RUNNER = WarmSpec(
    kind=JobKind.PRODUCTION,
    command=("python", "-m", "shuyu.production.execute"),
    warm_command=("python", "-m", "shuyu.production.execute", "--warm"),
    # the catalogue's labels for the factors, as the service reads it now (an input)
    env={"SHUYU_POLICIES": "/input/policies"},
    mem_limit="4G",
)
"""A notebook's runner: the service keeps some started ahead (`shuyu.runner.warm_pool`)."""


class ApprovedModels(Protocol):
    def approved(self, model_name: str) -> ApprovedModel:
        """The version behind `approved`, verified; raises NotApproved or ModelChanged."""
        ...


class Governance(Protocol):
    """Freezes and filings (`shuyu.governance.production_gate.ProductionGate`)."""

    def frozen(
        self, policies: Policies, scenario: str, partner: str, model_name: str
    ) -> str | None:
        """Why the job's scope is frozen, or None."""
        ...

    def filing(
        self, policies: Policies, record: ApprovalRecord, model_version: str, notebook_sha256: str
    ) -> Any:
        """The product's filing status (`in_force`, `reason_zh`, `reason_en`)."""
        ...


class VolumeNames(Protocol):
    def holdout_volume(self, scenario_id: str) -> str: ...

    def production_input_volume(self, scenario_id: str) -> str: ...


Notify = Callable[[dict[str, Any]], None]


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    model_name: str = Field(default="", max_length=128)
    """The registered model whose `approved` version a scoring product runs; a report
    product (its input a dataset, e.g. the coal market report) runs none."""
    cron: str = Field(default="", max_length=128)
    parameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    timeout_seconds: int = Field(default=1800, ge=60, le=6 * 3600)
    max_attempts: int = Field(default=3, ge=1, le=10)


class JobView(BaseModel):
    id: str
    scenario: str
    partner: str
    model_name: str
    model_version: str
    notebook_sha256: str
    parameters: dict[str, Any]
    cron: str
    timeout_seconds: int
    max_attempts: int
    enabled: bool
    created_by: str
    created_at: str


class RunEventView(BaseModel):
    ts: str
    actor: str
    from_state: str
    to_state: str
    reason: str


class RunView(BaseModel):
    id: str
    job_id: str
    scenario: str
    scheduled_for: str
    trigger: str
    operator: str
    state: str
    state_zh: str
    failure: str
    reason: str
    attempt: int
    model_version: str
    started_at: str
    finished_at: str
    seconds: str
    log_tail: str
    files: list[str]
    outbox: str
    history: list[RunEventView] = Field(default_factory=list)


@dataclass(frozen=True)
class _Preflight:
    model: ApprovedModel | None  # None: a report product, which runs no model
    notebook: bytes


@dataclass(frozen=True)
class _BatchStep:
    volume: str
    window: Window | None = None


class _Refused(Exception):
    def __init__(self, failure: FailureReason, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
"""China Standard Time: UTC+8 all year (no daylight saving), so a fixed offset."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    """One spelling of a time, so that stored times compare as strings."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


class ProductionService:
    def __init__(
        self,
        db: Database,
        policies: Callable[[], Policies],
        files: Path,
        outbox: Path,
        *,
        executor: Executor,
        models: ApprovedModels,
        volumes: VolumeNames,
        notify: Notify = lambda _notice: None,
        concurrency: int = 1,
        notebooks: Path | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        now: Callable[[], dt.datetime] = _now,
        governance: Governance | None = None,
        packages: ApprovedWheels | None = None,
    ) -> None:
        self.db = db
        self.packages = packages  # None: a run gets the runner image's packages only
        self.governance = governance  # None: no filing or freeze is asked for
        self.policies = policies
        self.files = files
        self.outbox = outbox
        self.executor = executor
        self.models = models
        self.volumes = volumes
        self.notify = notify
        self.concurrency = concurrency
        self.notebooks = notebooks  # None: the scenario notebooks the platform ships
        self.today = today
        self.now = now

    # ------------------------------------------------------------ who may do what

    @staticmethod
    def _require(who: Principal, *groups: str) -> None:
        if who.is_admin or any(g in who.groups for g in groups):
            return
        raise Forbidden(f"{who.username} is not in {' or '.join(groups)}: production is theirs")

    # ------------------------------------------------------------ jobs

    def _job_dir(self, job_id: str) -> Path:
        return self.files / "jobs" / job_id

    def _run_dir(self, run_id: str) -> Path:
        return self.files / "runs" / run_id

    def register_job(self, who: Principal, request: JobRequest) -> JobView:
        """An operator's new job; the notebook is copied beside it and pinned."""
        self._require(who, OPERATORS)
        policies = self.policies()
        scenario = policies.scenarios.get(request.scenario)
        if scenario is None:
            raise InputError("scenario", "unknown scenario", value=request.scenario)
        product = rules_for(policies, scenario.id).product
        if product is None:
            raise InputError(
                f"scenario {scenario.id}",
                "has no production product (policies/outputs.yaml)",
                hint="declare its input and outputs under products:",
            )
        if request.cron:
            from shuyu.production.scheduler import parse_cron  # noqa: PLC0415

            parse_cron(request.cron)
        period = str(request.parameters.get("period", "monthly"))
        if product.input.source == "dataset":
            if request.model_name:
                raise InputError(
                    "model_name",
                    f"{scenario.id} is a report product: it runs no model",
                    value=request.model_name,
                )
            report_window(period, dt.date(2026, 1, 1))  # names a bad period now, not at a run
            partner, version = "", ""
        else:
            approved = self._approved_for(who, scenario.id, request.model_name)
            partner, version = approved.record.partner, approved.model.version.version
        notebook = scenario_file(scenario.id, PRODUCTION, self.notebooks).read_bytes()
        job_id = f"{scenario.id.replace('_', '-')}-{secrets.token_hex(4)}"
        atomic_write_bytes(self._job_dir(job_id) / PRODUCTION, notebook)
        row = ProductionJobRow(
            id=job_id,
            scenario=scenario.id,
            partner=partner,
            model_name=request.model_name,
            model_version=version,
            notebook_sha256=_sha256(notebook),
            parameters=json.dumps(request.parameters, sort_keys=True),
            cron=request.cron,
            timeout_seconds=request.timeout_seconds,
            max_attempts=request.max_attempts,
            enabled=1,
            created_by=who.username,
            created_at=_stamp(self.now()),
        )
        with self.db.session(write=True) as session:
            session.add(row)
            audit_event(
                "production.job.create",
                who.username,
                "allowed",
                target=job_id,
                scenario=scenario.id,
                model=request.model_name,
                version=row.model_version,
                notebook_sha256=row.notebook_sha256,
                cron=request.cron,
            )
            view = self._job_view(row)
        return view

    def _approved_for(self, who: Principal, scenario: str, model_name: str) -> ApprovedModel:
        if not model_name:
            raise InputError(
                "model_name", f"{scenario} is a scoring product: name its approved model"
            )
        try:
            approved = self.models.approved(model_name)
        except (NotApproved, ModelChanged) as exc:
            audit_event(
                "production.job.create", who.username, "denied", model=model_name, reason=str(exc)
            )
            raise InputError("model_name", str(exc), value=model_name) from None
        if approved.record.scenario != scenario:
            raise InputError(
                "model_name",
                f"was approved for {approved.record.scenario}, not {scenario}",
                value=model_name,
            )
        return approved

    def set_enabled(self, who: Principal, job_id: str, enabled: bool) -> JobView:
        self._require(who, OPERATORS)
        with self.db.session(write=True) as session:
            row = self._job(session, job_id)
            row.enabled = int(enabled)
            audit_event(
                "production.job.enable" if enabled else "production.job.disable",
                who.username,
                "allowed",
                target=job_id,
            )
            return self._job_view(row)

    def jobs(self, who: Principal) -> list[JobView]:
        self._require(who, OPERATORS, REVIEWERS)
        with self.db.session() as session:
            rows = session.scalars(select(ProductionJobRow).order_by(ProductionJobRow.created_at))
            return [self._job_view(r) for r in rows]

    def scheduled_jobs(self) -> list[tuple[str, str]]:
        """(job id, cron) of every enabled job with a schedule: what the scheduler keeps."""
        with self.db.session() as session:
            rows = session.scalars(
                select(ProductionJobRow).where(
                    ProductionJobRow.enabled == 1, ProductionJobRow.cron != ""
                )
            )
            return [(r.id, r.cron) for r in rows]

    @staticmethod
    def _job(session: Any, job_id: str) -> ProductionJobRow:
        row = session.get(ProductionJobRow, job_id)
        if row is None:
            raise NotFound(f"production job {job_id} not found")
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _run_row(session: Any, run_id: str) -> ProductionRunRow:
        row = session.get(ProductionRunRow, run_id)
        if row is None:
            raise NotFound(f"production run {run_id} not found")
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _job_view(row: ProductionJobRow) -> JobView:
        return JobView(
            id=row.id,
            scenario=row.scenario,
            partner=row.partner,
            model_name=row.model_name,
            model_version=row.model_version,
            notebook_sha256=row.notebook_sha256,
            parameters=json.loads(row.parameters),
            cron=row.cron,
            timeout_seconds=row.timeout_seconds,
            max_attempts=row.max_attempts,
            enabled=bool(row.enabled),
            created_by=row.created_by,
            created_at=row.created_at,
        )

    # ------------------------------------------------------------ queueing runs

    def run_now(self, who: Principal, job_id: str) -> RunView:
        self._require(who, OPERATORS)
        view = self.enqueue(job_id, self.now(), trigger="manual", operator=who.username)
        if view is None:  # the same microsecond twice: nothing new to run
            raise ShuyuError(f"job {job_id} was queued at this moment already")
        return view

    def enqueue(
        self, job_id: str, scheduled_for: dt.datetime, *, trigger: str, operator: str
    ) -> RunView | None:
        """Queue a run of `job_id` for `scheduled_for`; None if that run exists already
        (a scheduler firing twice for one time, after a restart, queues one run)."""
        stamp = _stamp(scheduled_for)
        with self.db.session(write=True) as session:
            job = self._job(session, job_id)
            exists = session.scalars(
                select(ProductionRunRow.id).where(
                    ProductionRunRow.job_id == job_id, ProductionRunRow.scheduled_for == stamp
                )
            ).first()
            if exists is not None:
                return None
            if not job.enabled and trigger != "manual":
                return None
            run_id = "p" + self.now().strftime("%Y%m%d") + "-" + secrets.token_hex(4)
            ts = now_iso()
            row = ProductionRunRow(
                id=run_id,
                job_id=job_id,
                scheduled_for=stamp,
                trigger=trigger,
                operator=operator,
                state=RunState.QUEUED.value,
                attempt=0,
                not_before=_stamp(self.now()),
                created_at=ts,
                **dict.fromkeys(
                    ("failure", "reason", "model_version", "started_at", "finished_at"), ""
                ),
                **dict.fromkeys(("seconds", "log_tail", "verdict"), ""),
            )
            session.add(row)
            session.flush()  # the run before its event (no ORM relationship orders them)
            session.add(
                ProductionRunEventRow(
                    run_id=run_id,
                    ts=ts,
                    actor=operator,
                    from_state="",
                    to_state="queued",
                    reason=trigger,
                )
            )
            audit_event(
                "production.run.queue",
                operator,
                "allowed",
                target=run_id,
                job=job_id,
                scenario=job.scenario,
                trigger=trigger,
                scheduled_for=stamp,
            )
            return self._run_view(session, row, job)

    def last_scheduled(self, job_id: str) -> dt.datetime | None:
        """The time of the job's latest scheduled run, else when it was registered: the
        scheduler reports every occurrence after it that has no run as missed."""
        with self.db.session() as session:
            job = self._job(session, job_id)
            latest = session.scalar(
                select(func.max(ProductionRunRow.scheduled_for)).where(
                    ProductionRunRow.job_id == job_id, ProductionRunRow.trigger == "schedule"
                )
            )
            return dt.datetime.fromisoformat(latest or job.created_at)

    def missed(self, job_id: str, scheduled_for: dt.datetime) -> None:
        """A scheduled time the scheduler could not honour (the service was down past
        the grace time): never silent — an audit event and a notice for the operators."""
        stamp = scheduled_for.astimezone(dt.UTC).isoformat(timespec="seconds")
        audit_event("production.run.missed", "platform", "error", job=job_id, scheduled_for=stamp)
        with self.db.session(write=True) as session:
            self._tell(
                session,
                [f"group:{OPERATORS}"],
                f"生产任务 {job_id} 错过了 {stamp} 的计划运行（服务当时未运行）",
                f"production job {job_id} missed its run at {stamp} (the service was down)",
                job=job_id,
            )

    # ------------------------------------------------------------ the worker

    def _transition(
        self,
        session: Any,
        row: ProductionRunRow,
        to: RunState,
        actor: str,
        reason: str = "",
        *,
        failure: FailureReason | None = None,
        decision: ReleaseDecision | None = None,
    ) -> None:
        current = RunState(row.state)
        check_transition(current, to, failure=failure, decision=decision, operator=row.operator)
        ts = now_iso()
        session.add(
            ProductionRunEventRow(
                run_id=row.id,
                ts=ts,
                actor=actor,
                from_state=current.value,
                to_state=to.value,
                reason=reason,
            )
        )
        row.state, row.reason = to.value, reason
        row.failure = failure.value if failure is not None else row.failure
        if to.final or to is RunState.QUARANTINED:
            row.finished_at = ts
        audit_event(
            "production.run.transition",
            actor,
            "allowed" if to is not RunState.FAILED else "error",
            target=row.id,
            job=row.job_id,
            from_state=current.value,
            to_state=to.value,
            failure=failure.value if failure is not None else "",
            reason=reason[:500],
        )

    def resume_after_restart(self) -> int:
        """Runs a restart interrupted: a `running` one lost its runner (cancelled, then
        retried or failed), a `checking` one is checked again by `run_pending`."""
        with self.db.session(write=True) as session:
            rows = list(
                session.scalars(
                    select(ProductionRunRow).where(ProductionRunRow.state == RunState.RUNNING.value)
                )
            )
            for row in rows:
                job = self._job(session, row.job_id)
                self.executor.cancel(self._runner_id(row, "notebook"))
                self._fail_or_retry(
                    session, row, job, FailureReason.LOST, "interrupted by a restart"
                )
        return len(rows)

    @staticmethod
    def _runner_id(row: ProductionRunRow, step: str) -> str:
        return f"{row.id}-a{row.attempt}-{step}"

    def _fail_or_retry(
        self,
        session: Any,
        row: ProductionRunRow,
        job: ProductionJobRow,
        failure: FailureReason,
        detail: str,
    ) -> None:
        to, backoff = after_failure(
            failure, attempt=max(row.attempt, 1), max_attempts=job.max_attempts
        )
        reason = f"{failure.zh} / {failure.en}: {detail}"[:2000]
        if to is RunState.QUEUED:
            row.not_before = _stamp(self.now() + dt.timedelta(seconds=backoff))
            reason += f" — retry in {backoff:.0f} s"
        self._transition(session, row, to, "platform", reason, failure=failure)
        if to is RunState.FAILED:
            self._notice(
                session, row, job, f"生产运行失败：{reason}", f"production run failed: {reason}"
            )

    def _notice(
        self, session: Any, row: ProductionRunRow, job: ProductionJobRow, zh: str, en: str
    ) -> None:
        """Tell the operator who ran it and the operators' group, on their pages and by
        the webhook."""
        recipients = [f"group:{OPERATORS}"]
        if row.operator != "platform":
            recipients.insert(0, row.operator)
        self._tell(
            session,
            recipients,
            f"{row.id}：{zh}",
            f"{row.id}: {en}",
            run=row.id,
            job=job.id,
            scenario=job.scenario,
            state=row.state,
        )

    def _tell(self, session: Any, recipients: list[str], zh: str, en: str, **about: str) -> None:
        for recipient in recipients:
            session.add(NoticeRow(ts=now_iso(), recipient=recipient, text_zh=zh, text_en=en))
            self.notify({"recipient": recipient, **about, "text_zh": zh, "text_en": en})

    def _next(self) -> tuple[str, str] | None:
        """The next run to work on: a `checking` one first (outputs waiting), then the
        oldest queued one due now, while fewer than `concurrency` are running."""
        with self.db.session(write=True) as session:
            checking = session.scalars(
                select(ProductionRunRow.id)
                .where(ProductionRunRow.state == RunState.CHECKING.value)
                .limit(1)
            ).first()
            if checking is not None:
                return checking, RunState.CHECKING.value
            running = session.scalar(
                select(func.count()).where(ProductionRunRow.state == RunState.RUNNING.value)
            )
            if (running or 0) >= self.concurrency:
                return None
            due = _stamp(self.now())
            row = session.scalars(
                select(ProductionRunRow)
                .where(
                    ProductionRunRow.state == RunState.QUEUED.value,
                    ProductionRunRow.not_before <= due,
                )
                .order_by(ProductionRunRow.not_before)
                .limit(1)
            ).first()
            return None if row is None else (row.id, row.state)

    def run_pending(self) -> int:
        """Work every run that is due; the number worked."""
        done = 0
        seen: set[tuple[str, str]] = set()  # a run that did not move is not taken again
        while (step := self._next()) is not None and step not in seen:
            seen.add(step)
            run_id = step[0]
            try:
                self._work(run_id)
            except Exception as exc:  # a run is never left stuck by a bug in its handling
                self._fail_unexpectedly(run_id, exc)
            done += 1
        return done

    def _fail_unexpectedly(self, run_id: str, exc: Exception) -> None:
        with self.db.session(write=True) as session:
            row = session.get(ProductionRunRow, run_id)
            if row is None:
                return
            state = RunState(row.state)
            if state is RunState.CHECKING:
                # fail closed: outputs that could not be checked are not released
                self._transition(
                    session,
                    row,
                    RunState.QUARANTINED,
                    "platform",
                    f"the output check could not finish: {exc}",
                )
            elif state in (RunState.QUEUED, RunState.RUNNING):
                job = self._job(session, row.job_id)
                if state is RunState.QUEUED:
                    self._transition(
                        session,
                        row,
                        RunState.FAILED,
                        "platform",
                        f"could not start: {exc}",
                        failure=FailureReason.RUNNER_ERROR,
                    )
                else:
                    self._fail_or_retry(session, row, job, FailureReason.RUNNER_ERROR, str(exc))

    def _work(self, run_id: str) -> None:
        with self.db.session() as session:
            row = self._run_row(session, run_id)
            state = RunState(row.state)
        if state is RunState.CHECKING:
            self._check(run_id)
        elif state is RunState.QUEUED:
            self._start(run_id)

    def _preflight(self, job: ProductionJobRow) -> _Preflight:
        policies = self.policies()
        scenario = policies.scenarios.get(job.scenario)
        if (
            scenario is None
            or not scenario.is_valid_on(self.today())
            or (job.partner and job.partner not in scenario.partners)
        ):
            raise _Refused(
                FailureReason.AUTHORISATION_EXPIRED,
                f"{job.scenario} is not authorised for {job.partner} on {self.today()}",
            )
        if self.governance is not None:
            frozen = self.governance.frozen(policies, job.scenario, job.partner, job.model_name)
            if frozen:
                raise _Refused(FailureReason.FROZEN, frozen)
        notebook_path = self._job_dir(job.id) / PRODUCTION
        notebook = notebook_path.read_bytes() if notebook_path.is_file() else b""
        if _sha256(notebook) != job.notebook_sha256:
            raise _Refused(
                FailureReason.NOTEBOOK_CHANGED,
                f"{PRODUCTION} has sha256 {_sha256(notebook)[:12]}…, "
                f"approved {job.notebook_sha256[:12]}…",
            )
        if not job.model_name:
            return _Preflight(None, notebook)
        try:
            model = self.models.approved(job.model_name)
        except NotApproved as exc:
            raise _Refused(FailureReason.NOT_APPROVED, str(exc)) from None
        except ModelChanged as exc:
            raise _Refused(FailureReason.MODEL_CHANGED, str(exc)) from None
        if model.record.scenario != job.scenario:
            raise _Refused(
                FailureReason.NOT_APPROVED,
                f"{job.model_name}@approved was approved for {model.record.scenario}",
            )
        if self.governance is not None:
            filing = self.governance.filing(
                policies, model.record, model.model.version.version, job.notebook_sha256
            )
            if not filing.in_force:
                raise _Refused(
                    FailureReason.FILING_STALE, f"{filing.reason_zh} / {filing.reason_en}"
                )
        return _Preflight(model, notebook)

    def _start(self, run_id: str) -> None:
        # the checks read MLflow over HTTP: in a read transaction, not holding the
        # database's write lock while they wait
        with self.db.session() as session:
            row = self._run_row(session, run_id)
            if row.state != RunState.QUEUED.value:
                return
            refused: _Refused | None = None
            try:
                ready = self._preflight(self._job(session, row.job_id))
            except _Refused as exc:
                refused = exc
        with self.db.session(write=True) as session:
            row = self._run_row(session, run_id)
            job = self._job(session, row.job_id)
            if row.state != RunState.QUEUED.value:  # cancelled meanwhile
                return
            if refused is not None:
                reason = f"{refused.failure.zh} / {refused.failure.en}: {refused.detail}"
                self._transition(
                    session, row, RunState.FAILED, "platform", reason, failure=refused.failure
                )
                self._notice(session, row, job, reason, reason)
                return
            row.attempt += 1
            row.started_at = now_iso()
            if ready.model is not None:
                row.model_version = ready.model.model.version.version
            self._transition(session, row, RunState.RUNNING, "platform", f"attempt {row.attempt}")
            parameters = self._parameters(job, row)
            batch_step = self._batch_step(job, parameters)
            runner_id = self._runner_id(row, "notebook")
            timeout = job.timeout_seconds
            scenario = job.scenario
        started = self.now()
        outcome = self._execute(
            run_id,
            scenario=scenario,
            runner_id=runner_id,
            batch_step=batch_step,
            timeout=timeout,
            ready=ready,
            parameters=parameters,
        )
        seconds = f"{(self.now() - started).total_seconds():.1f}"
        with self.db.session(write=True) as session:
            row = self._run_row(session, run_id)
            job = self._job(session, row.job_id)
            if row.state != RunState.RUNNING.value:  # cancelled meanwhile
                return
            row.seconds = seconds
            row.log_tail = outcome.log_tail[-20000:]
            failure = self._failure_of(outcome)
            if failure is not None:
                self._fail_or_retry(session, row, job, failure, outcome.reason)
                return
            # the outputs are on disk before the state says so: a restart checks them
            self._transition(session, row, RunState.CHECKING, "platform")

    @staticmethod
    def _parameters(job: ProductionJobRow, row: ProductionRunRow) -> dict[str, Any]:
        """The job's parameters; a run without its own `run_date` runs for the day it
        was scheduled for (China Standard Time), so a daily report covers its own day."""
        parameters: dict[str, Any] = json.loads(job.parameters)
        if "run_date" not in parameters:
            scheduled = dt.datetime.fromisoformat(row.scheduled_for).astimezone(CHINA)
            parameters["run_date"] = scheduled.date().isoformat()
        if job.model_name:
            parameters["model_uri"] = f"models:/{job.model_name}@approved"
        return parameters

    def _batch_step(self, job: ProductionJobRow, parameters: dict[str, Any]) -> _BatchStep:
        """Where the batch comes from: the view (a scoring product), or the product's
        production-zone input cut to the report window."""
        policies = self.policies()
        product = rules_for(policies, job.scenario).product
        if product is None or product.input.source == "view":
            return _BatchStep(self.volumes.holdout_volume(job.scenario))
        start, end = report_window(
            str(parameters.get("period", "monthly")),
            dt.date.fromisoformat(str(parameters["run_date"])),
        )
        window = Window(time_field(policies, product.input), start, end)
        return _BatchStep(self.volumes.production_input_volume(job.scenario), window)

    def _execute(
        self,
        run_id: str,
        *,
        scenario: str,
        runner_id: str,
        batch_step: _BatchStep,
        timeout: int,
        ready: _Preflight,
        parameters: dict[str, Any],
    ) -> RunnerResult:
        run_dir = self._run_dir(run_id)
        try:
            files = self.executor.read_volume(batch_step.volume, max_bytes=VIEW_MAX_BYTES)
            frame = build_batch(files, source=batch_step.volume, window=batch_step.window)
        except (ShuyuError, pl.exceptions.PolarsError) as exc:
            # the platform's batch step failed, not the notebook: no notebook exit code
            return RunnerResult(
                runner_id, Outcome.FAILED, None, f"building the input batch: {exc}", {}, "", 0.0
            )
        try:
            wheels = (
                self.packages.inputs(self.executor, scenario, ready.notebook, run=run_id)
                if self.packages is not None
                else {}
            )
        except ShuyuError as exc:
            return RunnerResult(
                runner_id, Outcome.FAILED, None, f"the approved packages: {exc}", {}, "", 0.0
            )
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        batch = buffer.getvalue()
        atomic_write_bytes(run_dir / "input" / BATCH, batch)
        model_inputs: dict[str, bytes | Path] = {}
        placed = {"input_batch": f"/input/{BATCH}", "output_dir": "."}
        if ready.model is not None:
            onnx_name, onnx = ready.model.onnx
            model_inputs[f"{MODEL_INPUT}/{onnx_name}"] = onnx
            placed["model_path"] = f"/input/{MODEL_INPUT}/{onnx_name}"
        run_spec = {
            "parameters": {**parameters, **placed},
            "start_timeout": START_TIMEOUT,
            "execution_timeout": timeout,
        }
        result = self.executor.run(
            RunnerJob(
                job_id=runner_id,
                kind=NOTEBOOK_RUNNER.kind,
                command=list(NOTEBOOK_RUNNER.command),
                inputs={
                    PRODUCTION: ready.notebook,
                    "run.json": json.dumps(run_spec).encode(),
                    BATCH: batch,
                    **model_inputs,
                    **wheels,
                    **folder_inputs(default_policies_dir(), "policies"),
                },
                # with wheels to install first, the job is not a warm runner's
                env={**NOTEBOOK_RUNNER.env, **runner_env(wheels)},
                timeout_seconds=timeout + START_TIMEOUT + 60,
                mem_limit=NOTEBOOK_RUNNER.mem_limit,
            )
        )
        out = run_dir / "out"
        if out.exists():
            shutil.rmtree(out)
        for name, data in result.outputs.items():
            atomic_write_bytes(out / name, data)
        return result

    @staticmethod
    def _failure_of(result: RunnerResult) -> FailureReason | None:
        if result.outcome is Outcome.SUCCEEDED:
            return None
        if result.outcome is Outcome.KILLED:
            if "memory" in result.reason:
                return FailureReason.OUT_OF_MEMORY
            return FailureReason.TIMED_OUT
        if result.outcome is Outcome.FAILED and result.exit_code in EXIT_CODES:
            return EXIT_CODES[result.exit_code]
        return FailureReason.RUNNER_ERROR

    def _check(self, run_id: str) -> None:
        with self.db.session() as session:
            row = self._run_row(session, run_id)
            job = self._job(session, row.job_id)
            scenario, period = job.scenario, json.loads(job.parameters).get("period")
        run_dir = self._run_dir(run_id)
        batch_file = run_dir / "input" / BATCH
        batch = pl.read_parquet(batch_file) if batch_file.is_file() else None
        verdict = check_outputs(
            run_dir / "out",
            self.policies(),
            scenario,
            input_batch=batch,
            period=str(period) if period else None,
            run_id=run_id,
        )
        atomic_write_text(run_dir / "verdict.json", verdict.model_dump_json(indent=1))
        with self.db.session(write=True) as session:
            row = self._run_row(session, run_id)
            job = self._job(session, row.job_id)
            if row.state != RunState.CHECKING.value:
                return
            row.verdict = verdict.model_dump_json()
            if verdict.releasable:
                self._publish(row, job)
                released = f"{verdict.summary_zh()} / {verdict.summary_en()}"
                self._transition(session, row, RunState.RELEASED, "platform", released)
            else:
                reasons = "; ".join(verdict.reasons_en())[:2000]
                reasons_zh = "；".join(verdict.reasons_zh())
                zh = f"{verdict.summary_zh()} {reasons_zh}"[:2000]
                # the run page shows one reason: Chinese first, as everywhere
                both = f"{reasons_zh} / {reasons}"[:2000]
                self._transition(session, row, RunState.QUARANTINED, "platform", both)
                self._notice(session, row, job, zh, f"{verdict.summary_en()} {reasons}")
                self._tell(
                    session,
                    [f"group:{REVIEWERS}"],
                    f"生产运行 {row.id} 的产出已隔离，待审核发布或销毁",
                    f"outputs of production run {row.id} are quarantined: release or discard",
                    run=row.id,
                )

    def _outbox_dir(self, job: ProductionJobRow, run_id: str) -> Path:
        return self.outbox / job.scenario / run_id

    def _publish(self, row: ProductionRunRow, job: ProductionJobRow) -> None:
        """Copy the checked outputs to the outbox, whole or not at all (a temporary
        folder renamed into place)."""
        source = self._run_dir(row.id) / "out"
        target = self._outbox_dir(job, row.id)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{row.id}.partial"
        if staging.exists():
            shutil.rmtree(staging)
        shutil.copytree(source, staging, symlinks=True)
        if target.exists():  # published before a restart interrupted the state change
            shutil.rmtree(target)
        os.replace(staging, target)

    # ------------------------------------------------------------ quarantine decisions

    def decide(self, who: Principal, run_id: str, release: bool, reason: str) -> RunView:
        """A reviewer releases quarantined outputs to the outbox, or discards them."""
        self._require(who, REVIEWERS)
        with self.db.session(write=True) as session:
            row = self._run_row(session, run_id)
            job = self._job(session, row.job_id)
            decision = ReleaseDecision(who.username, release, reason, self.now())
            to = RunState.RELEASED if release else RunState.DISCARDED
            try:
                check_transition(RunState(row.state), to, decision=decision, operator=row.operator)
            except ShuyuError as exc:
                audit_event(
                    "production.run.decide",
                    who.username,
                    "denied",
                    target=run_id,
                    reason=str(exc),
                )
                raise Forbidden(str(exc)) from None
            if release:
                self._publish(row, job)
            else:
                shutil.rmtree(self._run_dir(run_id) / "out", ignore_errors=True)
            self._transition(
                session, row, to, who.username, f"{who.username}: {reason}", decision=decision
            )
            audit_event(
                "production.run.decide",
                who.username,
                "allowed",
                target=run_id,
                release=release,
                reason=reason,
            )
            return self._run_view(session, row, job)

    # ------------------------------------------------------------ reading

    def runs(self, who: Principal, job_id: str | None = None, limit: int = 100) -> list[RunView]:
        self._require(who, OPERATORS, REVIEWERS)
        with self.db.session() as session:
            query = select(ProductionRunRow).order_by(ProductionRunRow.created_at.desc())
            if job_id:
                query = query.where(ProductionRunRow.job_id == job_id)
            rows = list(session.scalars(query.limit(limit)))
            return [self._run_view(session, r, self._job(session, r.job_id)) for r in rows]

    def run(self, who: Principal, run_id: str) -> RunView:
        self._require(who, OPERATORS, REVIEWERS)
        with self.db.session() as session:
            row = self._run_row(session, run_id)
            return self._run_view(session, row, self._job(session, row.job_id), history=True)

    def run_file(self, who: Principal, run_id: str, name: str) -> Path:
        """One file a run wrote (its report, its executed notebook, an output), for staff."""
        self._require(who, OPERATORS, REVIEWERS)
        self.run(who, run_id)
        root = (self._run_dir(run_id) / "out").resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise NotFound(f"run {run_id} has no file {name}")
        audit_event("production.run.file", who.username, "allowed", target=run_id, file=name)
        return path

    def _run_view(
        self,
        session: Any,
        row: ProductionRunRow,
        job: ProductionJobRow,
        *,
        history: bool = False,
    ) -> RunView:
        out = self._run_dir(row.id) / "out"
        files = (
            sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
            if out.is_dir()
            else []
        )
        events = (
            session.scalars(
                select(ProductionRunEventRow)
                .where(ProductionRunEventRow.run_id == row.id)
                .order_by(ProductionRunEventRow.id)
            )
            if history
            else []
        )
        published = self._outbox_dir(job, row.id)
        return RunView(
            id=row.id,
            job_id=row.job_id,
            scenario=job.scenario,
            scheduled_for=row.scheduled_for,
            trigger=row.trigger,
            operator=row.operator,
            state=row.state,
            state_zh=RunState(row.state).zh,
            failure=row.failure,
            reason=row.reason,
            attempt=row.attempt,
            model_version=row.model_version,
            started_at=row.started_at,
            finished_at=row.finished_at,
            seconds=row.seconds,
            log_tail=row.log_tail,
            files=files,
            outbox=str(published) if row.state == RunState.RELEASED.value else "",
            history=[
                RunEventView(
                    ts=e.ts,
                    actor=e.actor,
                    from_state=e.from_state,
                    to_state=e.to_state,
                    reason=e.reason,
                )
                for e in events
            ],
        )
