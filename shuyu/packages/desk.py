"""Package requests: partners ask, administrators decide, the host's fetch records what
it published or why the checks refused it. Each step a transaction and an audit event.

A partner asks for one exact version (what is reviewed is what is installed) for a
scenario it is authorised for; a name on the policy's denylist is refused at once. What
the index serves is the same for every sandbox (an approved package is approved for
all) unless policy keeps sets per scenario (`shuyu.packages.sets`): then it is approved
for the request's scenario only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from shuyu.audit.events import audit_event, now_iso
from shuyu.errors import InputError
from shuyu.packages.sets import set_of
from shuyu.packages.states import LABELS, PackageState, transition
from shuyu.packages.tables import PackageRequestRow
from shuyu.policy.models import Policies
from shuyu.review.partner_scope import partner_for
from shuyu.review.service import Forbidden, NotFound, Principal
from shuyu.store.database import Database

NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
OPEN = (PackageState.REQUESTED, PackageState.APPROVED, PackageState.PUBLISHED)


def normalise(name: str) -> str:
    """PEP 503's form of a project name (what the index and pip compare)."""
    return re.sub(r"[-_.]+", "-", name).lower()


class PackageAsk(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128)
    version: str = Field(max_length=64)
    scenario: str = Field(max_length=64)
    purpose: str = Field(max_length=2000)


@dataclass(frozen=True)
class WheelRecord:
    filename: str
    sha256: str
    size: int
    modules: tuple[str, ...] = ()  # the top-level modules it installs (`import x`)

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "modules": list(self.modules)}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> WheelRecord:
        modules = data.get("modules", [])
        return cls(
            filename=str(data["filename"]),
            sha256=str(data["sha256"]),
            size=int(str(data["size"])),
            modules=tuple(str(m) for m in modules) if isinstance(modules, list) else (),
        )


@dataclass(frozen=True)
class PackageView:
    id: str
    name: str
    version: str
    scenario: str
    partner: str
    requester: str
    purpose: str
    state: PackageState
    decided_by: str
    decided_at: str
    note: str
    files: tuple[WheelRecord, ...]
    created_at: str
    index_set: str = ""  # the scenario whose own set it is published to; "" for all

    def label(self, en: bool) -> str:
        return LABELS[self.state][1 if en else 0]


def _view(row: PackageRequestRow) -> PackageView:
    return PackageView(
        id=row.id,
        name=row.name,
        version=row.version,
        scenario=row.scenario,
        partner=row.partner,
        requester=row.requester,
        purpose=row.purpose,
        state=PackageState(row.state),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=row.note,
        files=tuple(WheelRecord.from_json(f) for f in json.loads(row.files)),
        index_set=row.index_set,
        created_at=row.created_at,
    )


class PackageDesk:
    def __init__(
        self,
        db: Database,
        policies: Callable[[], Policies],
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.db = db
        self.policies = policies
        self.today = today

    def request(self, who: Principal, ask: PackageAsk) -> PackageView:
        policies = self.policies()
        partner = partner_for(policies, who, ask.scenario, self.today(), action="package.request")
        if not NAME.match(ask.name):
            raise InputError(
                "name", "is not a package name (letters, digits, . _ -)", value=ask.name
            )
        try:
            version = str(Version(ask.version))
        except InvalidVersion:
            raise InputError(
                "version",
                "is not a version (PEP 440)",
                value=ask.version,
                hint="ask for one exact release, e.g. 2.1.3",
            ) from None
        name = normalise(ask.name)
        denied = {normalise(n) for n in policies.sandbox.packages.denylist}
        if name in denied:
            audit_event(
                "package.request",
                who.username,
                "denied",
                target=name,
                version=version,
                reason="on the denylist",
            )
            raise InputError(
                "name",
                "is on the platform's denylist (policies/sandbox.yaml): "
                "it is never brought in (禁止引入)",
                value=ask.name,
            )
        if len(ask.purpose.strip()) < 4:
            raise InputError(
                "purpose", "say what the package is for (at least 4 characters)", value=ask.purpose
            )
        index_set = set_of(policies.sandbox.packages, ask.scenario)
        with self.db.session(write=True) as session:
            already = session.scalars(
                select(PackageRequestRow).where(
                    PackageRequestRow.name == name,
                    PackageRequestRow.version == version,
                    PackageRequestRow.index_set == index_set,
                    PackageRequestRow.state.in_([s.value for s in OPEN]),
                )
            ).first()
            if already is not None:
                raise InputError(
                    "name",
                    f"{name}=={version} is {already.state} already ({already.id})",
                    value=ask.name,
                )
            ts = now_iso()
            row = PackageRequestRow(
                id=f"P{ts[:10].replace('-', '')}-{secrets.token_hex(4)}",
                name=name,
                version=version,
                scenario=ask.scenario,
                partner=partner.id,
                requester=who.username,
                purpose=ask.purpose.strip(),
                state=PackageState.REQUESTED.value,
                decided_by="",
                decided_at="",
                note="",
                files="[]",
                index_set=index_set,
                created_at=ts,
                updated_at=ts,
            )
            session.add(row)
            audit_event(
                "package.request",
                who.username,
                "allowed",
                role="partner",
                target=row.id,
                package=name,
                version=version,
                scenario=ask.scenario,
                partner=partner.id,
            )
            return _view(row)

    def decide(self, who: Principal, request_id: str, *, approve: bool, note: str) -> PackageView:
        if not who.is_admin:
            audit_event(
                "package.decide", who.username, "denied", target=request_id, reason="not an admin"
            )
            raise Forbidden(f"{who.username} is not in admins: packages are approved by them")
        if not approve and len(note.strip()) < 4:
            raise InputError(
                "note",
                "say why it is rejected (at least 4 characters): the partner reads it",
                value=note,
            )
        with self.db.session(write=True) as session:
            row = session.get(PackageRequestRow, request_id)
            if row is None:
                raise NotFound(f"package request {request_id} not found")
            to = PackageState.APPROVED if approve else PackageState.REJECTED
            row.state = transition(PackageState(row.state), to, request_id).value
            row.decided_by, row.decided_at, row.note = who.username, now_iso(), note.strip()
            row.updated_at = row.decided_at
            audit_event(
                "package.decide",
                who.username,
                "allowed",
                role="admin",
                target=row.id,
                package=row.name,
                version=row.version,
                decision=to.value,
                note=row.note,
            )
            return _view(row)

    def visible_to(self, who: Principal) -> list[PackageView]:
        """An administrator sees every request; a partner's user its partner's and every
        published package its sandboxes can install (of its scenarios' sets, when
        policy keeps sets per scenario)."""
        with self.db.session() as session:
            query = select(PackageRequestRow).order_by(PackageRequestRow.created_at.desc())
            rows = [_view(r) for r in session.scalars(query)]
        if who.is_admin:
            return rows
        partner = self.policies().partner_of(who.username)
        if partner is None:
            raise Forbidden(f"{who.username} is neither an administrator nor a partner's user")
        policy = self.policies().sandbox.packages
        installable = {set_of(policy, s) for s in self.scenarios_of(who)}
        return [
            r
            for r in rows
            if r.partner == partner.id
            or (r.state is PackageState.PUBLISHED and r.index_set in installable)
        ]

    def published_for(self, scenario: str) -> list[PackageView]:
        """What a production run of `scenario` may install: the published requests of
        the set its sandboxes install from."""
        index_set = set_of(self.policies().sandbox.packages, scenario)
        with self.db.session() as session:
            query = select(PackageRequestRow).where(
                PackageRequestRow.state == PackageState.PUBLISHED.value,
                PackageRequestRow.index_set == index_set,
            )
            return [_view(r) for r in session.scalars(query.order_by(PackageRequestRow.updated_at))]

    def scenarios_of(self, who: Principal) -> list[str]:
        """The scenarios `who` may ask a package for now (none for staff)."""
        return sorted(s.id for s in self.policies().scenarios_for_user(who.username, self.today()))

    def to_fetch(self) -> list[PackageView]:
        """Approved requests whose wheels the host has yet to fetch."""
        with self.db.session() as session:
            query = select(PackageRequestRow).where(
                PackageRequestRow.state == PackageState.APPROVED.value
            )
            return [_view(r) for r in session.scalars(query.order_by(PackageRequestRow.decided_at))]

    def fetched(
        self, request_id: str, *, files: list[WheelRecord], refused: str = ""
    ) -> PackageView:
        """The host's fetch: published with `files`, or failed with why (`refused`)."""
        with self.db.session(write=True) as session:
            row = session.get(PackageRequestRow, request_id)
            if row is None:
                raise NotFound(f"package request {request_id} not found")
            to = PackageState.FAILED if refused else PackageState.PUBLISHED
            row.state = transition(PackageState(row.state), to, request_id).value
            row.files = json.dumps([f.to_json() for f in files])
            if refused:
                row.note = refused
            row.updated_at = now_iso()
            audit_event(
                "package.refuse" if refused else "package.publish",
                "platform",
                "denied" if refused else "allowed",
                target=row.id,
                package=row.name,
                version=row.version,
                files={f.filename: f.sha256 for f in files},
                reason=refused,
            )
            return _view(row)
