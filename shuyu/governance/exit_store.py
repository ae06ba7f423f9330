"""Exits in the platform database: recorded once access is revoked, moved through
`shuyu.governance.exit_states` in transactions, the certificate stored with its sha256,
accepted (验收) by another administrator, and alarmed once when the 30 days pass before
it is accepted."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from shuyu.audit.events import audit_event, now_iso
from shuyu.errors import InputError
from shuyu.governance.exit_certificate import Certificate, canonical, sha256_text
from shuyu.governance.exit_states import ExitState, check_transition
from shuyu.governance.exit_tables import ExitRow
from shuyu.governance.lifecycle_tables import LifecycleNoticeRow
from shuyu.governance.notices import ADMINS, Notify, tell
from shuyu.production.tables import ProductionJobRow, ProductionRunRow
from shuyu.review.service import Forbidden, NotFound, Principal
from shuyu.store.database import Database

DEADLINE_DAYS = 30


class CertificateTampered(InputError):
    """The stored certificate's JSON no longer has the sha256 recorded with it."""


class ExitView(BaseModel):
    id: str
    kind: str
    subject: str
    reason: str
    exited_by: str
    exit_date: dt.date
    deadline: dt.date
    state: ExitState
    transferred: list[str]
    revoked: dict[str, list[str]]
    certificate_sha256: str
    certificate_intact: bool
    accepted_by: str
    accepted_at: str
    accept_note: str

    def days_left(self, today: dt.date) -> int:
        return (self.deadline - today).days

    def overdue(self, today: dt.date) -> bool:
        return not self.state.done and today > self.deadline


def _view(row: ExitRow, audited: str | None = None) -> ExitView:
    return ExitView(
        id=row.id,
        kind=row.kind,
        subject=row.subject,
        reason=row.reason,
        exited_by=row.exited_by,
        exit_date=dt.date.fromisoformat(row.exit_date),
        deadline=dt.date.fromisoformat(row.deadline),
        state=ExitState(row.state),
        transferred=json.loads(row.transferred),
        revoked=json.loads(row.revoked),
        certificate_sha256=row.certificate_sha256,
        certificate_intact=not row.certificate
        or (
            sha256_text(row.certificate) == row.certificate_sha256
            and audited in {None, row.certificate_sha256}
        ),
        accepted_by=row.accepted_by,
        accepted_at=row.accepted_at,
        accept_note=row.accept_note,
    )


def _audited_sha256(session: Session, exit_id: str) -> str | None:
    """The sha256 the last `exit.certificate` event of `exit_id` recorded (None: the
    event is not in this database's log, e.g. not written yet)."""
    from shuyu.audit.tables import AuditEventRow  # noqa: PLC0415

    details = session.scalars(
        select(AuditEventRow.details)
        .where(AuditEventRow.action == "exit.certificate", AuditEventRow.target == exit_id)
        .order_by(AuditEventRow.seq.desc())
    ).first()
    if details is None:
        return None
    return str(json.loads(details).get("sha256", "")) or None


def require_admin(who: Principal, action: str, target: str) -> None:
    if not who.is_admin:
        audit_event(action, who.username, "denied", target=target, reason="not an admin")
        raise Forbidden(f"{who.username} is not in admins: exits (退出) are the bureau's")


class ExitRegister:
    def __init__(
        self,
        db: Database,
        *,
        today: Callable[[], dt.date] = dt.date.today,
        notify: Notify = lambda _notice: None,
    ) -> None:
        self.db = db
        self.today = today
        self.notify = notify

    # ------------------------------------------------------------ recording

    def open_exit(
        self,
        who: Principal,
        kind: str,
        subject: str,
        *,
        reason: str,
        revoked: dict[str, list[str]],
        transferred: Sequence[str] = (),
    ) -> ExitView:
        """Record the exit once every access is revoked (an `exit.revoke` event)."""
        today = self.today()
        with self.db.session(write=True) as session:
            row = ExitRow(
                id=f"X{today.isoformat().replace('-', '')}-{secrets.token_hex(4)}",
                kind=kind,
                subject=subject,
                reason=reason,
                exited_by=who.username,
                exit_date=today.isoformat(),
                deadline=(today + dt.timedelta(days=DEADLINE_DAYS)).isoformat(),
                state=ExitState.REVOKED.value,
                transferred=json.dumps(sorted(transferred)),
                revoked=json.dumps(revoked, ensure_ascii=False, sort_keys=True),
                certificate="",
                certificate_sha256="",
                accepted_by="",
                accepted_at="",
                accept_note="",
                created_at=now_iso(),
                updated_at=now_iso(),
            )
            session.add(row)
            audit_event(
                "exit.revoke",
                who.username,
                "allowed",
                role="admin",
                target=row.id,
                kind=kind,
                subject=subject,
                reason=reason,
                revoked=revoked,
                transferred=sorted(transferred),
                deadline=row.deadline,
            )
            return _view(row)

    def open_exits(self, kind: str, subject: str) -> list[ExitView]:
        with self.db.session() as session:
            rows = session.scalars(
                select(ExitRow).where(ExitRow.kind == kind, ExitRow.subject == subject)
            )
            return [_view(r) for r in rows]

    def _row(self, session: Session, exit_id: str) -> ExitRow:
        row = session.get(ExitRow, exit_id)
        if row is None:
            raise NotFound(f"exit {exit_id} not found (无此退出记录)")
        return row

    def move(self, exit_id: str, to: ExitState) -> ExitView:
        with self.db.session(write=True) as session:
            row = self._row(session, exit_id)
            check_transition(ExitState(row.state), to)
            row.state, row.updated_at = to.value, now_iso()
            return _view(row)

    def store_certificate(self, who: Principal, certificate: Certificate) -> ExitView:
        """deleting → deleted → verified | verification_failed, with the certificate and
        its sha256, in one transaction (an `exit.delete` and an `exit.certificate`)."""
        text = canonical(certificate)
        digest = sha256_text(text)
        with self.db.session(write=True) as session:
            row = self._row(session, certificate.exit_id)
            check_transition(ExitState(row.state), ExitState.DELETED)
            verdict = ExitState.VERIFIED if certificate.verified else ExitState.VERIFICATION_FAILED
            check_transition(ExitState.DELETED, verdict)
            row.certificate, row.certificate_sha256 = text, digest
            row.state, row.updated_at = verdict.value, now_iso()
            audit_event(
                "exit.delete",
                who.username,
                "allowed",
                role="admin",
                target=row.id,
                subject=row.subject,
                deleted=certificate.counts(),
            )
            audit_event(
                "exit.certificate",
                who.username,
                "allowed" if certificate.verified else "error",
                role="admin",
                target=row.id,
                subject=row.subject,
                sha256=digest,
                items=len(certificate.items),
                found_again=[f"{c.kind.value}:{c.identifier}" for c in certificate.found_again],
                state=verdict.value,
            )
            return _view(row)

    # ------------------------------------------------------------ reading

    def overview(self, who: Principal) -> list[ExitView]:
        require_admin(who, "exit.accept", "list")
        with self.db.session() as session:
            rows = session.scalars(select(ExitRow).order_by(ExitRow.created_at.desc())).all()
            return [_view(r, _audited_sha256(session, r.id)) for r in rows]

    def get(self, who: Principal, exit_id: str) -> ExitView:
        require_admin(who, "exit.accept", exit_id)
        with self.db.session() as session:
            return _view(self._row(session, exit_id), _audited_sha256(session, exit_id))

    def certificate(self, who: Principal, exit_id: str) -> tuple[Certificate, str]:
        """The stored certificate and its recorded sha256; refused when they differ, or
        when the sha256 differs from the one the hash-chained audit log recorded (a
        certificate rewritten together with its sha256 column)."""
        require_admin(who, "exit.accept", exit_id)
        with self.db.session() as session:
            row = self._row(session, exit_id)
            text, digest = row.certificate, row.certificate_sha256
            audited = _audited_sha256(session, exit_id)
        if audited is not None and audited != digest:
            raise CertificateTampered(
                "certificate",
                f"of {exit_id} has sha256 {digest}, but the audit log recorded {audited} when "
                "it was stored: it was rewritten (证明已被篡改)",
            )
        if not text:
            raise InputError("exit", "has no certificate yet: the deletion has not finished",
                             value=exit_id)  # fmt: skip
        if sha256_text(text) != digest:
            raise CertificateTampered(
                "certificate",
                f"of {exit_id} no longer matches its sha256 {digest}: it was changed after "
                "it was stored (证明已被篡改)",
                hint="compare it with the exit.certificate event in the audit log",
            )
        return Certificate.model_validate_json(text), digest

    # ------------------------------------------------------------ 验收

    def accept(self, who: Principal, exit_id: str, note: str = "") -> ExitView:
        require_admin(who, "exit.accept", exit_id)
        self.certificate(who, exit_id)  # intact, or refused
        with self.db.session(write=True) as session:
            row = self._row(session, exit_id)
            try:
                check_transition(
                    ExitState(row.state),
                    ExitState.ACCEPTED,
                    actor=who.username,
                    exited_by=row.exited_by,
                )
            except Exception as exc:
                audit_event("exit.accept", who.username, "denied", target=exit_id,
                            reason=str(exc))  # fmt: skip
                raise
            if sha256_text(row.certificate) != row.certificate_sha256:
                raise CertificateTampered("certificate", "changed while being accepted",
                                          value=exit_id)  # fmt: skip
            row.state, row.updated_at = ExitState.ACCEPTED.value, now_iso()
            row.accepted_by, row.accepted_at, row.accept_note = who.username, now_iso(), note
            audit_event(
                "exit.accept",
                who.username,
                "allowed",
                role="admin",
                target=exit_id,
                subject=row.subject,
                sha256=row.certificate_sha256,
                exited_by=row.exited_by,
                note=note,
            )
            return _view(row)

    # ------------------------------------------------------------ the 30 days

    def alarm_overdue(self, today: dt.date | None = None) -> list[str]:
        """Tell the administrators once of each exit past its deadline and not accepted
        (recorded as a lifecycle notice: kind `exit`, stage `overdue`)."""
        day = today or self.today()
        with self.db.session() as session:
            due = [
                _view(r)
                for r in session.scalars(select(ExitRow).where(ExitRow.deadline < day.isoformat()))
            ]
        alarmed = []
        for view in due:
            if not view.overdue(day):
                continue
            with self.db.session(write=True) as session:
                told = session.scalars(
                    select(LifecycleNoticeRow.id).where(
                        LifecycleNoticeRow.kind == "exit",
                        LifecycleNoticeRow.item == view.id,
                        LifecycleNoticeRow.stage == "overdue",
                    )
                ).first()
                if told is not None:
                    continue
                session.add(
                    LifecycleNoticeRow(
                        kind="exit",
                        item=view.id,
                        expires_on=view.deadline.isoformat(),
                        stage="overdue",
                        sent_at=now_iso(),
                    )
                )
                tell(
                    session,
                    self.notify,
                    [ADMINS],
                    f"退出 {view.id}（{view.subject}）已超过 {view.deadline} 的 30 日期限，"
                    f"仍为「{view.state.zh}」：请完成删除、核验并验收。",
                    f"exit {view.id} ({view.subject}) is past its 30-day deadline of "
                    f"{view.deadline} and still {view.state.en}: finish, verify and accept it.",
                    exit=view.id,
                    subject=view.subject,
                    deadline=view.deadline.isoformat(),
                )
                audit_event(
                    "exit.overdue",
                    "lifecycle",
                    "allowed",
                    role="platform",
                    target=view.id,
                    subject=view.subject,
                    deadline=view.deadline.isoformat(),
                    state=view.state.value,
                )
            alarmed.append(view.id)
        return alarmed

    # ------------------------------------------------------------ production records

    def partner_jobs(self, partner: str) -> list[tuple[str, str, list[str]]]:
        """(job id, scenario, run ids) of every production job on the partner's models."""
        with self.db.session() as session:
            jobs = session.scalars(
                select(ProductionJobRow).where(ProductionJobRow.partner == partner)
            ).all()
            found = []
            for job in jobs:
                runs = session.scalars(
                    select(ProductionRunRow.id).where(ProductionRunRow.job_id == job.id)
                ).all()
                found.append((job.id, job.scenario, sorted(runs)))
            return found

    def disable_jobs(self, who: Principal, partner: str) -> list[str]:
        """Disable every enabled job on the partner's models (as production's own
        `production.job.disable`, with the exit as the reason)."""
        with self.db.session(write=True) as session:
            jobs = session.scalars(
                select(ProductionJobRow).where(
                    ProductionJobRow.partner == partner, ProductionJobRow.enabled == 1
                )
            ).all()
            for job in jobs:
                job.enabled = 0
                audit_event("production.job.disable", who.username, "allowed", role="admin",
                            target=job.id, reason=f"exit of partner {partner}")  # fmt: skip
            return sorted(j.id for j in jobs)


def key_records(db: Database, consumer_id: str) -> list[dict[str, Any]]:
    from shuyu.products.tables import ApiKeyRow  # noqa: PLC0415

    with db.session() as session:
        rows = session.scalars(select(ApiKeyRow).where(ApiKeyRow.consumer_id == consumer_id))
        return [
            {
                "id": r.id,
                "status": r.status,
                "secret_hash": r.secret_hash,
                "created_at": r.created_at,
            }
            for r in rows
        ]


def erase_key_secrets(db: Database, key_ids: Sequence[str]) -> None:
    """Forget revoked keys' secret hashes: nothing can ever verify those keys again."""
    from shuyu.products.tables import ApiKeyRow  # noqa: PLC0415

    with db.session(write=True) as session:
        for key_id in key_ids:
            row = session.get(ApiKeyRow, key_id)
            if row is not None and row.status == "revoked":
                row.secret_hash = ""
