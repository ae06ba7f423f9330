"""Applying and lifting freezes (应急处置): administrators only, each an audit event,
in a transaction. What a freeze stops is in `shuyu.governance.freezes`."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from sqlalchemy import select, text

from shuyu.audit.events import audit_event, now_iso
from shuyu.errors import InputError
from shuyu.governance.freezes import FreezeKind, FreezeView, Scope, freeze_view
from shuyu.governance.tables import FreezeRow
from shuyu.policy.models import Policies, ProductsPolicy
from shuyu.review.service import Forbidden, NotFound, Principal
from shuyu.store.database import Database


class FreezeDesk:
    """Administrators freeze and lift; everyone acting reads `active_freezes`."""

    def __init__(
        self,
        db: Database,
        policies: Callable[[], Policies],
        products: Callable[[], ProductsPolicy] = ProductsPolicy,
    ) -> None:
        self.db = db
        self.policies = policies
        self.products = products

    def _require_admin(self, who: Principal, action: str, scope: str) -> None:
        if not who.is_admin:
            audit_event(action, who.username, "denied", target=scope, reason="not an admin")
            raise Forbidden(f"{who.username} is not in admins: freezes (应急处置) are theirs")

    def _known(self, scope: Scope) -> None:
        known: set[str]
        if scope.kind is FreezeKind.PARTNER:
            known = set(self.policies().partners)
        elif scope.kind is FreezeKind.SCENARIO:
            known = set(self.policies().scenarios)
        elif scope.kind is FreezeKind.PRODUCT:
            known = {p.id for p in self.products().products} | {
                f"{s.id}.{partner}"
                for s in self.policies().scenarios.values()
                for partner in s.partners
            }
        elif scope.kind is FreezeKind.CONSUMER:
            with self.db.engine.connect() as connection:
                known = {r[0] for r in connection.execute(text("SELECT id FROM product_consumers"))}
        else:
            return
        if scope.target not in known:
            raise InputError("scope", f"no such {scope.kind.value}", value=scope.label,
                             hint=f"known: {', '.join(sorted(known)[:20])}")  # fmt: skip

    def apply(self, who: Principal, scope: Scope, reason: str) -> FreezeView:
        """Freeze `scope` now; a scope already frozen is not frozen twice."""
        self._require_admin(who, "freeze.apply", scope.label)
        if len(reason.strip()) < 4:
            raise InputError("reason", "say why (at least 4 characters): it is shown to "
                             "everyone the freeze stops", value=reason)  # fmt: skip
        self._known(scope)
        with self.db.session(write=True) as session:
            already = session.scalars(
                select(FreezeRow).where(
                    FreezeRow.active == 1,
                    FreezeRow.kind == scope.kind.value,
                    FreezeRow.target == scope.target,
                )
            ).first()
            if already is not None:
                raise InputError("scope", f"is frozen already ({already.id})", value=scope.label)
            row = FreezeRow(
                id=f"Z{now_iso()[:10].replace('-', '')}-{secrets.token_hex(4)}",
                kind=scope.kind.value,
                target=scope.target,
                reason=reason.strip(),
                active=1,
                applied_by=who.username,
                applied_at=now_iso(),
                lifted_by="",
                lifted_at="",
                lift_reason="",
            )
            session.add(row)
            audit_event(
                "freeze.apply",
                who.username,
                "allowed",
                role="admin",
                target=row.id,
                scope=scope.label,
                reason=row.reason,
            )
            return freeze_view(row)

    def lift(self, who: Principal, freeze_id: str, reason: str) -> FreezeView:
        with self.db.session(write=True) as session:
            row = session.get(FreezeRow, freeze_id)
            if row is None:
                raise NotFound(f"freeze {freeze_id} not found")
            self._require_admin(who, "freeze.lift", freeze_id)
            if not row.active:
                raise InputError("freeze", f"was lifted already at {row.lifted_at}",
                                 value=freeze_id)  # fmt: skip
            if len(reason.strip()) < 4:
                raise InputError("reason", "say why the freeze ends (at least 4 characters)",
                                 value=reason)  # fmt: skip
            row.active = 0
            row.lifted_by, row.lifted_at, row.lift_reason = who.username, now_iso(), reason.strip()
            audit_event(
                "freeze.lift",
                who.username,
                "allowed",
                role="admin",
                target=row.id,
                scope=Scope(FreezeKind(row.kind), row.target).label,
                reason=row.lift_reason,
            )
            return freeze_view(row)

    def lift_scope(self, who: Principal, scope: Scope, reason: str) -> FreezeView:
        """Lift the active freeze of `scope`."""
        with self.db.session() as session:
            row = session.scalars(
                select(FreezeRow).where(
                    FreezeRow.active == 1,
                    FreezeRow.kind == scope.kind.value,
                    FreezeRow.target == scope.target,
                )
            ).first()
            found = None if row is None else row.id
        if found is None:
            raise NotFound(f"{scope.label} is not frozen")
        return self.lift(who, found, reason)

    def list(self, who: Principal, *, everything: bool = False) -> list[FreezeView]:
        if not who.is_admin:
            raise Forbidden(f"{who.username} is not in admins")
        with self.db.session() as session:
            query = select(FreezeRow).order_by(FreezeRow.applied_at.desc())
            if not everything:
                query = query.where(FreezeRow.active == 1)
            return [freeze_view(r) for r in session.scalars(query)]
