"""The review as the service runs it: submissions in, self-check, votes, the registry.

Everything a page or a REST call can do is a method here, with the caller's identity
(`Principal`) checked first; the web layer only translates HTTP. State changes go
through `_transition` (the rules are in `shuyu.review.states`), each in a transaction
with its state-change row and its audit event. The self-check runs on a worker thread
(`run_pending`), never in a request; a restart finds every submission that was being
checked and checks it again, or fails it with the reason after `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from shuyu.audit.events import audit_event, now_iso
from shuyu.errors import InputError, ShuyuError
from shuyu.fsutil import atomic_write_bytes, atomic_write_text, file_sha256
from shuyu.policy.models import Policies, Scenario
from shuyu.registry.approval import ApprovalRecord, LevelApproval
from shuyu.review import rules
from shuyu.review.states import SubmissionState, check_transition
from shuyu.review.tables import NoticeRow, SubmissionEventRow, SubmissionRow, VoteRow
from shuyu.selfcheck.result import SelfCheckReport, Status
from shuyu.store.database import Database
from shuyu.train.spec import parse_spec, spec_sha256

MAX_ATTEMPTS = 3
ADMINS = "admins"


class Forbidden(ShuyuError):
    """The caller may not do this (HTTP 403)."""


class NotFound(ShuyuError):
    """No such submission for this caller (HTTP 404)."""


@dataclass(frozen=True)
class Principal:
    username: str
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMINS in self.groups


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    scenario: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    note: str = Field(default="", max_length=4000)
    spec: dict[str, Any] | None = None
    notebook_name: str = Field(default="", max_length=255)
    notebook: str | None = Field(default=None, max_length=16 << 20)
    code: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class CheckRequest:
    submission_id: str
    scenario: str
    partner: str
    submitter: str
    run_id: str
    spec: dict[str, Any] | None
    code_dir: Path
    workdir: Path
    submitted_at: dt.datetime


@dataclass(frozen=True)
class CheckOutcome:
    status: Status
    reason: str
    report: SelfCheckReport | None
    files: dict[str, Path] = field(default_factory=dict)  # report.json / .html / .ipynb
    model_dir: Path | None = None


class CheckPipeline(Protocol):
    def check(self, request: CheckRequest) -> CheckOutcome: ...


class Registrar(Protocol):
    def register(self, model_dir: Path, model_name: str, record: ApprovalRecord) -> tuple[str, str]:
        """Register the checked files as a new version with `approved`: (name, version)."""
        ...


Notify = Callable[[dict[str, Any]], None]


class VoteView(BaseModel):
    level: str
    reviewer: str
    decision: str
    comment: str
    ts: str


class EventView(BaseModel):
    ts: str
    actor: str
    from_state: str
    to_state: str
    reason: str


class SubmissionView(BaseModel):
    id: str
    scenario: str
    partner: str
    submitter: str
    run_id: str
    note: str
    state: str
    state_zh: str
    reason: str
    level: str
    level_name: str
    check_status: str
    privacy_kind: str
    epsilon: str
    report_sha256: str
    notebook_sha256: str
    spec_sha256: str
    model_name: str
    model_version: str
    created_at: str
    updated_at: str
    votes: list[VoteView] = Field(default_factory=list)
    history: list[EventView] = Field(default_factory=list)


def _sha256_text(text: str) -> str:
    import hashlib  # noqa: PLC0415

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ReviewService:
    def __init__(
        self,
        db: Database,
        policies: Callable[[], Policies],
        files: Path,
        *,
        pipeline: CheckPipeline,
        registrar: Registrar,
        notify: Notify = lambda _notice: None,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.db = db
        self.policies = policies
        self.files = files
        self.pipeline = pipeline
        self.registrar = registrar
        self.notify = notify
        self.today = today

    # ------------------------------------------------------------ helpers

    def _row(self, session: Any, submission_id: str) -> SubmissionRow:
        row = session.get(SubmissionRow, submission_id)
        if row is None:
            raise NotFound(f"submission {submission_id} not found")
        return row  # type: ignore[no-any-return]

    def _transition(
        self, session: Any, row: SubmissionRow, to: SubmissionState, actor: str, reason: str = ""
    ) -> None:
        current = SubmissionState(row.state)
        check_transition(current, to)
        ts = now_iso()
        session.add(
            SubmissionEventRow(
                submission_id=row.id,
                ts=ts,
                actor=actor,
                from_state=current.value,
                to_state=to.value,
                reason=reason,
            )
        )
        row.state, row.state_reason, row.updated_at = to.value, reason, ts
        audit_event(
            "submission.transition",
            actor,
            "allowed",
            target=row.id,
            scenario=row.scenario,
            from_state=current.value,
            to_state=to.value,
            reason=reason,
        )

    def _notice(self, session: Any, recipient: str, row: SubmissionRow, zh: str, en: str) -> None:
        session.add(
            NoticeRow(
                ts=now_iso(),
                recipient=recipient,
                submission_id=row.id,
                text_zh=zh,
                text_en=en,
            )
        )
        self.notify(
            {
                "recipient": recipient,
                "submission": row.id,
                "scenario": row.scenario,
                "state": row.state,
                "text_zh": zh,
                "text_en": en,
            }
        )

    def _scenario(self, name: str) -> Scenario:
        scenario = self.policies().scenarios.get(name)
        if scenario is None:
            raise InputError("scenario", "unknown scenario", value=name)
        return scenario

    def _votes(self, session: Any, submission_id: str) -> list[rules.Vote]:
        found = session.scalars(
            select(VoteRow).where(VoteRow.submission_id == submission_id).order_by(VoteRow.id)
        )
        return [
            rules.Vote(v.level, v.reviewer, rules.Decision(v.decision), v.comment, v.ts)
            for v in found
        ]

    def _may_see(self, who: Principal, row: SubmissionRow) -> bool:
        if who.is_admin or "reviewers" in who.groups:
            return True
        partner = self.policies().partners.get(row.partner)
        return partner is not None and any(u.username == who.username for u in partner.users)

    def _view(self, session: Any, row: SubmissionRow, viewer: Principal) -> SubmissionView:
        scenario = self._scenario(row.scenario)
        chain = rules.levels(self.policies(), scenario)
        level = chain[min(row.level, len(chain) - 1)]
        votes = self._votes(session, row.id)
        # reviewers see a level's votes once it is decided; partners see decisions only
        # once the submission is final (with the reviewers' comments)
        if viewer.is_admin:
            shown = votes
        elif "reviewers" in viewer.groups:
            shown = rules.visible_votes(chain, votes, viewer.username)
        else:
            shown = votes if SubmissionState(row.state).final else []
        events = session.scalars(
            select(SubmissionEventRow)
            .where(SubmissionEventRow.submission_id == row.id)
            .order_by(SubmissionEventRow.id)
        )
        return SubmissionView(
            id=row.id,
            scenario=row.scenario,
            partner=row.partner,
            submitter=row.submitter,
            run_id=row.run_id,
            note=row.note,
            state=row.state,
            state_zh=SubmissionState(row.state).zh,
            reason=row.state_reason,
            level=level.id,
            level_name=level.name,
            check_status=row.check_status,
            privacy_kind=row.privacy_kind,
            epsilon=row.epsilon,
            report_sha256=row.report_sha256,
            notebook_sha256=row.notebook_sha256,
            spec_sha256=row.spec_sha256,
            model_name=row.model_name,
            model_version=row.model_version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            votes=[VoteView(**v.__dict__) for v in shown],
            history=[
                EventView(
                    ts=e.ts,
                    actor=e.actor,
                    from_state=e.from_state,
                    to_state=e.to_state,
                    reason=e.reason,
                )
                for e in events
            ],
        )

    # ------------------------------------------------------------ partner side

    def submit(self, who: Principal, request: SubmitRequest) -> SubmissionView:
        policies = self.policies()
        scenario = self._scenario(request.scenario)
        partner = policies.partner_of(who.username)
        valid = {s.id for s in policies.scenarios_for_user(who.username, self.today())}
        if partner is None or scenario.id not in valid:
            audit_event(
                "submission.create",
                who.username,
                "denied",
                scenario=request.scenario,
                run_id=request.run_id,
            )
            raise Forbidden(
                f"{who.username} holds no valid authorisation for {scenario.id}: "
                "only an authorised partner's user submits for a scenario"
            )
        submission_id = dt.datetime.now(dt.UTC).strftime("%Y%m%d") + "-" + secrets.token_hex(4)
        folder = self.files / submission_id / "input"
        code = folder / "code"
        code.mkdir(parents=True, exist_ok=True)
        notebook_sha = ""
        if request.notebook is not None:
            name = Path(request.notebook_name or "notebook.ipynb").name
            atomic_write_text(code / name, request.notebook)
            notebook_sha = _sha256_text(request.notebook)
        for name, text in request.code.items():
            atomic_write_text(code / Path(name).name, text)
        # the spec is validated here, before anything runs, and recorded as validated
        # (defaults filled in): its digest is the one the approval will carry
        spec = parse_spec(request.spec, "spec") if request.spec is not None else None
        spec_text = (
            json.dumps(spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
            if spec is not None
            else None
        )
        ts = now_iso()
        with self.db.session(write=True) as session:
            row = SubmissionRow(
                id=submission_id,
                scenario=scenario.id,
                partner=partner.id,
                submitter=who.username,
                run_id=request.run_id,
                note=request.note,
                spec=spec_text,
                spec_sha256=spec_sha256(spec) if spec is not None else "",
                notebook_sha256=notebook_sha,
                state=SubmissionState.SUBMITTED.value,
                state_reason="",
                level=0,
                check_job="",
                check_attempts=0,
                report_sha256="",
                report_json_sha256="",
                check_status="",
                epsilon="",
                privacy_kind="",
                model_name="",
                model_version="",
                approval="",
                created_at=ts,
                updated_at=ts,
            )
            session.add(row)
            session.flush()
            audit_event(
                "submission.create",
                who.username,
                "allowed",
                role="partner",
                target=submission_id,
                scenario=scenario.id,
                run_id=request.run_id,
                spec=bool(spec_text),
                notebook_sha256=notebook_sha,
            )
            return self._view(session, row, who)

    def withdraw(self, who: Principal, submission_id: str, reason: str = "") -> SubmissionView:
        with self.db.session() as session:
            row = self._row(session, submission_id)
            if row.submitter != who.username:
                raise Forbidden("only the submitter withdraws a submission")
            self._transition(session, row, SubmissionState.WITHDRAWN, who.username, reason)
            return self._view(session, row, who)

    def mine(self, who: Principal) -> list[SubmissionView]:
        with self.db.session() as session:
            rows = session.scalars(
                select(SubmissionRow)
                .where(SubmissionRow.submitter == who.username)
                .order_by(SubmissionRow.created_at.desc())
            )
            return [self._view(session, r, who) for r in rows]

    def get(self, who: Principal, submission_id: str) -> SubmissionView:
        with self.db.session() as session:
            row = self._row(session, submission_id)
            if not self._may_see(who, row):
                raise NotFound(f"submission {submission_id} not found")
            return self._view(session, row, who)

    def earlier(self, who: Principal, submission_id: str) -> list[SubmissionView]:
        """The partner's other submissions for the same scenario (reviewers look for
        differencing across submissions)."""
        with self.db.session() as session:
            row = self._row(session, submission_id)
            if not self._may_see(who, row):
                raise NotFound(f"submission {submission_id} not found")
            others = session.scalars(
                select(SubmissionRow)
                .where(
                    SubmissionRow.partner == row.partner,
                    SubmissionRow.scenario == row.scenario,
                    SubmissionRow.id != row.id,
                )
                .order_by(SubmissionRow.created_at.desc())
            )
            return [self._view(session, r, who) for r in others]

    def report_file(self, who: Principal, submission_id: str, name: str) -> Path:
        if name not in {"report.html", "report.json", "report.ipynb", "submission.json"}:
            raise NotFound(name)
        self.get(who, submission_id)  # the same visibility
        path = self.files / submission_id / "check" / name
        if not path.is_file():
            raise NotFound(f"{submission_id} has no {name} yet")
        return path

    def notebook_file(self, who: Principal, submission_id: str) -> Path | None:
        self.get(who, submission_id)
        code = self.files / submission_id / "input" / "code"
        found = sorted(code.glob("*.ipynb")) if code.is_dir() else []
        return found[0] if found else None

    # ------------------------------------------------------------ reviewer side

    def queue(self, who: Principal) -> list[SubmissionView]:
        """Submissions waiting for a decision at a level of one of `who`'s groups, that
        `who` may decide."""
        policies = self.policies()
        with self.db.session() as session:
            rows = session.scalars(
                select(SubmissionRow)
                .where(SubmissionRow.state == SubmissionState.IN_REVIEW.value)
                .order_by(SubmissionRow.created_at)
            )
            waiting = []
            for row in rows:
                request = self._vote_request(session, policies, row, who)
                if rules.vote_refusal(request) is None:
                    waiting.append(self._view(session, row, who))
            return waiting

    def _vote_request(
        self, session: Any, policies: Policies, row: SubmissionRow, who: Principal
    ) -> rules.VoteRequest:
        ballot = rules.Ballot(
            submitter=row.submitter,
            partner=row.partner,
            state=SubmissionState(row.state),
            level=row.level,
            check_passed=row.check_status == Status.PASS.value,
        )
        return rules.VoteRequest(
            policies=policies,
            scenario=self._scenario(row.scenario),
            ballot=ballot,
            votes=self._votes(session, row.id),
            reviewer=who.username,
            reviewer_groups=who.groups,
        )

    def vote(
        self, who: Principal, submission_id: str, decision: rules.Decision, comment: str
    ) -> SubmissionView:
        policies = self.policies()
        with self.db.session(write=True) as session:
            row = self._row(session, submission_id)
            request = self._vote_request(session, policies, row, who)
            refusal = rules.vote_refusal(request)
            if refusal is not None:
                audit_event(
                    "review.vote",
                    who.username,
                    "denied",
                    role="reviewer",
                    target=row.id,
                    reason=refusal,
                )
                raise Forbidden(refusal)
            level = request.level
            session.add(
                VoteRow(
                    submission_id=row.id,
                    level=level.id,
                    reviewer=who.username,
                    decision=decision.value,
                    comment=comment,
                    ts=now_iso(),
                )
            )
            session.flush()
            audit_event(
                "review.vote",
                who.username,
                "allowed",
                role="reviewer",
                target=row.id,
                level=level.id,
                decision=decision.value,
            )
            votes = self._votes(session, row.id)
            outcome = rules.level_outcome(level, votes)
            chain = rules.levels(policies, request.scenario)
            if outcome is rules.LevelOutcome.REJECTED:
                self._transition(
                    session, row, SubmissionState.REJECTED, who.username, f"{level.name}：{comment}"
                )
                self._notice(
                    session,
                    row.submitter,
                    row,
                    f"提交 {row.id} 在{level.name}被驳回：{comment}",
                    f"submission {row.id} was rejected at {level.name_en}: {comment}",
                )
            elif outcome is rules.LevelOutcome.APPROVED and row.level + 1 < len(chain):
                row.level += 1
                following = chain[row.level]
                self._notice(
                    session,
                    f"group:{following.group}",
                    row,
                    f"提交 {row.id}（{row.scenario}）等待{following.name}",
                    f"submission {row.id} ({row.scenario}) awaits {following.name_en}",
                )
                self._notice(
                    session,
                    row.submitter,
                    row,
                    f"提交 {row.id} 已通过{level.name}",
                    f"submission {row.id} passed {level.name_en}",
                )
        if outcome is rules.LevelOutcome.APPROVED and row.level + 1 >= len(chain):
            self.finalize(submission_id, who.username)
        return self.get(who, submission_id)

    # ------------------------------------------------------------ the registry gate

    def finalize(self, submission_id: str, actor: str) -> None:
        """Every level approved: register the checked model and mark it approved. A
        failure leaves the submission in review with the reason, to be retried."""
        policies = self.policies()
        with self.db.session() as session:
            row = self._row(session, submission_id)
            if row.state != SubmissionState.IN_REVIEW.value:
                return
            scenario = self._scenario(row.scenario)
            chain = rules.levels(policies, scenario)
            votes = self._votes(session, row.id)
            if any(
                rules.level_outcome(lv, votes) is not rules.LevelOutcome.APPROVED for lv in chain
            ):
                return
            record = self._approval_record(row, chain, votes)
        model_dir = self.files / submission_id / "check" / "model"
        try:
            name, version = self.registrar.register(model_dir, record.model_name, record)
        except Exception as exc:
            with self.db.session(write=True) as session:
                row = self._row(session, submission_id)
                row.state_reason = f"registry gate failed, to be retried: {exc}"
            audit_event("registry.register", actor, "error", target=submission_id, error=str(exc))
            return
        with self.db.session(write=True) as session:
            row = self._row(session, submission_id)
            row.model_name, row.model_version, row.approval = name, version, record.canonical()
            self._transition(session, row, SubmissionState.APPROVED, actor, f"{name} v{version}")
            self._notice(
                session,
                row.submitter,
                row,
                f"提交 {row.id} 已获批准，模型 {name} v{version} 已登记为 approved",
                f"submission {row.id} was approved: {name} v{version} is `approved`",
            )
        audit_event(
            "registry.register",
            actor,
            "allowed",
            target=submission_id,
            model=name,
            version=version,
            report_sha256=record.report_sha256,
        )

    def _approval_record(
        self, row: SubmissionRow, chain: list[Any], votes: list[rules.Vote]
    ) -> ApprovalRecord:
        model_dir = self.files / row.id / "check" / "model"
        digests = {
            str(p.relative_to(model_dir)): file_sha256(p)
            for p in sorted(model_dir.rglob("*"))
            if p.is_file()
        }
        return ApprovalRecord(
            submission_id=row.id,
            scenario=row.scenario,
            partner=row.partner,
            submitter=row.submitter,
            model_name=model_name(row.scenario, row.partner),
            run_id=row.run_id,
            levels=[
                LevelApproval(
                    level=lv.id,
                    name=lv.name,
                    reviewers=[(v.reviewer, v.ts) for v in votes if v.level == lv.id],
                )
                for lv in chain
            ],
            report_sha256=row.report_sha256,
            notebook_sha256=row.notebook_sha256,
            spec_sha256=row.spec_sha256,
            model_digests=digests,
            privacy=f"{row.privacy_kind} ε={row.epsilon}",
        )

    def retry_pending_registrations(self) -> None:
        with self.db.session() as session:
            ids = list(
                session.scalars(
                    select(SubmissionRow.id).where(
                        SubmissionRow.state == SubmissionState.IN_REVIEW.value,
                        SubmissionRow.state_reason.like("registry gate failed%"),
                    )
                )
            )
        for submission_id in ids:
            self.finalize(submission_id, "platform")

    # ------------------------------------------------------------ the self-check worker

    def resume_after_restart(self) -> int:
        """Submissions found `checking`: check them again (or fail after MAX_ATTEMPTS)."""
        with self.db.session(write=True) as session:
            rows = list(
                session.scalars(
                    select(SubmissionRow).where(
                        SubmissionRow.state == SubmissionState.CHECKING.value
                    )
                )
            )
            for row in rows:
                if row.check_attempts >= MAX_ATTEMPTS:
                    self._transition(
                        session,
                        row,
                        SubmissionState.CHECK_FAILED,
                        "platform",
                        f"the self-check was interrupted {row.check_attempts} times; submit again",
                    )
                else:
                    self._transition(
                        session,
                        row,
                        SubmissionState.CHECKING,
                        "platform",
                        "interrupted by a restart: checked again",
                    )
        return len(rows)

    def _next_to_check(self) -> str | None:
        with self.db.session(write=True) as session:
            row = session.scalars(
                select(SubmissionRow)
                .where(
                    SubmissionRow.state.in_(
                        [SubmissionState.SUBMITTED.value, SubmissionState.CHECKING.value]
                    )
                )
                .order_by(SubmissionRow.created_at)
                .limit(1)
            ).first()
            if row is None:
                return None
            if row.state == SubmissionState.SUBMITTED.value:
                self._transition(session, row, SubmissionState.CHECKING, "platform")
            row.check_attempts += 1
            return row.id

    def run_pending(self) -> int:
        """Check every submission waiting; the number checked."""
        done = 0
        while (submission_id := self._next_to_check()) is not None:
            self._check_one(submission_id)
            done += 1
        return done

    def _check_one(self, submission_id: str) -> None:
        with self.db.session() as session:
            row = self._row(session, submission_id)
            request = CheckRequest(
                submission_id=row.id,
                scenario=row.scenario,
                partner=row.partner,
                submitter=row.submitter,
                run_id=row.run_id,
                spec=json.loads(row.spec) if row.spec else None,
                code_dir=self.files / row.id / "input" / "code",
                workdir=self.files / row.id / "work",
                submitted_at=dt.datetime.fromisoformat(row.created_at),
            )
        try:
            outcome = self.pipeline.check(request)
        except Exception as exc:  # the pipeline must not leave a submission checking
            outcome = CheckOutcome(Status.ERROR, f"the self-check could not run: {exc}", None)
        self._record_check(submission_id, outcome)

    def _record_check(self, submission_id: str, outcome: CheckOutcome) -> None:
        check_dir = self.files / submission_id / "check"
        if check_dir.exists():
            shutil.rmtree(check_dir)
        check_dir.mkdir(parents=True)
        for name, path in outcome.files.items():
            atomic_write_bytes(check_dir / name, path.read_bytes())
        if outcome.model_dir is not None:
            shutil.copytree(outcome.model_dir, check_dir / "model")
        with self.db.session(write=True) as session:
            row = self._row(session, submission_id)
            if row.state != SubmissionState.CHECKING.value:
                return  # withdrawn or expired meanwhile: its result changes nothing
            row.check_status = outcome.status.value
            if (check_dir / "report.html").is_file():
                row.report_sha256 = file_sha256(check_dir / "report.html")
            if (check_dir / "report.json").is_file():
                row.report_json_sha256 = file_sha256(check_dir / "report.json")
            if outcome.report is not None:
                row.privacy_kind = outcome.report.privacy.kind.value
                eps = outcome.report.privacy.epsilon
                row.epsilon = f"{eps:.4g}" if eps is not None else ""
            audit_event(
                "selfcheck.result",
                "platform",
                "allowed" if outcome.status is Status.PASS else "denied",
                target=submission_id,
                status=outcome.status.value,
                reason=outcome.reason,
                report_sha256=row.report_sha256,
            )
            if outcome.status is Status.PASS:
                self._transition(session, row, SubmissionState.IN_REVIEW, "platform")
                first = rules.levels(self.policies(), self._scenario(row.scenario))[0]
                self._notice(
                    session,
                    f"group:{first.group}",
                    row,
                    f"提交 {row.id}（{row.scenario}）等待{first.name}",
                    f"submission {row.id} ({row.scenario}) awaits {first.name_en}",
                )
            else:
                self._transition(
                    session, row, SubmissionState.CHECK_FAILED, "platform", outcome.reason
                )
            self._notice(
                session,
                row.submitter,
                row,
                f"提交 {row.id} 安全自查{'通过' if outcome.status is Status.PASS else '未通过'}"
                f"：{outcome.reason}",
                f"submission {row.id}: self-check {outcome.status.value}: {outcome.reason}",
            )

    # ------------------------------------------------------------ expiry and notices

    def expire_lapsed(self) -> int:
        policies = self.policies()
        today = self.today()
        expired = 0
        with self.db.session(write=True) as session:
            rows = session.scalars(
                select(SubmissionRow).where(
                    SubmissionRow.state.in_([s.value for s in SubmissionState if not s.final])
                )
            )
            for row in rows:
                scenario = policies.scenarios.get(row.scenario)
                if scenario is None or not scenario.is_valid_on(today):
                    self._transition(
                        session,
                        row,
                        SubmissionState.EXPIRED,
                        "platform",
                        f"the authorisation for {row.scenario} is not valid on {today}",
                    )
                    expired += 1
        return expired

    def notices(self, who: Principal, limit: int = 50) -> list[dict[str, str]]:
        recipients = [who.username, *(f"group:{g}" for g in who.groups)]
        with self.db.session() as session:
            rows = session.scalars(
                select(NoticeRow)
                .where(NoticeRow.recipient.in_(recipients))
                .order_by(NoticeRow.id.desc())
                .limit(limit)
            )
            return [
                {
                    "ts": r.ts,
                    "submission": r.submission_id,
                    "zh": r.text_zh,
                    "en": r.text_en,
                }
                for r in rows
            ]


def model_name(scenario: str, partner: str) -> str:
    """One registered model per scenario and partner."""
    return f"{scenario}.{partner}"
