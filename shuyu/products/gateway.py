"""One product call, every check in order, in the domain.

    key ─▶ agreement (in force, purpose) ─▶ batch limit ─▶ identifiers ─▶ consent
        ─▶ quota (counted atomically) ─▶ pseudonym ─▶ masked features ─▶ approved model
        ─▶ score, grade, factor labels ─▶ audit event per subject ─▶ 事中检查 rules

A refusal of the whole request raises `Refusal`; a refused subject of a batch is an
error in its result. Every subject looked up, scored or refused, is one audit event
(consumer, product, pseudonym, purpose, consent, result, latency) through the buffered
writer, and a request refused before any subject is one event. The monitor sees every
authenticated call; a hit blocks the key before this call's answer leaves, so the next
call is refused with the case number.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, bindparam, text

from shuyu.audit.events import audit_event
from shuyu.policy.models import ApiProduct
from shuyu.products.accounts import ConsentSpec, ConsentView, ProductAccounts
from shuyu.products.clock import Clock, iso
from shuyu.products.contracts import ErrorOut, FactorOut, ScoreItem, ScoreRequest, ScoreResponse
from shuyu.products.keys import KeyHasher, parse
from shuyu.products.monitor import Monitor
from shuyu.products.monitor_rules import CallSeen
from shuyu.products.quota import Period, reserve
from shuyu.products.refusals import Code, Refusal
from shuyu.products.scoring import ProductScorer
from shuyu.products.statements import Statement, usage_statement
from shuyu.products.subjects import Subject, SubjectKeys
from shuyu.store.database import Database

# the per-call reads as text: each call binds values to a statement compiled once
_KEY_AND_AGREEMENT = text(
    "SELECT k.secret_hash, k.status, k.case_id, k.expires_at, k.consumer_id, "
    "c.status AS consumer_status, a.status AS agreement_status, a.purposes, a.regions, "
    "a.valid_from, a.valid_until, a.daily_quota, a.monthly_quota, a.price_fen, a.updated_at "
    "FROM product_api_keys k JOIN product_consumers c ON c.id = k.consumer_id "
    "LEFT JOIN product_agreements a ON a.consumer_id = k.consumer_id AND a.product = :product "
    "WHERE k.id = :key"
)
_CONSENTS = text(
    "SELECT id, subject, purpose, valid_from, valid_until FROM product_consents "
    "WHERE consumer_id = :consumer AND product = :product AND status = 'active' "
    "AND subject IN :subjects"
).bindparams(bindparam("subjects", expanding=True))


@dataclass
class ServedProduct:
    """A product as this process serves it: its subjects' keys and its scorer, or why
    it cannot be served (no approved version, a failed verification)."""

    product: ApiProduct
    subjects: SubjectKeys
    scorer: ProductScorer | None
    unavailable: str = ""


class CallGate(Protocol):
    """Governance's word on a call (`shuyu.governance.product_gate.ProductGovernance`):
    a refusal when the product's filing is not in force or a freeze covers the call."""

    def refusal(self, served: ServedProduct, consumer_id: str) -> Refusal | None: ...


@dataclass(frozen=True)
class Access:
    """An authenticated key with the agreement it calls under."""

    key_id: str
    consumer_id: str
    purposes: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    daily_quota: int = 0
    monthly_quota: int = 0
    price_fen: int = 0


@dataclass
class _Call:
    """What one call collected on its way, for its audit events and the monitor."""

    request_id: str
    product: str
    purpose: str
    started: float
    key_id: str = ""
    consumer_id: str = ""
    access: Access | None = None
    looked_up: list[Subject] = field(default_factory=list)
    consent_failures: int = 0


class ProductGateway:
    def __init__(
        self,
        db: Database,
        *,
        served: dict[str, ServedProduct],
        hasher: KeyHasher,
        accounts: ProductAccounts,
        monitor: Monitor,
        clock: Clock | None = None,
        governance: CallGate | None = None,
    ) -> None:
        self.db = db
        self.served = served
        self.governance = governance  # None: filings and freezes are not asked
        self.hasher = hasher
        self.accounts = accounts
        self.monitor = monitor
        self.clock = clock or Clock()
        self._agreements: dict[str, tuple[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ scoring

    def score(self, token: str | None, product_id: str, request: ScoreRequest) -> ScoreResponse:
        call = _Call(secrets.token_hex(8), product_id, request.purpose, time.perf_counter())
        try:
            return self._score(call, token, request)
        except Refusal as refusal:
            refusal.request_id = call.request_id
            self._audit_refusal(call, refusal, subjects=len(request.refs))
            raise
        finally:
            self._observe(call)

    def _score(self, call: _Call, token: str | None, request: ScoreRequest) -> ScoreResponse:
        served = self._served(call.product)
        product = served.product
        consents: dict[int, str] = {}
        # the database's part on one connection: the key and agreement, the consents
        # (reads), then the quota (its own write transaction)
        with self.db.engine.connect() as connection:
            access = self._authenticate(connection, call, token, call.product)
            self._check_agreement(access, request.purpose)
            self._check_governance(served, access)
            if served.scorer is None:
                raise Refusal(Code.PRODUCT_UNAVAILABLE, served.unavailable)
            refs = request.refs
            if len(refs) > product.batch_limit:
                raise Refusal(Code.BATCH_TOO_LARGE, f"{len(refs)} > {product.batch_limit}")
            outcome: list[Subject | Refusal] = served.subjects.subjects([r.id for r in refs])
            if product.consent_required:
                consents = self._check_consents(connection, call, access, product, request, outcome)
            wanted = [i for i, s in enumerate(outcome) if isinstance(s, Subject)]
            if wanted:
                self._reserve(connection, access, product, len(wanted))
        rows: dict[int, int] = {}
        for i in wanted:
            subject = outcome[i]
            assert isinstance(subject, Subject)
            call.looked_up.append(subject)
            row = served.scorer.row_of(subject.pseudonym)
            if row is None:
                outcome[i] = Refusal(Code.SUBJECT_UNKNOWN)
            else:
                rows[i] = row
        scored = dict(zip(rows, served.scorer.score(list(rows.values())), strict=True))
        model = served.scorer.model.label
        latency = round((time.perf_counter() - call.started) * 1000, 3)
        results: list[ScoreItem] = []
        for i, item in enumerate(outcome):
            pseudonym = item.pseudonym if isinstance(item, Subject) else ""
            if i in scored:
                s = scored[i]
                results.append(
                    ScoreItem(
                        index=i,
                        ok=True,
                        score=round(s.score, 6),
                        grade=s.grade.grade,
                        grade_name=s.grade.name,
                        grade_name_en=s.grade.name_en,
                        factors=[
                            FactorOut(
                                feature=f.feature,
                                direction=f.direction,
                                label=f.label,
                                label_en=f.label_en,
                            )
                            for f in s.factors
                        ],
                        consent_id=consents.get(i),
                    )
                )
                self._audit(call, "allowed", "scored", pseudonym, consents.get(i), latency,
                            grade=s.grade.grade, model=model)  # fmt: skip
            else:
                assert isinstance(item, Refusal)
                results.append(ScoreItem(index=i, ok=False, error=error_out(item)))
                self._audit(call, "denied", item.code.value, pseudonym, consents.get(i), latency)
        if not request.is_batch and results[0].error is not None:
            # a single subject's refusal is the request's (its audit event is written)
            only = outcome[0]
            assert isinstance(only, Refusal)
            only.audited = True
            raise only
        return ScoreResponse(
            request_id=call.request_id,
            product=product.id,
            model=model,
            purpose=request.purpose,
            results=results,
        )

    # ------------------------------------------------------------ the checks

    def _served(self, product_id: str) -> ServedProduct:
        served = self.served.get(product_id)
        if served is None:
            raise Refusal(Code.PRODUCT_UNKNOWN, product_id[:64])
        return served

    def _authenticate(
        self, connection: Connection, call: _Call, token: str | None, product_id: str
    ) -> Access:
        if not token:
            raise Refusal(Code.KEY_MISSING)
        parsed = parse(token)
        if parsed is None:
            raise Refusal(Code.KEY_INVALID)
        key_id, secret = parsed
        call.key_id = key_id
        row = connection.execute(_KEY_AND_AGREEMENT, {"key": key_id, "product": product_id}).first()
        if row is None or not self.hasher.matches(key_id, secret, row.secret_hash):
            raise Refusal(Code.KEY_INVALID)
        call.consumer_id = row.consumer_id
        if row.status == "revoked" or (
            row.status == "rotated" and (not row.expires_at or row.expires_at <= self._now_iso())
        ):
            raise Refusal(Code.KEY_REVOKED)
        if row.status == "blocked":
            raise Refusal(Code.KEY_BLOCKED, case=row.case_id)
        if row.consumer_status != "active":
            raise Refusal(Code.CONSUMER_SUSPENDED)
        if row.agreement_status != "active":
            raise Refusal(Code.AGREEMENT_MISSING)
        today = self.clock.today().isoformat()
        if today < row.valid_from:
            raise Refusal(Code.AGREEMENT_NOT_YET_VALID, f"from {row.valid_from}")
        if today > row.valid_until:
            raise Refusal(Code.AGREEMENT_EXPIRED, f"until {row.valid_until}")
        purposes, regions = self._lists(
            f"{row.consumer_id}/{product_id}", row.updated_at, row.purposes, row.regions
        )
        access = Access(
            key_id=key_id,
            consumer_id=row.consumer_id,
            purposes=purposes,
            regions=regions,
            daily_quota=int(row.daily_quota),
            monthly_quota=int(row.monthly_quota),
            price_fen=int(row.price_fen),
        )
        call.access = access
        return access

    def _lists(
        self, which: str, updated: str, purposes: str, regions: str
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """An agreement's purposes and regions, parsed once per version of it."""
        cached = self._agreements.get(which)
        if cached is not None and cached[0] == updated:
            return cached[1]
        parsed = (tuple(json.loads(purposes)), tuple(json.loads(regions)))
        with self._lock:
            self._agreements[which] = (updated, parsed)
        return parsed

    def _check_governance(self, served: ServedProduct, access: Access) -> None:
        if self.governance is not None:
            refused = self.governance.refusal(served, access.consumer_id)
            if refused is not None:
                raise refused

    @staticmethod
    def _check_agreement(access: Access, purpose: str) -> None:
        if purpose not in access.purposes:
            raise Refusal(
                Code.PURPOSE_NOT_PERMITTED, f"{purpose}; permitted: {', '.join(access.purposes)}"
            )

    def _check_consents(  # noqa: PLR0917
        self,
        connection: Connection,
        call: _Call,
        access: Access,
        product: ApiProduct,
        request: ScoreRequest,
        outcome: list[Subject | Refusal],
    ) -> dict[int, str]:
        """The consent each subject's call rests on; subjects without one are refused."""
        pseudonyms = {s.pseudonym for s in outcome if isinstance(s, Subject)}
        if not pseudonyms:
            return {}
        found = connection.execute(
            _CONSENTS,
            {
                "consumer": access.consumer_id,
                "product": product.id,
                "subjects": sorted(pseudonyms),
            },
        ).all()
        by_subject: dict[str, list[Any]] = {}
        for row in found:
            by_subject.setdefault(row[1], []).append(row)
        today = self.clock.today().isoformat()
        chosen: dict[int, str] = {}
        for i, (ref, subject) in enumerate(zip(request.refs, outcome, strict=True)):
            if not isinstance(subject, Subject):
                continue
            decision = consent_decision(
                by_subject.get(subject.pseudonym, []), request.purpose, today, ref.consent_id
            )
            if isinstance(decision, Refusal):
                outcome[i] = decision
                call.consent_failures += 1
            else:
                chosen[i] = decision
        return chosen

    def _reserve(self, connection: Connection, access: Access, product: ApiProduct, n: int) -> None:
        local = self.clock.local(self.clock.now())
        exceeded = reserve(
            connection,
            access.consumer_id,
            product.id,
            [
                Period(f"d:{local:%Y-%m-%d}", access.daily_quota),
                Period(f"m:{local:%Y-%m}", access.monthly_quota),
            ],
            n,
        )
        if exceeded is not None:
            which = "daily" if exceeded.name.startswith("d:") else "monthly"
            raise Refusal(Code.QUOTA_EXCEEDED, f"{which} quota {exceeded.limit}")

    # ------------------------------------------------------------ consents by API

    def register_consent(
        self, token: str | None, product_id: str, spec: ConsentSpec
    ) -> ConsentView:
        """A consumer records a subject's signed consent; the identifier is pseudonymised
        here and only the pseudonym is stored."""
        call = _Call(secrets.token_hex(8), product_id, spec.purpose, time.perf_counter())
        served = self._served(product_id)
        access = self._access(call, token, product_id)
        if not served.product.consent_required:
            raise Refusal(Code.PRODUCT_UNKNOWN, f"{product_id} takes no consent records")
        (subject,) = served.subjects.subjects([spec.subject])
        if isinstance(subject, Refusal):
            raise subject
        return self.accounts.register_consent(
            access.consumer_id, access.consumer_id, product_id, subject.pseudonym, spec
        )

    def withdraw_consent(self, token: str | None, product_id: str, consent_id: str) -> ConsentView:
        call = _Call(secrets.token_hex(8), product_id, "", time.perf_counter())
        self._served(product_id)
        access = self._access(call, token, product_id)
        return self.accounts.withdraw_consent(access.consumer_id, access.consumer_id, consent_id)

    def statement(self, token: str | None, month: str) -> Statement:
        """The caller's own usage statement for a month."""
        call = _Call(secrets.token_hex(8), "", "", time.perf_counter())
        access = self._authenticate_any(call, token)
        return usage_statement(
            self.db,
            access.consumer_id,
            month,
            clock=self.clock,
            products={p.product.id: p.product for p in self.served.values()},
        )

    def _access(self, call: _Call, token: str | None, product_id: str) -> Access:
        with self.db.engine.connect() as connection:
            return self._authenticate(connection, call, token, product_id)

    def _authenticate_any(self, call: _Call, token: str | None) -> Access:
        """A valid, unblocked key of an active consumer, whatever its agreements."""
        try:
            return self._access(call, token, "")
        except Refusal as refusal:
            if refusal.code is Code.AGREEMENT_MISSING and call.consumer_id:
                return Access(key_id=call.key_id, consumer_id=call.consumer_id)
            raise

    # ------------------------------------------------------------ audit and monitor

    def _now_iso(self) -> str:
        return iso(self.clock.now())

    def _audit(  # noqa: PLR0917 - one event's fields
        self,
        call: _Call,
        outcome: str,
        result: str,
        pseudonym: str,
        consent: str | None,
        latency_ms: float,
        **extra: Any,
    ) -> None:
        access = call.access
        billable = result == "scored"
        audit_event(
            "product.score",
            call.consumer_id or "anonymous",
            outcome,
            role="consumer",
            target=f"{call.consumer_id}/{call.product}",
            request=call.request_id,
            key=call.key_id,
            product=call.product,
            subject=pseudonym,
            purpose=call.purpose,
            consent=consent or "",
            result=result,
            billable=billable,
            price_fen=access.price_fen if access is not None and billable else 0,
            latency_ms=latency_ms,
            **extra,
        )

    def _audit_refusal(self, call: _Call, refusal: Refusal, *, subjects: int) -> None:
        if refusal.audited:
            return
        latency = round((time.perf_counter() - call.started) * 1000, 3)
        self._audit(call, "denied", refusal.code.value, "", None, latency, subjects=subjects,
                    case=refusal.case)  # fmt: skip

    def _observe(self, call: _Call) -> None:
        access = call.access
        if access is None:
            return
        self.monitor.observe_call(
            CallSeen(
                at=self.clock.now(),
                key_id=access.key_id,
                consumer_id=access.consumer_id,
                product=call.product,
                subjects=call.looked_up,
                regions=access.regions,
                daily_quota=access.daily_quota,
                consent_failures=call.consent_failures,
            )
        )


def consent_decision(
    rows: Iterable[Any], purpose: str, today: str, consent_id: str | None
) -> str | Refusal:
    """The consent id a call rests on, or why it has none: rows are the subject's
    active consents (id, subject, purpose, valid_from, valid_until)."""
    candidates = [r for r in rows if consent_id is None or r[0] == consent_id]
    if not candidates:
        return Refusal(Code.CONSENT_MISSING)
    for_purpose = [r for r in candidates if r[2] == purpose]
    if not for_purpose:
        return Refusal(Code.CONSENT_OTHER_PURPOSE, f"not {purpose}")
    valid = [r for r in for_purpose if r[3] <= today <= r[4]]
    if not valid:
        latest = max(for_purpose, key=lambda r: r[4])
        return Refusal(Code.CONSENT_EXPIRED, f"valid {latest[3]}–{latest[4]}")
    return str(max(valid, key=lambda r: r[4])[0])


def error_out(refusal: Refusal) -> ErrorOut:
    return ErrorOut(code=refusal.code, message=refusal.zh, message_en=refusal.en, case=refusal.case)
