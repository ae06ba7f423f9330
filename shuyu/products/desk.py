"""The administrators' side of the product API, as the shuyu service's pages use it:
consumers, agreements and keys (`ProductAccounts`), 事中检查 cases (`CaseDesk`), usage
statements, and which products the product API can serve now (the publications the
service made). The scoring path itself never runs here: it is the product API's own
container (`shuyu.products.serve`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from shuyu.policy.models import Policies, ProductsPolicy
from shuyu.products.accounts import ProductAccounts
from shuyu.products.admins import ADMINS, Caller, Forbidden
from shuyu.products.cases import CaseDesk, Notify
from shuyu.products.clock import Clock
from shuyu.products.keys import KeyHasher
from shuyu.products.published import Publication, current_publication
from shuyu.products.statements import Statement, usage_statement
from shuyu.store.database import Database


class ProductState(BaseModel):
    id: str
    name: str
    name_en: str
    scenario: str
    model: str
    identifier: str
    consent_required: bool
    publication: Publication | None


@dataclass
class ProductDesk:
    db: Database
    products: Callable[[], ProductsPolicy]
    accounts: ProductAccounts
    cases: CaseDesk
    clock: Clock
    published: Path

    def require_admin(self, who: Caller) -> None:
        if ADMINS not in who.groups:
            raise Forbidden(
                f"{who.username} is not an administrator: the product pages are for "
                "数据资源管理局 administrators (仅管理员可查看)"
            )

    def overview(self, who: Caller) -> list[ProductState]:
        self.require_admin(who)
        return [
            ProductState(
                id=p.id,
                name=p.name,
                name_en=p.name_en,
                scenario=p.scenario,
                model=p.model,
                identifier=p.identifier,
                consent_required=p.consent_required,
                publication=current_publication(self.published / p.id),
            )
            for p in self.products().products
        ]

    def statements(self, who: Caller, month: str) -> list[Statement]:
        self.require_admin(who)
        products = {p.id: p for p in self.products().products}
        return [
            usage_statement(self.db, consumer.id, month, clock=self.clock, products=products)
            for consumer in self.accounts.consumers()
        ]

    def statement(self, who: Caller, consumer_id: str, month: str) -> Statement:
        self.require_admin(who)
        self.accounts.consumer(consumer_id)  # NotFound for a stranger
        products = {p.id: p for p in self.products().products}
        return usage_statement(self.db, consumer_id, month, clock=self.clock, products=products)


def product_desk(
    db: Database,
    *,
    policies: Callable[[], Policies],
    products: Callable[[], ProductsPolicy],
    pepper_file: Path,
    published: Path,
    notify: Notify = lambda _notice: None,
) -> ProductDesk:
    clock = Clock(products().monitoring.timezone)
    accounts = ProductAccounts(
        db,
        policies=policies,
        products=products,
        hasher=KeyHasher.from_file(pepper_file),
        clock=clock,
    )
    return ProductDesk(
        db, products, accounts, CaseDesk(db, notify=notify, clock=clock), clock, published
    )
