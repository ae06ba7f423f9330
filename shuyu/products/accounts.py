"""Consumers, their API keys, usage agreements and consent records, as administrators
(and, for consents, the consumers themselves) manage them.

Every method takes typed input and returns typed views; every change is one
transaction with its audit event. Administrators are checked first (`require_admin`);
a refusal is audited too. A key's token is returned once, by `issue_key` and
`rotate_key`, and never again: the database holds its id and keyed hash only.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from shuyu.audit.events import audit_event
from shuyu.data.regions import is_region_code
from shuyu.errors import InputError
from shuyu.policy.base import SnakeId
from shuyu.policy.models import ApiProduct, Policies, ProductsPolicy
from shuyu.products.admins import Caller, NotFound, require_admin
from shuyu.products.clock import Clock, iso
from shuyu.products.keys import KeyHasher
from shuyu.products.tables import AgreementRow, ApiKeyRow, ConsentRow, ConsumerRow
from shuyu.store.database import Database

KeyStatus = Literal["active", "blocked", "rotated", "revoked"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsumerSpec(_Input):
    id: SnakeId
    name: str = Field(min_length=1, max_length=256)
    name_en: str = Field(min_length=1, max_length=256)
    kind: Literal["bank", "insurer", "other"]


class AgreementSpec(_Input):
    """A usage agreement (使用协议) of one consumer for one product."""

    consumer_id: SnakeId
    product: SnakeId
    purposes: list[SnakeId] = Field(min_length=1)
    valid_from: dt.date
    valid_until: dt.date
    daily_quota: int = Field(ge=1)
    monthly_quota: int = Field(ge=1)
    price_fen: int = Field(ge=0, description="price per billable call in 分 (0.01 CNY)")
    regions: list[str] = Field(min_length=1, description="six-digit region codes")

    @model_validator(mode="after")
    def _consistent(self) -> AgreementSpec:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        if self.monthly_quota < self.daily_quota:
            raise ValueError("the monthly quota is smaller than the daily quota")
        bad = [r for r in self.regions if not is_region_code(r)]
        if bad:
            raise ValueError(f"not six-digit region codes: {', '.join(bad)}")
        return self


class ConsentSpec(_Input):
    """A consent record (个人授权书) for one subject, product and purpose. The subject
    is the identifier; it is pseudonymised before anything is stored."""

    subject: str = Field(min_length=15, max_length=32)
    purpose: SnakeId
    valid_from: dt.date
    valid_until: dt.date
    document_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="sha256 of the signed 授权书 (hex)"
    )

    @model_validator(mode="after")
    def _dates(self) -> ConsentSpec:
        if self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class KeyView(BaseModel):
    id: str
    consumer_id: str
    status: KeyStatus
    case_id: str
    expires_at: str
    replaced_by: str
    reason: str
    created_at: str
    created_by: str
    updated_at: str


class NewKey(BaseModel):
    key: KeyView
    token: str = Field(description="the API key itself: shown once, never stored")


class AgreementView(BaseModel):
    consumer_id: str
    product: str
    scenario: str
    purposes: list[str]
    valid_from: dt.date
    valid_until: dt.date
    daily_quota: int
    monthly_quota: int
    price_fen: int
    regions: list[str]
    status: Literal["active", "terminated"]
    updated_at: str
    updated_by: str


class ConsumerView(BaseModel):
    id: str
    name: str
    name_en: str
    kind: str
    status: Literal["active", "suspended"]
    created_at: str
    created_by: str
    keys: list[KeyView] = Field(default_factory=list)
    agreements: list[AgreementView] = Field(default_factory=list)


class ConsentView(BaseModel):
    id: str
    consumer_id: str
    product: str
    subject: str = Field(description="the subject's pseudonym")
    purpose: str
    valid_from: dt.date
    valid_until: dt.date
    document_sha256: str
    status: Literal["active", "withdrawn"]
    created_at: str


def key_view(row: ApiKeyRow) -> KeyView:
    return KeyView(
        id=row.id,
        consumer_id=row.consumer_id,
        status=row.status,
        case_id=row.case_id,
        expires_at=row.expires_at,
        replaced_by=row.replaced_by,
        reason=row.reason,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
    )


def agreement_view(row: AgreementRow) -> AgreementView:
    return AgreementView(
        consumer_id=row.consumer_id,
        product=row.product,
        scenario=row.scenario,
        purposes=json.loads(row.purposes),
        valid_from=dt.date.fromisoformat(row.valid_from),
        valid_until=dt.date.fromisoformat(row.valid_until),
        daily_quota=row.daily_quota,
        monthly_quota=row.monthly_quota,
        price_fen=row.price_fen,
        regions=json.loads(row.regions),
        status=row.status,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def consent_view(row: ConsentRow) -> ConsentView:
    return ConsentView(
        id=row.id,
        consumer_id=row.consumer_id,
        product=row.product,
        subject=row.subject,
        purpose=row.purpose,
        valid_from=dt.date.fromisoformat(row.valid_from),
        valid_until=dt.date.fromisoformat(row.valid_until),
        document_sha256=row.document_sha256,
        status=row.status,
        created_at=row.created_at,
    )


class ProductAccounts:
    def __init__(
        self,
        db: Database,
        *,
        policies: Callable[[], Policies],
        products: Callable[[], ProductsPolicy],
        hasher: KeyHasher,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.policies = policies
        self.products = products
        self.hasher = hasher
        self.clock = clock or Clock()

    # ------------------------------------------------------------ helpers

    def _now(self) -> str:
        return iso(self.clock.now())

    def _product(self, product_id: str) -> ApiProduct:
        product = self.products().product(product_id)
        if product is None:
            known = ", ".join(p.id for p in self.products().products) or "none"
            raise InputError("product", "unknown product", value=product_id, hint=f"one of {known}")
        return product

    @staticmethod
    def _consumer(session: Any, consumer_id: str) -> ConsumerRow:
        row = session.get(ConsumerRow, consumer_id)
        if row is None:
            raise NotFound(f"consumer {consumer_id} not found (无此使用单位)")
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _key(session: Any, key_id: str) -> ApiKeyRow:
        row = session.get(ApiKeyRow, key_id)
        if row is None:
            raise NotFound(f"API key {key_id} not found (无此密钥)")
        return row  # type: ignore[no-any-return]

    def _consumer_view(self, session: Any, row: ConsumerRow) -> ConsumerView:
        keys = session.scalars(
            select(ApiKeyRow).where(ApiKeyRow.consumer_id == row.id).order_by(ApiKeyRow.created_at)
        )
        agreements = session.scalars(
            select(AgreementRow)
            .where(AgreementRow.consumer_id == row.id)
            .order_by(AgreementRow.product)
        )
        return ConsumerView(
            id=row.id,
            name=row.name,
            name_en=row.name_en,
            kind=row.kind,
            status=row.status,
            created_at=row.created_at,
            created_by=row.created_by,
            keys=[key_view(k) for k in keys],
            agreements=[agreement_view(a) for a in agreements],
        )

    def _new_key(self, session: Any, consumer_id: str, actor: str) -> tuple[ApiKeyRow, str]:
        issued = self.hasher.issue()
        now = self._now()
        row = ApiKeyRow(
            id=issued.key_id,
            consumer_id=consumer_id,
            secret_hash=issued.secret_hash,
            status="active",
            case_id="",
            expires_at="",
            replaced_by="",
            reason="",
            created_at=now,
            created_by=actor,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row, issued.token

    # ------------------------------------------------------------ consumers

    def create_consumer(self, who: Caller, spec: ConsumerSpec) -> ConsumerView:
        require_admin(who, "product.consumer", spec.id)
        with self.db.session(write=True) as session:
            if session.get(ConsumerRow, spec.id) is not None:
                raise InputError("consumer", "already exists (使用单位已存在)", value=spec.id)
            row = ConsumerRow(
                id=spec.id,
                name=spec.name,
                name_en=spec.name_en,
                kind=spec.kind,
                status="active",
                created_at=self._now(),
                created_by=who.username,
            )
            session.add(row)
            session.flush()
            audit_event(
                "product.consumer",
                who.username,
                "allowed",
                role="admin",
                target=spec.id,
                change="create",
                name=spec.name,
                kind=spec.kind,
            )
            return self._consumer_view(session, row)

    def set_consumer_status(
        self, who: Caller, consumer_id: str, status: Literal["active", "suspended"], reason: str
    ) -> ConsumerView:
        """Suspend a consumer (every key refused) or reinstate it."""
        require_admin(who, "product.consumer", consumer_id)
        if not reason.strip():
            raise InputError("reason", "a reason is required (请填写原因)")
        with self.db.session(write=True) as session:
            row = self._consumer(session, consumer_id)
            before, row.status = row.status, status
            audit_event(
                "product.consumer",
                who.username,
                "allowed",
                role="admin",
                target=consumer_id,
                change="status",
                before=before,
                after=status,
                reason=reason,
            )
            return self._consumer_view(session, row)

    def consumer(self, consumer_id: str) -> ConsumerView:
        with self.db.session() as session:
            return self._consumer_view(session, self._consumer(session, consumer_id))

    def consumers(self) -> list[ConsumerView]:
        with self.db.session() as session:
            rows = session.scalars(select(ConsumerRow).order_by(ConsumerRow.id))
            return [self._consumer_view(session, r) for r in rows]

    # ------------------------------------------------------------ keys

    def issue_key(self, who: Caller, consumer_id: str) -> NewKey:
        require_admin(who, "product.key", consumer_id)
        with self.db.session(write=True) as session:
            self._consumer(session, consumer_id)
            row, token = self._new_key(session, consumer_id, who.username)
            audit_event(
                "product.key",
                who.username,
                "allowed",
                role="admin",
                target=row.id,
                change="issue",
                consumer=consumer_id,
            )
            return NewKey(key=key_view(row), token=token)

    def rotate_key(self, who: Caller, key_id: str, *, grace_hours: float = 0) -> NewKey:
        """A new key for the same consumer; the old one keeps working for `grace_hours`
        (0: refused at once). A blocked or revoked key cannot be rotated out of its
        state: unblock it first."""
        require_admin(who, "product.key", key_id)
        if not 0 <= grace_hours <= 168:
            raise InputError("grace hours", "must be between 0 and 168", value=grace_hours)
        with self.db.session(write=True) as session:
            old = self._key(session, key_id)
            if old.status != "active":
                raise InputError(
                    "API key", f"is {old.status}, only an active key is rotated", value=key_id
                )
            new, token = self._new_key(session, old.consumer_id, who.username)
            now = self.clock.now()
            old.status, old.replaced_by, old.updated_at = "rotated", new.id, iso(now)
            old.expires_at = iso(now + dt.timedelta(hours=grace_hours))
            old.reason = "rotated"
            audit_event(
                "product.key",
                who.username,
                "allowed",
                role="admin",
                target=key_id,
                change="rotate",
                consumer=old.consumer_id,
                replaced_by=new.id,
                grace_hours=grace_hours,
            )
            return NewKey(key=key_view(new), token=token)

    def revoke_key(self, who: Caller, key_id: str, reason: str) -> KeyView:
        require_admin(who, "product.key", key_id)
        if not reason.strip():
            raise InputError("reason", "a reason is required (请填写原因)")
        with self.db.session(write=True) as session:
            row = self._key(session, key_id)
            before = row.status
            row.status, row.reason, row.updated_at = "revoked", reason, self._now()
            audit_event(
                "product.key",
                who.username,
                "allowed",
                role="admin",
                target=key_id,
                change="revoke",
                consumer=row.consumer_id,
                before=before,
                reason=reason,
            )
            return key_view(row)

    def key(self, key_id: str) -> KeyView:
        with self.db.session() as session:
            return key_view(self._key(session, key_id))

    # ------------------------------------------------------------ agreements

    def set_agreement(self, who: Caller, spec: AgreementSpec) -> AgreementView:
        """Create or replace the consumer's agreement for the product."""
        require_admin(who, "product.agreement", f"{spec.consumer_id}/{spec.product}")
        product = self._product(spec.product)
        unknown = [p for p in spec.purposes if product.purpose(p) is None]
        if unknown:
            raise InputError(
                "purposes",
                f"not purposes of {product.id}: {', '.join(unknown)}",
                hint="one of " + ", ".join(p.id for p in product.purposes),
            )
        scenario = self.policies().scenario(product.scenario)
        if spec.valid_until > scenario.expires_on:
            raise InputError(
                "valid_until",
                f"is after the authorisation of scenario {scenario.id} ends "
                f"({scenario.expires_on}; 超出场景授权期限)",
                value=str(spec.valid_until),
            )
        with self.db.session(write=True) as session:
            self._consumer(session, spec.consumer_id)
            row = session.scalars(
                select(AgreementRow).where(
                    AgreementRow.consumer_id == spec.consumer_id,
                    AgreementRow.product == spec.product,
                )
            ).first()
            before = agreement_view(row).model_dump(mode="json") if row is not None else None
            if row is None:
                row = AgreementRow(consumer_id=spec.consumer_id, product=spec.product)
                session.add(row)
            row.scenario = product.scenario
            row.purposes = json.dumps(spec.purposes)
            row.valid_from = spec.valid_from.isoformat()
            row.valid_until = spec.valid_until.isoformat()
            row.daily_quota = spec.daily_quota
            row.monthly_quota = spec.monthly_quota
            row.price_fen = spec.price_fen
            row.regions = json.dumps(spec.regions)
            row.status = "active"
            row.updated_at = self._now()
            row.updated_by = who.username
            session.flush()
            view = agreement_view(row)
            audit_event(
                "product.agreement",
                who.username,
                "allowed",
                role="admin",
                target=f"{spec.consumer_id}/{spec.product}",
                change="set",
                before=before,
                after=view.model_dump(mode="json"),
            )
            return view

    def terminate_agreement(
        self, who: Caller, consumer_id: str, product: str, reason: str
    ) -> AgreementView:
        require_admin(who, "product.agreement", f"{consumer_id}/{product}")
        if not reason.strip():
            raise InputError("reason", "a reason is required (请填写原因)")
        with self.db.session(write=True) as session:
            row = session.scalars(
                select(AgreementRow).where(
                    AgreementRow.consumer_id == consumer_id, AgreementRow.product == product
                )
            ).first()
            if row is None:
                raise NotFound(f"no agreement of {consumer_id} for {product}")
            row.status, row.updated_at, row.updated_by = "terminated", self._now(), who.username
            audit_event(
                "product.agreement",
                who.username,
                "allowed",
                role="admin",
                target=f"{consumer_id}/{product}",
                change="terminate",
                reason=reason,
            )
            return agreement_view(row)

    # ------------------------------------------------------------ consents

    def register_consent(
        self,
        actor: str,
        consumer_id: str,
        product_id: str,
        subject_pseudonym: str,
        spec: ConsentSpec,
    ) -> ConsentView:
        """Record a consent whose subject is already pseudonymised (the product API
        does that with the masking key); `actor` is the consumer or an administrator."""
        product = self._product(product_id)
        if product.purpose(spec.purpose) is None:
            raise InputError(
                "purpose",
                f"not a purpose of {product.id}",
                value=spec.purpose,
                hint="one of " + ", ".join(p.id for p in product.purposes),
            )
        now = self._now()
        with self.db.session(write=True) as session:
            self._consumer(session, consumer_id)
            row = ConsentRow(
                id="CN" + self.clock.today().strftime("%Y%m%d") + secrets.token_hex(5),
                consumer_id=consumer_id,
                product=product.id,
                subject=subject_pseudonym,
                purpose=spec.purpose,
                valid_from=spec.valid_from.isoformat(),
                valid_until=spec.valid_until.isoformat(),
                document_sha256=spec.document_sha256,
                status="active",
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            audit_event(
                "product.consent",
                actor,
                "allowed",
                role="consumer",
                target=row.id,
                change="register",
                consumer=consumer_id,
                product=product.id,
                subject=subject_pseudonym,
                purpose=spec.purpose,
                valid_until=row.valid_until,
                document_sha256=spec.document_sha256,
            )
            return consent_view(row)

    def withdraw_consent(self, actor: str, consumer_id: str, consent_id: str) -> ConsentView:
        """The subject withdrew their consent: it no longer allows any call."""
        with self.db.session(write=True) as session:
            row = session.get(ConsentRow, consent_id)
            if row is None or row.consumer_id != consumer_id:
                raise NotFound(f"consent {consent_id} not found")
            row.status, row.updated_at = "withdrawn", self._now()
            audit_event(
                "product.consent",
                actor,
                "allowed",
                role="consumer",
                target=consent_id,
                change="withdraw",
                consumer=consumer_id,
                product=row.product,
                subject=row.subject,
            )
            return consent_view(row)
