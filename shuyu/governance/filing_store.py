"""Filings in the service's database: recorded in a transaction with their audit event,
read back with their content; the latest filing of a product is the one in force."""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, func, select, text

from shuyu.audit.events import audit_event, now_iso
from shuyu.governance.filing import FilingContent
from shuyu.governance.tables import FilingRow
from shuyu.store.database import Database


class FilingView(BaseModel):
    id: str
    product: str
    sequence: int
    scenario: str
    partner: str
    model_version: str
    fingerprint: str
    note: str
    filed_by: str
    filed_at: str
    content: FilingContent


def _view(row: FilingRow) -> FilingView:
    return FilingView(
        id=row.id,
        product=row.product,
        sequence=row.sequence,
        scenario=row.scenario,
        partner=row.partner,
        model_version=row.model_version,
        fingerprint=row.fingerprint,
        note=row.note,
        filed_by=row.filed_by,
        filed_at=row.filed_at,
        content=FilingContent.model_validate_json(row.content),
    )


def record_filing(db: Database, actor: str, content: FilingContent, note: str) -> FilingView:
    """File `content` as the product's next filing (a re-filing when one exists)."""
    with db.session(write=True) as session:
        last = session.scalar(
            select(func.max(FilingRow.sequence)).where(FilingRow.product == content.product)
        )
        sequence = (last or 0) + 1
        row = FilingRow(
            id=f"F{now_iso()[:10].replace('-', '')}-{secrets.token_hex(4)}",
            product=content.product,
            sequence=sequence,
            scenario=content.scenario,
            partner=content.partner,
            model_version=content.model_version,
            fingerprint=content.fingerprint,
            content=content.canonical(),
            note=note,
            filed_by=actor,
            filed_at=now_iso(),
        )
        session.add(row)
        audit_event(
            "filing.refile" if sequence > 1 else "filing.create",
            actor,
            "allowed",
            role="admin",
            target=row.id,
            product=content.product,
            scenario=content.scenario,
            sequence=sequence,
            model_version=content.model_version,
            fingerprint=row.fingerprint,
            report_sha256=content.selfcheck_report_sha256,
            notebook_sha256=content.production_notebook_sha256,
        )
        return _view(row)


def latest_filing(db: Database, product: str) -> FilingView | None:
    with db.session() as session:
        row = session.scalars(
            select(FilingRow)
            .where(FilingRow.product == product)
            .order_by(FilingRow.sequence.desc())
            .limit(1)
        ).first()
        return None if row is None else _view(row)


def filing_by_id(db: Database, filing_id: str) -> FilingView | None:
    with db.session() as session:
        row = session.get(FilingRow, filing_id)
        return None if row is None else _view(row)


def filing_history(db: Database, product: str | None = None) -> list[FilingView]:
    with db.session() as session:
        query = select(FilingRow).order_by(FilingRow.product, FilingRow.sequence.desc())
        if product:
            query = query.where(FilingRow.product == product)
        return [_view(r) for r in session.scalars(query)]


_LATEST = text(
    "SELECT f.product, f.fingerprint, f.content FROM filings f "
    "JOIN (SELECT product, MAX(sequence) AS sequence FROM filings GROUP BY product) m "
    "ON m.product = f.product AND m.sequence = f.sequence"
)


def latest_fingerprints(connection: Connection) -> dict[str, tuple[str, str]]:
    """(fingerprint, content JSON) of every product's filing in force: one query."""
    rows: Any = connection.execute(_LATEST)
    return {r.product: (r.fingerprint, r.content) for r in rows}
