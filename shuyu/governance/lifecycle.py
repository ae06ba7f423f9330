"""The authorisation lifecycle's sweep: renewal reminders, and what expiry takes away.

`Lifecycle.sweep(now)` runs in the service's worker loop. For each authorisation (a
scenario granted to its partners) and each consumer agreement (`shuyu.governance.
validity`):

- six months before the last valid day: one reminder to the administrators (and the
  partner's users), on their pages and by the webhook;
- from the day after it:
  - an authorisation: the scenario's production schedules are paused
    (`ProductionService.set_enabled` as the `lifecycle` principal, audited) with a
    notice to the operators; sandboxes and MLflow grants are the hub's (`shuyu.hub.
    watch` stops running sandboxes and revokes the grants of a lapsed scenario,
    `shuyu.hub.grants` refuses new spawns): the sweep tells the partner's users so;
  - an agreement: the gateway already refuses its calls (`agreement_expired`); the
    consumer's keys are revoked (`ProductAccounts.revoke_key`, audited) once no
    agreement of that consumer is in force or still to come, so that an old key opens
    nothing once the last agreement is over;
  - one expiry notice and one `governance.lifecycle.expiry` event.

Exits (`shuyu.governance.exit_store`): an exit not accepted by its 30-day deadline is
told to the administrators once, from the day after it.

Idempotent: each reminder and expiry notice is recorded (`LifecycleNoticeRow`, one per
item, expiry date and stage) and sent once; a key already revoked and a job already
paused are left alone, so a second sweep does nothing more. A renewal moves the expiry
date and so earns a new reminder in time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from shuyu.audit.events import audit_event, now_iso
from shuyu.governance.exit_store import ExitRegister
from shuyu.governance.lifecycle_tables import LifecycleNoticeRow
from shuyu.governance.notices import ADMINS, OPERATORS, Notify, tell
from shuyu.governance.validity import (
    Standing,
    ValidityItem,
    agreements,
    authorisations,
)
from shuyu.policy.models import Policies, ProductsPolicy
from shuyu.production.service import ProductionService
from shuyu.products.accounts import ProductAccounts
from shuyu.products.admins import Admin
from shuyu.products.clock import Clock, iso
from shuyu.review.service import Forbidden, Principal
from shuyu.store.database import Database

SYSTEM = "lifecycle"
"""The principal the sweep acts as: its changes are audited under this name."""
_AS_OPERATOR = Principal(SYSTEM, frozenset({"operators"}))
_AS_ADMIN = Admin(SYSTEM)


class SweepReport(BaseModel):
    """What one sweep did (empty lists: nothing was due)."""

    today: dt.date
    reminded: list[str] = Field(default_factory=list)
    expired: list[str] = Field(default_factory=list)
    keys_revoked: list[str] = Field(default_factory=list)
    jobs_paused: list[str] = Field(default_factory=list)
    exits_overdue: list[str] = Field(default_factory=list)

    @property
    def idle(self) -> bool:
        return not (
            self.reminded
            or self.expired
            or self.keys_revoked
            or self.jobs_paused
            or self.exits_overdue
        )


class Lifecycle:
    def __init__(
        self,
        db: Database,
        *,
        policies: Callable[[], Policies],
        products: Callable[[], ProductsPolicy],
        accounts: ProductAccounts,
        production: ProductionService,
        notify: Notify = lambda _notice: None,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.policies = policies
        self.products = products
        self.accounts = accounts
        self.production = production
        self.notify = notify
        self.clock = clock or Clock()

    # ------------------------------------------------------------ reading

    def _today(self, now: dt.datetime | None) -> dt.date:
        return self.clock.local(now or self.clock.now()).date()

    def items(self, now: dt.datetime | None = None) -> list[ValidityItem]:
        today = self._today(now)
        return authorisations(self.policies(), today) + agreements(self.db, self.products(), today)

    def overview(self, who: Principal, now: dt.datetime | None = None) -> list[ValidityItem]:
        """The administrators' list: every authorisation and agreement, soonest first."""
        if not who.is_admin:
            raise Forbidden(f"{who.username} is not an administrator: the lifecycle is theirs")
        return sorted(self.items(now), key=lambda i: (i.days_left, i.kind, i.id))

    # ------------------------------------------------------------ the sweep

    def sweep(self, now: dt.datetime | None = None) -> SweepReport:
        """Everything due at `now` (default: the clock's now), once."""
        at = now or self.clock.now()
        report = SweepReport(today=self._today(at))
        for item in self.items(at):
            if item.standing is Standing.RENEW_SOON:
                self._remind(item, report)
            elif item.standing is Standing.EXPIRED:
                self._expire(item, report, at)
        report.exits_overdue = ExitRegister(self.db, notify=self.notify).alarm_overdue(report.today)
        return report

    def _recipients(self, item: ValidityItem) -> list[str]:
        if item.kind == "agreement":
            return [ADMINS]  # consumers have no pages: the webhook carries it to them
        partners = self.policies().partners
        users = [u.username for p in item.holders if p in partners for u in partners[p].users]
        return [ADMINS, *users]

    @staticmethod
    def _told(session: Session, item: ValidityItem, stage: Standing) -> bool:
        found = session.scalars(
            select(LifecycleNoticeRow.id).where(
                LifecycleNoticeRow.kind == item.kind,
                LifecycleNoticeRow.item == item.id,
                LifecycleNoticeRow.expires_on == item.expires_on.isoformat(),
                LifecycleNoticeRow.stage == stage.value,
            )
        ).first()
        return found is not None

    def _already_told(self, item: ValidityItem, stage: Standing) -> bool:
        """A read first: the sweep runs every few seconds and is nearly always idle, so
        it takes the database's write lock only when it has something to record."""
        with self.db.session() as session:
            return self._told(session, item, stage)

    def _once(self, session: Session, item: ValidityItem, stage: Standing) -> bool:
        """Record that `item` was told of `stage` for its expiry date; False if it was."""
        if self._told(session, item, stage):
            return False
        session.add(
            LifecycleNoticeRow(
                kind=item.kind,
                item=item.id,
                expires_on=item.expires_on.isoformat(),
                stage=stage.value,
                sent_at=now_iso(),
            )
        )
        return True

    def _remind(self, item: ValidityItem, report: SweepReport) -> None:
        if self._already_told(item, Standing.RENEW_SOON):
            return
        what_zh = "授权" if item.kind == "authorisation" else "使用协议"
        what_en = "authorisation" if item.kind == "authorisation" else "usage agreement"
        with self.db.session(write=True) as session:
            if not self._once(session, item, Standing.RENEW_SOON):
                return
            recipients = self._recipients(item)
            tell(
                session,
                self.notify,
                recipients,
                f"{item.name}的{what_zh}将于 {item.expires_on} 到期（剩余 {item.days_left} 天），"
                "请在到期前六个月内办理续期。",
                f"the {what_en} {item.name_en} ends on {item.expires_on} "
                f"({item.days_left} days left): renew it within the six months before.",
                kind=item.kind,
                item=item.id,
                expires_on=item.expires_on.isoformat(),
                standing=item.standing.value,
            )
            audit_event(
                "governance.lifecycle.reminder",
                SYSTEM,
                "allowed",
                role="platform",
                target=f"{item.kind}:{item.id}",
                expires_on=item.expires_on.isoformat(),
                days_left=item.days_left,
                recipients=recipients,
            )
        report.reminded.append(f"{item.kind}:{item.id}")

    def _expire(self, item: ValidityItem, report: SweepReport, at: dt.datetime) -> None:
        if item.kind == "authorisation":
            done = self._pause_jobs(item, report)
            zh = (
                f"{item.name}的授权已于 {item.expires_on} 到期：数据沙箱已停止且不再启动，"
                f"MLflow 实验权限已收回，生产计划已暂停（本次 {len(done)} 个）；"
                "续期获批后由管理员恢复。"
            )
            en = (
                f"the authorisation {item.name_en} ended on {item.expires_on}: its sandboxes "
                "are stopped and refused, its MLflow grants revoked and its production "
                f"schedules paused ({len(done)} now); an administrator restores them after "
                "a renewal."
            )
        else:
            done = self._revoke_keys(item, report, at)
            zh = (
                f"{item.name}的使用协议已于 {item.expires_on} 到期：调用已被拒绝"
                + (f"，密钥 {'、'.join(done)} 已吊销" if done else "")
                + "；续签后请签发新密钥。"
            )
            en = (
                f"the usage agreement {item.name_en} ended on {item.expires_on}: its calls "
                "are refused"
                + (f", keys {', '.join(done)} revoked" if done else "")
                + "; issue a new key after a renewal."
            )
        if self._already_told(item, Standing.EXPIRED):
            return
        with self.db.session(write=True) as session:
            if not self._once(session, item, Standing.EXPIRED):
                return
            tell(
                session,
                self.notify,
                self._recipients(item),
                zh,
                en,
                kind=item.kind,
                item=item.id,
                expires_on=item.expires_on.isoformat(),
                standing=item.standing.value,
            )
            audit_event(
                "governance.lifecycle.expiry",
                SYSTEM,
                "allowed",
                role="platform",
                target=f"{item.kind}:{item.id}",
                expires_on=item.expires_on.isoformat(),
                **(
                    {"jobs_paused": done}
                    if item.kind == "authorisation"
                    else {"keys_revoked": done}
                ),
            )
        report.expired.append(f"{item.kind}:{item.id}")

    def _pause_jobs(self, item: ValidityItem, report: SweepReport) -> list[str]:
        """Pause the scenario's enabled production jobs, each with a notice to the
        operators and to whoever registered it."""
        paused = []
        for job in self.production.jobs(_AS_OPERATOR):
            if job.scenario != item.scenario or not job.enabled:
                continue
            self.production.set_enabled(_AS_OPERATOR, job.id, False)
            with self.db.session(write=True) as session:
                tell(
                    session,
                    self.notify,
                    [job.created_by, OPERATORS],
                    f"生产任务 {job.id} 已暂停：场景 {item.scenario} 的授权已于 "
                    f"{item.expires_on} 到期。",
                    f"production job {job.id} is paused: the authorisation for "
                    f"{item.scenario} ended on {item.expires_on}.",
                    job=job.id,
                    scenario=item.scenario,
                )
            paused.append(job.id)
        report.jobs_paused += paused
        return paused

    def _revoke_keys(self, item: ValidityItem, report: SweepReport, at: dt.datetime) -> list[str]:
        """Revoke the consumer's working keys once none of its agreements is in force
        or still to come (a key is the consumer's, not one agreement's)."""
        (consumer_id,) = item.holders
        consumer = self.accounts.consumer(consumer_id)
        today = report.today
        if any(a.status == "active" and a.valid_until >= today for a in consumer.agreements):
            return []
        now = iso(at)
        working = [
            k.id
            for k in consumer.keys
            if k.status == "active" or (k.status == "rotated" and k.expires_at > now)
        ]
        for key_id in working:
            self.accounts.revoke_key(
                _AS_ADMIN,
                key_id,
                f"使用协议 {item.id} 已于 {item.expires_on} 到期 / "
                f"the agreement {item.id} ended on {item.expires_on}",
            )
        report.keys_revoked += working
        return working
