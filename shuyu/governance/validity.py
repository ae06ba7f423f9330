"""How long each authorisation and agreement has left, and what that makes it.

The plans give an operator's authorisation three years and ask for the renewal six
months before it ends (宿州方案 4. 授权运营期限: "期限届满前6个月提交续期申请"); a
consumer's usage agreement (使用协议) carries its own term. Both are listed here the
same way: days left and a standing — valid, renew soon (within six months of the last
valid day), expired (the day after it). The last valid day is the one the platform's
checks use: `Scenario.is_valid_on` and the product gateway refuse from the next day.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select

from shuyu.policy.models import Policies, ProductsPolicy
from shuyu.products.tables import AgreementRow, ConsumerRow
from shuyu.store.database import Database

RENEW_AHEAD_MONTHS = 6


class Standing(StrEnum):
    VALID = "valid"
    RENEW_SOON = "renew_soon"
    EXPIRED = "expired"

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def en(self) -> str:
        return _EN[self]


_ZH = {Standing.VALID: "有效", Standing.RENEW_SOON: "即将到期，请续期", Standing.EXPIRED: "已到期"}
_EN = {Standing.VALID: "valid", Standing.RENEW_SOON: "renew soon", Standing.EXPIRED: "expired"}


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` calendar months earlier (the month's last day if shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for last in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def standing(expires_on: dt.date, today: dt.date) -> Standing:
    if today > expires_on:
        return Standing.EXPIRED
    if today >= months_before(expires_on, RENEW_AHEAD_MONTHS):
        return Standing.RENEW_SOON
    return Standing.VALID


class ValidityItem(BaseModel):
    """One authorisation (a scenario granted to its partners) or one agreement (a
    consumer's, for one product)."""

    kind: Literal["authorisation", "agreement"]
    id: str
    """`<scenario>` or `<consumer>/<product>`."""
    name: str
    name_en: str
    holders: list[str]
    """The partners (an authorisation) or the consumer (an agreement)."""
    scenario: str
    valid_from: dt.date
    expires_on: dt.date
    """The last valid day."""
    days_left: int
    """Days from today to the last valid day: 0 on it, negative once expired."""
    standing: Standing
    standing_zh: str
    renew_from: dt.date
    """The day the renewal reminder is due (six months before the last valid day)."""


def _item(
    kind: Literal["authorisation", "agreement"],
    item_id: str,
    *,
    names: tuple[str, str],
    holders: list[str],
    scenario: str,
    period: tuple[dt.date, dt.date],
    today: dt.date,
) -> ValidityItem:
    valid_from, expires_on = period
    now = standing(expires_on, today)
    return ValidityItem(
        kind=kind,
        id=item_id,
        name=names[0],
        name_en=names[1],
        holders=holders,
        scenario=scenario,
        valid_from=valid_from,
        expires_on=expires_on,
        days_left=(expires_on - today).days,
        standing=now,
        standing_zh=now.zh,
        renew_from=months_before(expires_on, RENEW_AHEAD_MONTHS),
    )


def authorisations(policies: Policies, today: dt.date) -> list[ValidityItem]:
    """Every scenario's authorisation: one term for all of its partners."""
    return [
        _item(
            "authorisation",
            s.id,
            names=(s.name, s.name_en),
            holders=list(s.partners),
            scenario=s.id,
            period=(s.granted_on, s.expires_on),
            today=today,
        )
        for s in sorted(policies.scenarios.values(), key=lambda s: s.id)
    ]


def agreements(db: Database, products: ProductsPolicy, today: dt.date) -> list[ValidityItem]:
    """Every agreement in force or past its term (a terminated one is no longer
    anyone's to renew)."""
    names = {p.id: (p.name, p.name_en) for p in products.products}
    with db.session() as session:
        consumers = {c.id: c for c in session.scalars(select(ConsumerRow))}
        rows = list(
            session.scalars(
                select(AgreementRow)
                .where(AgreementRow.status == "active")
                .order_by(AgreementRow.consumer_id, AgreementRow.product)
            )
        )
    items = []
    for row in rows:
        consumer = consumers.get(row.consumer_id)
        product_zh, product_en = names.get(row.product, (row.product, row.product))
        items.append(
            _item(
                "agreement",
                f"{row.consumer_id}/{row.product}",
                names=(
                    f"{consumer.name if consumer else row.consumer_id} · {product_zh}",
                    f"{consumer.name_en if consumer else row.consumer_id} · {product_en}",
                ),
                holders=[row.consumer_id],
                scenario=row.scenario,
                period=(
                    dt.date.fromisoformat(row.valid_from),
                    dt.date.fromisoformat(row.valid_until),
                ),
                today=today,
            )
        )
    return items
