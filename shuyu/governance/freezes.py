"""Incident freezes (应急处置): an administrator freezes a partner, a scenario, a product,
a consumer or the whole platform in one action, with the reason; lifting it is another.

A freeze is one row; every part that acts reads the active ones and refuses:
- the hub's spawner refuses a new sandbox of a frozen partner or scenario (or any, when
  the platform is frozen), and its watch stops running ones within its interval;
- production refuses to start a run of a frozen scope (`FailureReason.FROZEN`), so
  scheduled runs stop until the freeze is lifted;
- the product API refuses calls to a frozen product, or by a frozen consumer, or on a
  frozen partner's or scenario's model (code `frozen`), within seconds.
A product scope names an API product (`enterprise_credit`) or a registered model
(`bank_credit.suzhou_rcb`, which covers every API product and job that uses it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import Connection, text

from shuyu.errors import InputError
from shuyu.governance.tables import FreezeRow
from shuyu.store.database import shared_database


class FreezeKind(StrEnum):
    PARTNER = "partner"
    SCENARIO = "scenario"
    PRODUCT = "product"
    CONSUMER = "consumer"
    PLATFORM = "platform"

    @property
    def zh(self) -> str:
        return {
            "partner": "合伙人",
            "scenario": "场景",
            "product": "数据产品",
            "consumer": "使用单位",
            "platform": "整个平台",
        }[self.value]


_TARGET = re.compile(r"^[a-z][a-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Scope:
    kind: FreezeKind
    target: str = ""

    @classmethod
    def parse(cls, text_: str) -> Scope:
        """`partner:ID`, `scenario:ID`, `product:ID`, `consumer:ID` or `platform`."""
        kind_text, _, target = text_.strip().partition(":")
        try:
            kind = FreezeKind(kind_text)
        except ValueError:
            raise InputError(
                "scope",
                "is partner:ID, scenario:ID, product:ID, consumer:ID or platform",
                value=text_,
            ) from None
        if kind is FreezeKind.PLATFORM:
            if target:
                raise InputError("scope", "platform takes no id", value=text_)
            return cls(kind)
        if not _TARGET.match(target):
            raise InputError("scope", f"{kind.value} needs an id, e.g. {kind.value}:ID",
                             value=text_)  # fmt: skip
        return cls(kind, target)

    @property
    def label(self) -> str:
        return self.kind.value if self.kind is FreezeKind.PLATFORM else f"{self.kind}:{self.target}"

    @property
    def label_zh(self) -> str:
        return self.kind.zh if self.kind is FreezeKind.PLATFORM else f"{self.kind.zh} {self.target}"


class FreezeView(BaseModel):
    id: str
    kind: str
    target: str
    scope: str
    reason: str
    active: bool
    applied_by: str
    applied_at: str
    lifted_by: str
    lifted_at: str
    lift_reason: str

    @property
    def notice_zh(self) -> str:
        return (
            f"已按应急处置冻结（{Scope(FreezeKind(self.kind), self.target).label_zh}，"
            f"编号 {self.id}）：{self.reason}"
        )

    @property
    def notice_en(self) -> str:
        return f"frozen by the incident procedure ({self.scope}, {self.id}): {self.reason}"


def freeze_view(row: FreezeRow) -> FreezeView:
    scope = Scope(FreezeKind(row.kind), row.target)
    return FreezeView(
        id=row.id,
        kind=row.kind,
        target=row.target,
        scope=scope.label,
        reason=row.reason,
        active=bool(row.active),
        applied_by=row.applied_by,
        applied_at=row.applied_at,
        lifted_by=row.lifted_by,
        lifted_at=row.lifted_at,
        lift_reason=row.lift_reason,
    )


# ---------------------------------------------------------------- which freeze applies


def matching(
    freezes: Iterable[FreezeView],
    *,
    partner: str = "",
    scenario: str = "",
    products: Iterable[str] = (),
    consumer: str = "",
) -> FreezeView | None:
    """The first active freeze that covers any of the named things (the platform's
    covers everything)."""
    wanted = {
        FreezeKind.PARTNER: {partner} - {""},
        FreezeKind.SCENARIO: {scenario} - {""},
        FreezeKind.PRODUCT: set(products) - {""},
        FreezeKind.CONSUMER: {consumer} - {""},
    }
    for freeze in freezes:
        kind = FreezeKind(freeze.kind)
        if not freeze.active:
            continue
        if kind is FreezeKind.PLATFORM or freeze.target in wanted[kind]:
            return freeze
    return None


def model_scope(model_name: str) -> tuple[str, str]:
    """(scenario, partner) of a registered model `<scenario>.<partner>`."""
    scenario, _, partner = model_name.partition(".")
    return scenario, partner


_ACTIVE = text(
    "SELECT id, kind, target, reason, active, applied_by, applied_at, lifted_by, lifted_at, "
    "lift_reason FROM freezes WHERE active = 1 ORDER BY applied_at"
)


def active_freezes(connection: Connection) -> list[FreezeView]:
    """Every active freeze: one query (the gates call it every few seconds)."""
    return [
        FreezeView(
            id=r.id,
            kind=r.kind,
            target=r.target,
            scope=Scope(FreezeKind(r.kind), r.target).label,
            reason=r.reason,
            active=True,
            applied_by=r.applied_by,
            applied_at=r.applied_at,
            lifted_by=r.lifted_by,
            lifted_at=r.lifted_at,
            lift_reason=r.lift_reason,
        )
        for r in connection.execute(_ACTIVE)
    ]


def read_active_freezes(db_url: str) -> list[FreezeView]:
    """The active freezes in the platform database at `db_url` (the hub's reading: one
    engine per URL for the life of the process)."""
    with shared_database(db_url).engine.connect() as connection:
        return active_freezes(connection)
