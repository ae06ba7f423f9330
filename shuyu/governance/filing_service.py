"""Filing as administrators do it: file (or re-file) a product from its live records,
see every product's filing status, export a filing. Only the `admins` group files;
every filing and re-filing is an audit event (`shuyu.governance.filing_store`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field
from sqlalchemy import select

from shuyu.audit.events import audit_event
from shuyu.errors import InputError, ShuyuError
from shuyu.governance.filing import FilingContent
from shuyu.governance.filing_check import (
    FilingStatus,
    compare,
    live_content,
    production_notebook_sha256,
)
from shuyu.governance.filing_store import (
    FilingView,
    filing_by_id,
    filing_history,
    latest_filing,
    record_filing,
)
from shuyu.policy.models import Policies, ProductsPolicy
from shuyu.production.tables import ProductionJobRow
from shuyu.registry.approved import ApprovedModel, ModelChanged, NotApproved
from shuyu.review.service import Forbidden, NotFound, Principal
from shuyu.store.database import Database

MODEL_NAME = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"


class ApprovedModels(Protocol):
    def approved(self, model_name: str) -> ApprovedModel: ...


class FilingRequest(BaseModel):
    product: str = Field(pattern=MODEL_NAME, description="the registered model, scenario.partner")
    note: str = Field(default="", max_length=4000)


class ProductFiling(BaseModel):
    """One product's filing status for the admin pages."""

    product: str
    state: str
    state_zh: str
    reason_zh: str
    reason_en: str
    changed: list[str]
    filed: FilingView | None


class FilingService:
    def __init__(
        self,
        db: Database,
        policies: Callable[[], Policies],
        products: Callable[[], ProductsPolicy],
        models: ApprovedModels,
        *,
        notebooks: Path | None = None,
    ) -> None:
        self.db = db
        self.policies = policies
        self.products = products
        self.models = models
        self.notebooks = notebooks

    @staticmethod
    def _require_admin(who: Principal, action: str) -> None:
        if not who.is_admin:
            audit_event("filing.create", who.username, "denied", reason=f"not an admin: {action}")
            raise Forbidden(f"{who.username} is not in admins: filing (登记备案) is theirs")

    def current(self, product: str) -> FilingContent:
        """The filing the live records make now: the approved version (verified), the
        policies, the shipped production notebook."""
        try:
            approved = self.models.approved(product)
        except (NotApproved, ModelChanged) as exc:
            raise InputError("product", f"has no verified approved version: {exc}",
                             value=product) from None  # fmt: skip
        content, problem = live_content(
            self.policies(),
            self.products().products,
            record=approved.record,
            model_version=approved.model.version.version,
            notebook_sha256=production_notebook_sha256(approved.record.scenario, self.notebooks),
        )
        if content is None:
            raise InputError("product", problem, value=product)
        return content

    def file(self, who: Principal, request: FilingRequest) -> FilingView:
        """File the product, or re-file it when what was filed changed; a filing that is
        current already is not filed twice."""
        self._require_admin(who, f"file {request.product}")
        content = self.current(request.product)
        previous = latest_filing(self.db, request.product)
        if previous is not None and previous.fingerprint == content.fingerprint:
            raise InputError(
                "product",
                f"is filed already and its filing {previous.id} is current "
                f"(fingerprint {previous.fingerprint[:12]}…)",
                value=request.product,
                hint="re-file only after what was filed changed",
            )
        return record_filing(self.db, who.username, content, request.note)

    def status(self, product: str) -> FilingStatus:
        filed = latest_filing(self.db, product)
        try:
            current: FilingContent | None = self.current(product)
            problem = ""
        except ShuyuError as exc:
            # one product the registry cannot vouch for now (never registered by the gate:
            # MLflow answers 403; the registry down) is that product's problem, not the page's
            current, problem = None, str(exc)
        return compare(
            product,
            current,
            (filed.fingerprint, filed.content.canonical()) if filed else None,
            problem,
        )

    def candidates(self) -> list[str]:
        """Products to show: every one filed, served by an API product or run by a job."""
        names = {p.model for p in self.products().products}
        names |= {f.product for f in filing_history(self.db)}
        with self.db.session() as session:
            names |= {n for n in session.scalars(select(ProductionJobRow.model_name)) if n}
        return sorted(names)

    def overview(self, who: Principal) -> list[ProductFiling]:
        self._require_admin(who, "list filings")
        found: list[ProductFiling] = []
        for product in self.candidates():
            status = self.status(product)
            found.append(
                ProductFiling(
                    product=product,
                    state=status.state.value,
                    state_zh=status.state.zh,
                    reason_zh=status.reason_zh,
                    reason_en=status.reason_en,
                    changed=status.changed,
                    filed=latest_filing(self.db, product),
                )
            )
        return found

    def history(self, who: Principal, product: str | None = None) -> list[FilingView]:
        self._require_admin(who, "list filings")
        return filing_history(self.db, product)

    def get(self, who: Principal, filing_id: str) -> FilingView:
        self._require_admin(who, f"show {filing_id}")
        found = filing_by_id(self.db, filing_id)
        if found is None:
            raise NotFound(f"filing {filing_id} not found")
        return found

    def exported(self, who: Principal, filing_id: str, form: str) -> FilingView:
        """A filing for export, the export audited (what left the platform, to whom)."""
        found = self.get(who, filing_id)
        audit_event(
            "filing.export", who.username, "allowed", role="admin", target=filing_id, form=form
        )
        return found
