"""What production asks before a run starts: is the job's scope frozen, and is the
product's filing in force for the model and the notebook the run would use? Read from
the database at each run (runs are minutes apart, the answer must be today's)."""

from __future__ import annotations

from collections.abc import Callable

from shuyu.governance.filing_check import FilingStatus, filing_status
from shuyu.governance.freezes import active_freezes, matching
from shuyu.policy.models import ApiProduct, Policies
from shuyu.registry.approval import ApprovalRecord
from shuyu.store.database import Database


def _shipped_products(policies: Policies) -> list[ApiProduct]:
    from shuyu.products.policy import load_products_policy  # noqa: PLC0415

    return load_products_policy(policies).products


class ProductionGate:
    def __init__(
        self,
        db: Database,
        api_products: Callable[[Policies], list[ApiProduct]] = _shipped_products,
    ) -> None:
        self.db = db
        self.api_products = api_products

    def frozen(
        self, policies: Policies, scenario: str, partner: str, model_name: str
    ) -> str | None:
        """Why a run of this job may not start because of a freeze, or None: its
        partner, scenario, model or an API product serving that model is frozen."""
        products = [model_name] if model_name else []
        if model_name:
            products += [p.id for p in self.api_products(policies) if p.model == model_name]
        with self.db.engine.connect() as connection:
            found = matching(
                active_freezes(connection),
                partner=partner or model_name.partition(".")[2],
                scenario=scenario,
                products=products,
            )
        return None if found is None else f"{found.notice_zh} / {found.notice_en}"

    def filing(
        self,
        policies: Policies,
        record: ApprovalRecord,
        model_version: str,
        notebook_sha256: str,
    ) -> FilingStatus:
        return filing_status(
            self.db,
            policies,
            self.api_products(policies),
            record=record,
            model_version=model_version,
            notebook_sha256=notebook_sha256,
        )
