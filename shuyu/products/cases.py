"""事中检查 cases: a rule's hit blocks the key at once and opens a case for the bureau's
manual check (人工核查); only an administrator takes, clears or confirms it.

Opening a case for a key is one transaction: the case, its first history row and the
key's status `blocked` with the case number, so that the very next call is refused
with it. A sandbox case names the user and blocks nothing here (the hub decides what a
partner may still start). Every step is an audit event and a notice (`notify`, e.g.
the service's webhook).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Literal, cast

from pydantic import BaseModel, Field
from sqlalchemy import CursorResult, select, update

from shuyu.audit.chain import canonical_text
from shuyu.audit.events import audit_event
from shuyu.errors import InputError
from shuyu.products.accounts import KeyView, key_view
from shuyu.products.admins import Caller, NotFound, require_admin
from shuyu.products.case_states import CaseState, Resolution, check_transition
from shuyu.products.clock import Clock, iso
from shuyu.products.monitor_rules import Hit
from shuyu.products.tables import ApiKeyRow, CaseEventRow, CaseRow
from shuyu.store.database import Database

Notify = Callable[[dict[str, Any]], None]
ADMIN_GROUP_RECIPIENT = "group:admins"


class CaseEventView(BaseModel):
    ts: str
    actor: str
    from_state: str
    to_state: str
    reason: str


class CaseView(BaseModel):
    id: str
    source: Literal["product", "sandbox"]
    rule: str
    subject_kind: Literal["api_key", "user"]
    subject: str
    consumer_id: str
    product: str
    state: CaseState
    state_zh: str
    resolution: str
    summary_zh: str
    summary_en: str
    evidence: dict[str, Any]
    opened_at: str
    updated_at: str
    history: list[CaseEventView] = Field(default_factory=list)


def _view(session: Any, row: CaseRow) -> CaseView:
    import json  # noqa: PLC0415

    events = session.scalars(
        select(CaseEventRow).where(CaseEventRow.case_id == row.id).order_by(CaseEventRow.id)
    )
    return CaseView(
        id=row.id,
        source=row.source,
        rule=row.rule,
        subject_kind=row.subject_kind,
        subject=row.subject,
        consumer_id=row.consumer_id,
        product=row.product,
        state=CaseState(row.state),
        state_zh=CaseState(row.state).zh,
        resolution=row.resolution,
        summary_zh=row.summary_zh,
        summary_en=row.summary_en,
        evidence=json.loads(row.evidence),
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        history=[
            CaseEventView(
                ts=e.ts,
                actor=e.actor,
                from_state=e.from_state,
                to_state=e.to_state,
                reason=e.reason,
            )
            for e in events
        ],
    )


class CaseDesk:
    def __init__(
        self, db: Database, *, notify: Notify = lambda _n: None, clock: Clock | None = None
    ):
        self.db = db
        self.notify = notify
        self.clock = clock or Clock()

    # ------------------------------------------------------------ helpers

    def _new_id(self) -> str:
        return "SJ" + self.clock.today().strftime("%Y%m%d") + "-" + secrets.token_hex(3)

    def _row(self, session: Any, case_id: str) -> CaseRow:
        row = session.get(CaseRow, case_id)
        if row is None:
            raise NotFound(f"case {case_id} not found (无此案件)")
        return row  # type: ignore[no-any-return]

    def _transition(
        self, session: Any, row: CaseRow, to: CaseState, actor: str, reason: str
    ) -> None:
        current = CaseState(row.state)
        check_transition(current, to)
        now = iso(self.clock.now())
        session.add(
            CaseEventRow(
                case_id=row.id,
                ts=now,
                actor=actor,
                from_state=current.value,
                to_state=to.value,
                reason=reason,
            )
        )
        row.state, row.updated_at = to.value, now
        audit_event(
            "product.case",
            actor,
            "allowed",
            target=row.id,
            rule=row.rule,
            subject=row.subject,
            from_state=current.value,
            to_state=to.value,
            reason=reason,
        )

    def _open(
        self,
        session: Any,
        hit: Hit,
        *,
        source: str,
        subject_kind: str,
        subject: str,
        consumer_id: str = "",
        product: str = "",
    ) -> CaseRow:
        now = iso(self.clock.now())
        row = CaseRow(
            id=self._new_id(),
            source=source,
            rule=hit.rule,
            subject_kind=subject_kind,
            subject=subject,
            consumer_id=consumer_id,
            product=product,
            state=CaseState.OPEN.value,
            resolution="",
            summary_zh=hit.zh,
            summary_en=hit.en,
            evidence=canonical_text(hit.evidence),
            opened_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        session.add(
            CaseEventRow(
                case_id=row.id,
                ts=now,
                actor="monitor",
                from_state="",
                to_state="open",
                reason=hit.en,
            )
        )
        audit_event(
            "product.case",
            "monitor",
            "allowed",
            role="platform",
            target=row.id,
            rule=hit.rule,
            subject_kind=subject_kind,
            subject=subject,
            consumer=consumer_id,
            product=product,
            to_state="open",
            summary=hit.en,
        )
        return row

    def _tell(self, row: CaseRow, zh: str, en: str) -> None:
        self.notify(
            {
                "recipient": ADMIN_GROUP_RECIPIENT,
                "case": row.id,
                "rule": row.rule,
                "subject": row.subject,
                "consumer": row.consumer_id,
                "product": row.product,
                "state": row.state,
                "text_zh": zh,
                "text_en": en,
            }
        )

    # ------------------------------------------------------------ the monitor's side

    def block_key(self, hit: Hit, *, key_id: str, consumer_id: str, product: str) -> str:
        """Open a case for the hit and block the key with it: the case number."""
        with self.db.session(write=True) as session:
            row = self._open(
                session,
                hit,
                source="product",
                subject_kind="api_key",
                subject=key_id,
                consumer_id=consumer_id,
                product=product,
            )
            result = session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == key_id, ApiKeyRow.status.in_(["active", "rotated"]))
                .values(status="blocked", case_id=row.id, updated_at=row.opened_at)
            )
            blocked = cast(CursorResult[Any], result).rowcount
            audit_event(
                "product.block",
                "monitor",
                "allowed",
                role="platform",
                target=key_id,
                case=row.id,
                rule=hit.rule,
                consumer=consumer_id,
                product=product,
                blocked=bool(blocked),
            )
        self._tell(
            row,
            f"事中检查拦截：使用单位 {consumer_id} 的密钥 {key_id} 调用 {product} 已被自动拦截，"
            f"案件 {row.id} 待人工核查。{hit.zh}",
            f"Monitoring blocked key {key_id} of {consumer_id} on {product}; case {row.id} "
            f"awaits the manual check. {hit.en}",
        )
        return row.id

    def open_user_case(self, hit: Hit, *, username: str) -> str:
        """A case about a partner's sandbox activity: the case number."""
        with self.db.session(write=True) as session:
            row = self._open(session, hit, source="sandbox", subject_kind="user", subject=username)
        self._tell(
            row,
            f"事中检查：用户 {username} 的沙箱活动异常，案件 {row.id} 待人工核查。{hit.zh}",
            f"Monitoring: unusual sandbox activity of {username}; case {row.id} awaits the "
            f"manual check. {hit.en}",
        )
        return row.id

    # ------------------------------------------------------------ the administrator's side

    def take(self, who: Caller, case_id: str, note: str = "") -> CaseView:
        """Start the manual check (人工核查)."""
        require_admin(who, "product.case", case_id)
        with self.db.session(write=True) as session:
            row = self._row(session, case_id)
            self._transition(session, row, CaseState.IN_REVIEW, who.username, note)
            return _view(session, row)

    def unblock(self, who: Caller, key_id: str, reason: str) -> KeyView:
        """Lift a block after the manual check found no misuse: the key works again, its
        open case is closed as cleared with the reason."""
        require_admin(who, "product.unblock", key_id)
        if not reason.strip():
            raise InputError("reason", "unblocking needs a reason (解除拦截须填写原因)")
        with self.db.session(write=True) as session:
            key = session.get(ApiKeyRow, key_id)
            if key is None:
                raise NotFound(f"API key {key_id} not found (无此密钥)")
            if key.status != "blocked":
                raise InputError("API key", f"is {key.status}, not blocked", value=key_id)
            case_id = key.case_id
            key.status = "rotated" if key.replaced_by else "active"
            key.case_id, key.reason, key.updated_at = "", reason, iso(self.clock.now())
            case = session.get(CaseRow, case_id) if case_id else None
            if case is not None and case.state != CaseState.CLOSED.value:
                self._transition(session, case, CaseState.CLOSED, who.username, reason)
                case.resolution = Resolution.CLEARED.value
            audit_event(
                "product.unblock",
                who.username,
                "allowed",
                role="admin",
                target=key_id,
                case=case_id,
                consumer=key.consumer_id,
                reason=reason,
            )
            view = key_view(key)
        return view

    def close(self, who: Caller, case_id: str, resolution: Resolution, reason: str) -> CaseView:
        """Close a case. `confirmed` revokes a blocked key for good; `cleared` on a key's
        case is `unblock`."""
        require_admin(who, "product.case", case_id)
        if not reason.strip():
            raise InputError("reason", "closing a case needs a reason (结案须填写原因)")
        with self.db.session(write=True) as session:
            row = self._row(session, case_id)
            key = session.get(ApiKeyRow, row.subject) if row.subject_kind == "api_key" else None
            if (
                resolution is Resolution.CLEARED
                and key is not None
                and key.status == "blocked"
                and key.case_id == row.id
            ):
                raise InputError(
                    "resolution",
                    "clearing a case whose key is still blocked is done by unblocking the key",
                    hint=f"shuyu products unblock {key.id} --reason …",
                )
            self._transition(session, row, CaseState.CLOSED, who.username, reason)
            row.resolution = resolution.value
            if resolution is Resolution.CONFIRMED and key is not None and key.status != "revoked":
                key.status, key.reason, key.updated_at = "revoked", reason, row.updated_at
                audit_event(
                    "product.key",
                    who.username,
                    "allowed",
                    role="admin",
                    target=key.id,
                    change="revoke",
                    consumer=key.consumer_id,
                    case=row.id,
                    reason=reason,
                )
            return _view(session, row)

    def case(self, case_id: str) -> CaseView:
        with self.db.session() as session:
            return _view(session, self._row(session, case_id))

    def cases(self, state: CaseState | None = None) -> list[CaseView]:
        with self.db.session() as session:
            query = select(CaseRow).order_by(CaseRow.opened_at.desc())
            if state is not None:
                query = query.where(CaseRow.state == state.value)
            return [_view(session, r) for r in session.scalars(query)]
