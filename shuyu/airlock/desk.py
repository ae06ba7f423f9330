"""The airlock's desk: a partner's user uploads, the data provider's reviewer decides,
and what was approved is placed (code and notebooks by the service at once; tables by
the host's `shuyu airlock process`, which alone holds the masking key). Each step a
transaction and an audit event carrying the file's sha256.

The uploaded bytes are kept in the service's own files (never mounted into a sandbox)
until they are placed; a refused upload is not kept at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import select

from shuyu.airlock.scan import scan_upload
from shuyu.airlock.states import LABELS, ImportState, transition
from shuyu.airlock.tables import ImportRow
from shuyu.audit.events import audit_event, now_iso
from shuyu.errors import InputError
from shuyu.fsutil import atomic_write_bytes
from shuyu.policy.models import Policies
from shuyu.review.partner_scope import partner_for
from shuyu.review.service import Forbidden, NotFound, Principal
from shuyu.store.database import Database

PROVIDER_REVIEWERS = "reviewers_provider"  # the data provider's level of the review chain
IMPORTS = "imports"  # the folder in the workspace where imports are placed
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

Placer = Callable[[str, str, dict[str, bytes]], None]
"""(username, scenario, {path in the workspace: bytes}): writes into that workspace."""


@dataclass(frozen=True)
class ImportView:
    id: str
    partner: str
    requester: str
    scenario: str
    filename: str
    kind: str
    size: int
    sha256: str
    purpose: str
    state: ImportState
    problems: tuple[str, ...]
    reviewer: str
    decided_at: str
    note: str
    placed_as: str
    created_at: str

    def label(self, en: bool) -> str:
        return LABELS[self.state][1 if en else 0]


def _view(row: ImportRow) -> ImportView:
    scan = json.loads(row.scan)
    return ImportView(
        id=row.id,
        partner=row.partner,
        requester=row.requester,
        scenario=row.scenario,
        filename=row.filename,
        kind=row.kind,
        size=row.size,
        sha256=row.sha256,
        purpose=row.purpose,
        state=ImportState(row.state),
        problems=tuple(scan.get("problems", [])),
        reviewer=row.reviewer,
        decided_at=row.decided_at,
        note=row.note,
        placed_as=row.placed_as,
        created_at=row.created_at,
    )


def placed_name(row_id: str, filename: str, *, joined: bool = False) -> str:
    """Where an import lands in the workspace (relative to its top)."""
    if joined:
        return f"{IMPORTS}/{row_id}-{PurePosixPath(filename).stem}.joined.parquet"
    return f"{IMPORTS}/{row_id}-{filename}"


class AirlockDesk:
    def __init__(
        self,
        db: Database,
        policies: Callable[[], Policies],
        files: Path,
        place: Placer,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.db = db
        self.policies = policies
        self.files = files
        self.place = place
        self.today = today

    def _stored(self, row_id: str, filename: str) -> Path:
        return self.files / "airlock" / row_id / filename

    def upload(
        self, who: Principal, scenario: str, filename: str, data: bytes, purpose: str
    ) -> ImportView:
        policies = self.policies()
        partner = partner_for(policies, who, scenario, self.today(), action="airlock.upload")
        name = SAFE_NAME.sub("_", PurePosixPath(filename).name).strip("._")[:120]
        if not name:
            raise InputError("file", "has no usable name", value=filename)
        if len(purpose.strip()) < 4:
            raise InputError("purpose", "say what the file is for (at least 4 characters)",
                             value=purpose)  # fmt: skip
        scan = scan_upload(name, data, policies.sandbox.airlock)
        digest = hashlib.sha256(data).hexdigest()
        state = ImportState.REFUSED if scan.problems else ImportState.PENDING
        ts = now_iso()
        row = ImportRow(
            id=f"I{ts[:10].replace('-', '')}-{secrets.token_hex(4)}",
            partner=partner.id,
            requester=who.username,
            scenario=scenario,
            filename=name,
            kind=scan.kind,
            size=len(data),
            sha256=digest,
            purpose=purpose.strip(),
            state=state.value,
            scan=json.dumps({"problems": scan.problems, **scan.summary}, ensure_ascii=False),
            reviewer="",
            decided_at="",
            note="",
            placed_as="",
            created_at=ts,
            updated_at=ts,
        )
        if state is ImportState.PENDING:
            atomic_write_bytes(self._stored(row.id, name), data)
        with self.db.session(write=True) as session:
            session.add(row)
            audit_event(
                "airlock.upload",
                who.username,
                "denied" if scan.problems else "allowed",
                role="partner",
                target=row.id,
                file=name,
                sha256=digest,
                size=len(data),
                kind=scan.kind,
                scenario=scenario,
                problems=scan.problems,
            )
            return _view(row)

    def decide(self, who: Principal, import_id: str, *, approve: bool, note: str) -> ImportView:
        with self.db.session(write=True) as session:
            row = session.get(ImportRow, import_id)
            if row is None:
                raise NotFound(f"import {import_id} not found")
            if PROVIDER_REVIEWERS not in who.groups or who.username == row.requester:
                audit_event("airlock.decide", who.username, "denied", target=import_id,
                            reason="not the data provider's reviewer")  # fmt: skip
                raise Forbidden(
                    f"{who.username} may not decide: imports are reviewed by the data "
                    f"provider's level ({PROVIDER_REVIEWERS}), never by who uploaded them"
                )
            if not approve and len(note.strip()) < 4:
                raise InputError("note", "say why it is rejected (at least 4 characters): "
                                 "the partner reads it", value=note)  # fmt: skip
            to = ImportState.APPROVED if approve else ImportState.REJECTED
            row.state = transition(ImportState(row.state), to, import_id).value
            row.reviewer, row.decided_at, row.note = who.username, now_iso(), note.strip()
            row.updated_at = row.decided_at
            audit_event("airlock.decide", who.username, "allowed", role="reviewer",
                        target=row.id, decision=to.value, sha256=row.sha256,
                        note=row.note)  # fmt: skip
            if to is ImportState.REJECTED:
                self._stored(row.id, row.filename).unlink(missing_ok=True)
            kind, requester, scenario, filename = (
                row.kind, row.requester, row.scenario, row.filename
            )  # fmt: skip
        if to is ImportState.APPROVED and kind != "table":
            data = self._stored(import_id, filename).read_bytes()
            where = placed_name(import_id, filename)
            self.place(requester, scenario, {where: data})
            return self.placed(import_id, where)
        return self.get(import_id)

    def get(self, import_id: str) -> ImportView:
        with self.db.session() as session:
            row = session.get(ImportRow, import_id)
            if row is None:
                raise NotFound(f"import {import_id} not found")
            return _view(row)

    def visible_to(self, who: Principal) -> list[ImportView]:
        """The provider's reviewers and administrators see every import; a partner's
        user its partner's."""
        with self.db.session() as session:
            query = select(ImportRow).order_by(ImportRow.created_at.desc())
            rows = [_view(r) for r in session.scalars(query)]
        if who.is_admin or PROVIDER_REVIEWERS in who.groups:
            return rows
        partner = self.policies().partner_of(who.username)
        if partner is None:
            raise Forbidden(f"{who.username} is neither a reviewer nor a partner's user")
        return [r for r in rows if r.partner == partner.id]

    def scenarios_of(self, who: Principal) -> list[str]:
        return sorted(s.id for s in self.policies().scenarios_for_user(who.username, self.today()))

    def to_place(self) -> list[ImportView]:
        """Approved imports not yet placed, for the host: every table (pseudonymised and
        joined with the masking key), and code whose placing at approval failed (the
        engine was down): approved is never left stuck."""
        with self.db.session() as session:
            query = select(ImportRow).where(ImportRow.state == ImportState.APPROVED.value)
            return [_view(r) for r in session.scalars(query.order_by(ImportRow.decided_at))]

    def content(self, import_id: str) -> bytes:
        view = self.get(import_id)
        return self._stored(view.id, view.filename).read_bytes()

    def placed(self, import_id: str, where: str, *, failure: str = "") -> ImportView:
        """Placed at `where` in the workspace, or failed with why; the upload's bytes go."""
        with self.db.session(write=True) as session:
            row = session.get(ImportRow, import_id)
            if row is None:
                raise NotFound(f"import {import_id} not found")
            to = ImportState.FAILED if failure else ImportState.PLACED
            row.state = transition(ImportState(row.state), to, import_id).value
            row.placed_as = "" if failure else f"/home/jovyan/{where}"
            if failure:
                row.note = failure
            row.updated_at = now_iso()
            audit_event("airlock.place", "platform", "error" if failure else "allowed",
                        target=row.id, sha256=row.sha256, placed_as=row.placed_as,
                        reason=failure)  # fmt: skip
            self._stored(row.id, row.filename).unlink(missing_ok=True)
            return _view(row)
