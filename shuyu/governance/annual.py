"""The annual evaluation (年度评估): the plans' indicators, as figures the platform's
own records prove, and the ones a person must enter.

The bureau evaluates the operator every year on "数据产品数量、安全合规率、用户满意度、
授权运营收入、社会效益" (宿州方案 (4) 评估流程, 考核评估), and on "数据质量与应用成效、
安全合规水平、经济与社会效益" (鄂尔多斯方案 绩效评估). What the platform saw happen is
counted from the hash-chained audit log — the record a third-party auditor verifies —
over the local year (Asia/Shanghai), with each figure's definition beside it
(`DEFINITIONS`); the usage and revenue are the consumers' monthly statements
(`shuyu.products.statements`), the same figures they are billed by. What no record can
hold (user satisfaction, social benefit, the bureau's verdict) is entered by an
administrator (`MANUAL`, audited) and shown as entered, with who entered it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import select

from shuyu.audit.events import audit_event, now_iso
from shuyu.audit.tables import AuditEventRow
from shuyu.errors import InputError
from shuyu.governance.annual_tables import AnnualInputRow
from shuyu.policy.models import ProductsPolicy
from shuyu.production.tables import ProductionJobRow
from shuyu.products.clock import Clock, iso
from shuyu.products.statements import usage_statement, yuan
from shuyu.products.tables import ConsumerRow
from shuyu.review.service import Forbidden, Principal
from shuyu.store.database import Database

E = AuditEventRow
FIRST_YEAR, LAST_YEAR = 2000, 2100


# ---------------------------------------------------------------- definitions


class Definition(BaseModel):
    zh: str
    en: str
    source: str
    """Where the figure comes from: audit actions and outcomes, or a table."""


DEFINITIONS: dict[str, Definition] = {
    "approved_versions": Definition(
        zh="年内经三级评审批准并登记为 approved 的模型版本数",
        en="model versions approved through the review chain and registered as `approved`",
        source="audit: registry.register, allowed",
    ),
    "api_products": Definition(
        zh="年内至少成功评分一个主体的 API 数据产品",
        en="API data products that scored at least one subject",
        source="audit: product.score, result scored",
    ),
    "production_products": Definition(
        zh="年内至少有一次生产产出发布到出口区的场景",
        en="scenarios with at least one production output released to the outbox",
        source="audit: production.run.transition to released; table production_jobs",
    ),
    "data_products": Definition(
        zh="数据产品数量 = API 数据产品数 + 生产产出场景数",
        en="data products = API products + scenarios with released production outputs",
        source="the two figures above",
    ),
    "selfcheck": Definition(
        zh="年内完成的安全自查次数，其中通过的次数及通过率",
        en="self-checks finished, those that passed, and the pass rate",
        source="audit: selfcheck.result (details.status pass / fail)",
    ),
    "production_checked": Definition(
        zh="年内经产出检查的生产运行数（由检查中转为发布或隔离），其中被隔离的次数",
        en="production runs whose outputs were checked (checking → released or quarantined), "
        "and those quarantined",
        source="audit: production.run.transition from checking",
    ),
    "quarantine_decisions": Definition(
        zh="隔离产出经审核员决定发布或销毁的次数",
        en="quarantined outputs a reviewer released or discarded",
        source="audit: production.run.decide (details.release)",
    ),
    "compliance_rate": Definition(
        zh="安全合规率 = （通过的自查 + 未被隔离的生产产出）÷（自查总数 + 经检查的生产产出）："
        "离开数据域之前的模型与产出首次即通过平台自动检查的比例",
        en="compliance rate = (passed self-checks + production outputs not quarantined) ÷ "
        "(self-checks + checked production outputs): the share of models and outputs that "
        "passed the platform's automated check the first time, before leaving the domain",
        source="the figures above",
    ),
    "blocked_keys": Definition(
        zh="年内被事中检查规则自动拦截的 API 密钥（不同密钥数）",
        en="API keys blocked by the 事中检查 rules (distinct keys)",
        source="audit: product.block",
    ),
    "cases": Definition(
        zh="事中检查案件：年内新开、年内结案、年末仍未结案",
        en="事中检查 cases: opened in the year, closed in the year, still open at its end",
        source="audit: product.case (to_state open / closed), counted from the first event",
    ),
    "incidents": Definition(
        zh="安全事件：下列被平台拦截或处置的事件之和（每类单独列出）",
        en="security incidents: the sum of the events below that the platform refused or "
        "acted on (each kind listed)",
        source="audit: the actions and outcomes listed per kind",
    ),
    "usage": Definition(
        zh="调用与收入：各使用单位的月度对账单之和（调用次数、计费次数、金额）",
        en="usage and revenue: the sum of the consumers' monthly statements (calls, billable "
        "calls, amount)",
        source="audit: product.score, as shuyu.products.statements counts it",
    ),
    "subjects": Definition(
        zh="服务主体数：各产品年内成功评分的不同主体（按假名计）",
        en="subjects served: distinct subjects (by pseudonym) each product scored",
        source="audit: product.score, result scored, details.subject",
    ),
    "partners_active": Definition(
        zh="年内启动过数据沙箱的合伙人（机构）",
        en="partners (organisations) whose users started a data sandbox",
        source="audit: sandbox.spawn, allowed, details.partner",
    ),
}


class IncidentKind(BaseModel):
    id: str
    zh: str
    en: str
    action: str
    outcome: Literal["allowed", "denied", "error"]


INCIDENT_KINDS: list[IncidentKind] = [
    IncidentKind(id="key_blocked", zh="事中检查自动拦截密钥", en="keys blocked by monitoring",
                 action="product.block", outcome="allowed"),
    IncidentKind(id="egress_cut", zh="浏览器外传超限、会话中断", en="browser egress over budget, "
                 "session cut", action="sandbox.egress", outcome="denied"),
    IncidentKind(id="download_refused", zh="沙箱下载被拒", en="downloads refused in a sandbox",
                 action="sandbox.download", outcome="denied"),
    IncidentKind(id="upload_refused", zh="沙箱上传被拒", en="uploads refused in a sandbox",
                 action="sandbox.upload", outcome="denied"),
    IncidentKind(id="mlflow_refused", zh="MLflow 越权请求被拒", en="MLflow requests refused",
                 action="mlflow.request", outcome="denied"),
    IncidentKind(id="firewall_deny_all", zh="防火墙转入全拒绝", en="firewall fell back to "
                 "deny-all", action="firewall.deny-all", outcome="allowed"),
    IncidentKind(id="freeze", zh="应急冻结", en="incident freezes", action="freeze.apply",
                 outcome="allowed"),
    IncidentKind(id="audit_chain_broken", zh="审计链校验失败", en="audit chain verification "
                 "failed", action="audit.verify", outcome="error"),
]  # fmt: skip


# ---------------------------------------------------------------- manual indicators


class ManualIndicator(BaseModel):
    id: str
    zh: str
    en: str
    kind: Literal["percent", "amount", "text", "choice"]
    plan: str
    """Where the plans ask for it."""
    choices: dict[str, tuple[str, str]] = Field(default_factory=dict)


MANUAL: list[ManualIndicator] = [
    ManualIndicator(id="user_satisfaction", zh="用户满意度（%）", en="user satisfaction (%)",
                    kind="percent", plan="宿州方案 (4) 评估流程；考核评估 ②"),
    ManualIndicator(id="social_benefit", zh="社会效益", en="social benefit", kind="text",
                    plan="宿州方案 (4)；鄂尔多斯方案 绩效评估（经济与社会效益）"),
    ManualIndicator(id="data_quality", zh="数据质量与应用成效", en="data quality and effect of "
                    "use", kind="text", plan="鄂尔多斯方案 绩效评估"),
    ManualIndicator(id="other_revenue_yuan", zh="平台外授权运营收入（元，如数据交易所场内交易）",
                    en="authorised-operation revenue outside the platform (CNY, e.g. on a data "
                    "exchange)", kind="amount", plan="宿州方案 (4)（授权运营收入）；⑥登记备案"),
    ManualIndicator(id="evaluation_result", zh="评估结果", en="evaluation result", kind="choice",
                    plan="宿州方案 (4)：优秀、合格、不合格；鄂尔多斯方案：通过、限期整改、未通过",
                    choices={"excellent": ("优秀", "excellent"), "pass": ("合格", "pass"),
                             "rectify": ("限期整改", "rectify within 30 days"),
                             "fail": ("不合格", "fail")}),
]  # fmt: skip
MANUAL_BY_ID = {m.id: m for m in MANUAL}


class ManualFigure(BaseModel):
    indicator: str
    zh: str
    en: str
    kind: str
    plan: str
    value: str = ""
    """As entered ("" until someone enters it)."""
    shown_zh: str = ""
    shown_en: str = ""
    note: str = ""
    entered_by: str = ""
    entered_at: str = ""


def _validated(indicator: ManualIndicator, value: str) -> str:
    text = value.strip()
    if not text:
        raise InputError(indicator.id, "a value is required (请填写数值或说明)")
    if indicator.kind in ("percent", "amount"):
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise InputError(indicator.id, "must be a number", value=text) from None
        top = Decimal(100) if indicator.kind == "percent" else Decimal(10) ** 13
        if not (number.is_finite() and 0 <= number <= top):
            raise InputError(indicator.id, f"must be between 0 and {top}", value=text)
        return str(number.quantize(Decimal("0.01")))
    if indicator.kind == "choice":
        if text not in indicator.choices:
            raise InputError(
                indicator.id, "not one of the results", value=text,
                hint="one of " + ", ".join(indicator.choices),
            )  # fmt: skip
        return text
    if len(text) > 4000:
        raise InputError(indicator.id, "at most 4000 characters", value=f"{len(text)} characters")
    return text


def _shown(indicator: ManualIndicator, value: str) -> tuple[str, str]:
    if not value:
        return "待填报", "not entered"
    if indicator.kind == "choice":
        return indicator.choices[value]
    if indicator.kind == "percent":
        return f"{value}%", f"{value}%"
    if indicator.kind == "amount":
        return f"{value} 元", f"CNY {value}"
    return value, value


# ---------------------------------------------------------------- the figures


class Ratio(BaseModel):
    numerator: int
    denominator: int
    rate: float | None
    """numerator ÷ denominator, None when nothing was counted."""


def _ratio(numerator: int, denominator: int) -> Ratio:
    rate = round(numerator / denominator, 4) if denominator else None
    return Ratio(numerator=numerator, denominator=denominator, rate=rate)


class ProductFigures(BaseModel):
    approved_versions: int
    approved: list[str]
    """`<model> v<version>` of each approval, in order."""
    api_products: list[str]
    production_products: list[str]
    data_products: int


class IncidentCount(BaseModel):
    id: str
    zh: str
    en: str
    action: str
    outcome: str
    count: int


class ComplianceFigures(BaseModel):
    selfcheck: Ratio
    """passed ÷ finished"""
    production_checked: int
    production_quarantined: int
    quarantine_released: int
    quarantine_discarded: int
    compliance_rate: Ratio
    blocked_keys: int
    cases_opened: int
    cases_closed: int
    cases_open_at_end: int
    incidents: int
    incident_kinds: list[IncidentCount]


class MonthUsage(BaseModel):
    month: str
    calls: int
    billable: int
    amount_fen: int


class ProductUsage(BaseModel):
    product: str
    name: str
    name_en: str
    calls: int
    billable: int
    amount_fen: int
    subjects: int
    """Distinct subjects scored."""
    consumers: int
    """Distinct consumers billed."""


class UsageFigures(BaseModel):
    calls: int
    billable: int
    amount_fen: int
    amount_yuan: str
    months: list[MonthUsage]
    products: list[ProductUsage]
    consumers_billed: int
    refusals: dict[str, int]
    """Refused product calls by their typed code (informational: not incidents)."""


class AnnualFigures(BaseModel):
    year: int
    timezone: str
    period_start: str
    period_end: str
    """[start, end) as audit-log timestamps (UTC)."""
    generated_at: str
    audit_events: int
    """Events of the year in the audit log (every figure is a count over them)."""
    products: ProductFigures
    compliance: ComplianceFigures
    usage: UsageFigures
    partners_active: list[str]
    definitions: dict[str, Definition] = Field(default_factory=lambda: dict(DEFINITIONS))
    manual: list[ManualFigure]


class AnnualEvaluation:
    def __init__(
        self,
        db: Database,
        *,
        products: Callable[[], ProductsPolicy],
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.products = products
        self.clock = clock or Clock()

    # ------------------------------------------------------------ who may

    @staticmethod
    def _require_admin(who: Principal, action: str, target: str) -> None:
        if not who.is_admin:
            audit_event(action, who.username, "denied", target=target, reason="not an admin")
            raise Forbidden(
                f"{who.username} is not an administrator: the annual evaluation (年度评估) is "
                "the bureau's"
            )

    @staticmethod
    def _year(year: int) -> int:
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise InputError("year", f"must be between {FIRST_YEAR} and {LAST_YEAR}", value=year)
        return year

    def bounds(self, year: int) -> tuple[str, str]:
        """[start, end) of the local year as audit-log timestamps."""
        zone = self.clock.zone
        return (
            iso(dt.datetime(year, 1, 1, tzinfo=zone)),
            iso(dt.datetime(year + 1, 1, 1, tzinfo=zone)),
        )

    # ------------------------------------------------------------ the report

    def report(self, who: Principal, year: int) -> AnnualFigures:
        """The year's figures for an administrator (the reading is audited)."""
        self._require_admin(who, "governance.annual.report", str(year))
        figures = self.figures(year)
        audit_event(
            "governance.annual.report",
            who.username,
            "allowed",
            role="admin",
            target=str(year),
            audit_events=figures.audit_events,
        )
        return figures

    def figures(self, year: int) -> AnnualFigures:
        start, end = self.bounds(self._year(year))
        seen = _Seen()
        for event in self._events(start, end):
            seen.add(event)
        with self.db.engine.connect() as connection:
            closes_before = connection.execute(
                select(E.details).where(E.action == "product.case", E.ts < end)
            )
            opened_ever = closed_ever = 0
            for (details,) in closes_before:
                state = json.loads(details).get("to_state")
                opened_ever += state == "open"
                closed_ever += state == "closed"
        with self.db.session() as session:
            job_scenarios = {
                row.id: row.scenario
                for row in session.execute(select(ProductionJobRow.id, ProductionJobRow.scenario))
            }
            consumers = list(session.scalars(select(ConsumerRow.id).order_by(ConsumerRow.id)))
        production_products = sorted({job_scenarios.get(j, j) for j in seen.released_jobs})
        api_products = sorted(seen.subjects)
        checked = seen.released_from_check + seen.quarantined
        compliance = ComplianceFigures(
            selfcheck=_ratio(seen.selfcheck_passed, seen.selfchecks),
            production_checked=checked,
            production_quarantined=seen.quarantined,
            quarantine_released=seen.decisions[True],
            quarantine_discarded=seen.decisions[False],
            compliance_rate=_ratio(
                seen.selfcheck_passed + seen.released_from_check, seen.selfchecks + checked
            ),
            blocked_keys=len(seen.blocked_keys),
            cases_opened=seen.cases_opened,
            cases_closed=seen.cases_closed,
            cases_open_at_end=opened_ever - closed_ever,
            incidents=sum(seen.incidents.values()),
            incident_kinds=[
                IncidentCount(
                    id=k.id,
                    zh=k.zh,
                    en=k.en,
                    action=k.action,
                    outcome=k.outcome,
                    count=seen.incidents[k.id],
                )
                for k in INCIDENT_KINDS
            ],
        )
        return AnnualFigures(
            year=year,
            timezone=self.clock.timezone,
            period_start=start,
            period_end=end,
            generated_at=iso(self.clock.now()),
            audit_events=seen.count,
            products=ProductFigures(
                approved_versions=len(seen.approved),
                approved=seen.approved,
                api_products=api_products,
                production_products=production_products,
                data_products=len(api_products) + len(production_products),
            ),
            compliance=compliance,
            usage=self._usage(year, consumers, seen),
            partners_active=sorted(seen.partners),
            manual=self.manual(year),
        )

    def _events(self, start: str, end: str) -> Iterator[tuple[str, str, str, str, str]]:
        query = (
            select(E.action, E.outcome, E.actor, E.target, E.details)
            .where(E.ts >= start, E.ts < end)
            .order_by(E.seq)
        )
        with self.db.engine.connect() as connection:
            for row in connection.execution_options(yield_per=5000).execute(query):
                yield (row.action, row.outcome, row.actor, row.target, row.details)

    def _usage(self, year: int, consumers: list[str], seen: _Seen) -> UsageFigures:
        """The consumers' monthly statements, added up: what they are billed by."""
        products = {p.id: p for p in self.products().products}
        months = [f"{year}-{m:02d}" for m in range(1, 13)]
        by_month = {m: [0, 0, 0] for m in months}
        by_product: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        billed: dict[str, set[str]] = defaultdict(set)
        for consumer in consumers:
            for month in months:
                statement = usage_statement(
                    self.db, consumer, month, clock=self.clock, products=products
                )
                for line in statement.lines:
                    for total in (by_month[month], by_product[line.product]):
                        total[0] += line.calls
                        total[1] += line.billable
                        total[2] += line.amount_fen
                    if line.billable:
                        billed[line.product].add(consumer)
        names = {p.id: (p.name, p.name_en) for p in products.values()}
        amount = sum(t[2] for t in by_month.values())
        return UsageFigures(
            calls=sum(t[0] for t in by_month.values()),
            billable=sum(t[1] for t in by_month.values()),
            amount_fen=amount,
            amount_yuan=yuan(amount),
            months=[
                MonthUsage(month=m, calls=t[0], billable=t[1], amount_fen=t[2])
                for m, t in by_month.items()
            ],
            products=[
                ProductUsage(
                    product=p,
                    name=names.get(p, (p, p))[0],
                    name_en=names.get(p, (p, p))[1],
                    calls=t[0],
                    billable=t[1],
                    amount_fen=t[2],
                    subjects=len(seen.subjects.get(p, ())),
                    consumers=len(billed.get(p, ())),
                )
                for p, t in sorted(by_product.items())
            ],
            consumers_billed=len(set().union(*billed.values())) if billed else 0,
            refusals=dict(sorted(seen.refusals.items())),
        )

    # ------------------------------------------------------------ manual figures

    def manual(self, year: int) -> list[ManualFigure]:
        with self.db.session() as session:
            rows = {
                r.indicator: r
                for r in session.scalars(select(AnnualInputRow).where(AnnualInputRow.year == year))
            }
        figures = []
        for indicator in MANUAL:
            row = rows.get(indicator.id)
            shown_zh, shown_en = _shown(indicator, row.value if row else "")
            figures.append(
                ManualFigure(
                    indicator=indicator.id,
                    zh=indicator.zh,
                    en=indicator.en,
                    kind=indicator.kind,
                    plan=indicator.plan,
                    value=row.value if row else "",
                    shown_zh=shown_zh,
                    shown_en=shown_en,
                    note=row.note if row else "",
                    entered_by=row.entered_by if row else "",
                    entered_at=row.entered_at if row else "",
                )
            )
        return figures

    def set_manual(
        self, who: Principal, year: int, indicator_id: str, value: str, note: str = ""
    ) -> ManualFigure:
        """An administrator enters (or corrects) a figure the records cannot compute."""
        self._require_admin(who, "governance.annual.input", f"{year}/{indicator_id}")
        self._year(year)
        indicator = MANUAL_BY_ID.get(indicator_id)
        if indicator is None:
            raise InputError(
                "indicator", "not a manual indicator", value=indicator_id,
                hint="one of " + ", ".join(MANUAL_BY_ID),
            )  # fmt: skip
        checked = _validated(indicator, value)
        if len(note) > 2000:
            raise InputError("note", "at most 2000 characters", value=f"{len(note)} characters")
        with self.db.session(write=True) as session:
            row = session.get(AnnualInputRow, (year, indicator_id))
            before = row.value if row is not None else None
            if row is None:
                row = AnnualInputRow(year=year, indicator=indicator_id)
                session.add(row)
            row.value, row.note = checked, note.strip()
            row.entered_by, row.entered_at = who.username, now_iso()
            audit_event(
                "governance.annual.input",
                who.username,
                "allowed",
                role="admin",
                target=f"{year}/{indicator_id}",
                before=before,
                after=checked,
                note=row.note,
            )
        (figure,) = [f for f in self.manual(year) if f.indicator == indicator_id]
        return figure


class _Seen:
    """What one pass over the year's events counted."""

    def __init__(self) -> None:
        self.count = 0
        self.approved: list[str] = []
        self.subjects: dict[str, set[str]] = defaultdict(set)
        self.released_jobs: set[str] = set()
        self.selfchecks = self.selfcheck_passed = 0
        self.released_from_check = self.quarantined = 0
        self.decisions: Counter[bool] = Counter()
        self.blocked_keys: set[str] = set()
        self.cases_opened = self.cases_closed = 0
        self.incidents: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.partners: set[str] = set()
        self._kinds: dict[tuple[str, str], str] = {
            (k.action, k.outcome): k.id for k in INCIDENT_KINDS
        }

    def add(self, event: tuple[str, str, str, str, str]) -> None:
        action, outcome, _actor, target, text = event
        self.count += 1
        kind = self._kinds.get((action, outcome))
        if kind is not None:
            self.incidents[kind] += 1
        handler = _HANDLERS.get(action)
        if handler is not None:
            handler(self, outcome, target, json.loads(text))


def _registered(seen: _Seen, outcome: str, target: str, details: dict[str, Any]) -> None:
    if outcome == "allowed":
        seen.approved.append(f"{details.get('model', target)} v{details.get('version', '?')}")


def _scored(seen: _Seen, outcome: str, target: str, details: dict[str, Any]) -> None:
    result = str(details.get("result", ""))
    if result == "scored":
        seen.subjects[str(details.get("product", ""))].add(str(details.get("subject", "")))
    elif outcome == "denied":
        seen.refusals[result] += 1


def _run_transition(seen: _Seen, outcome: str, target: str, details: dict[str, Any]) -> None:
    to = details.get("to_state")
    if to == "released":
        seen.released_jobs.add(str(details.get("job", "")))
    if details.get("from_state") == "checking":
        seen.released_from_check += to == "released"
        seen.quarantined += to == "quarantined"


def _decided(seen: _Seen, outcome: str, target: str, details: dict[str, Any]) -> None:
    if outcome == "allowed":
        seen.decisions[bool(details.get("release"))] += 1


def _selfcheck(seen: _Seen, outcome: str, target: str, details: dict[str, Any]) -> None:
    seen.selfchecks += 1
    seen.selfcheck_passed += details.get("status") == "pass"


def _blocked(seen: _Seen, outcome: str, target: str, details: dict[str, Any]) -> None:
    seen.blocked_keys.add(target)


def _case(seen: _Seen, outcome: str, target: str, details: dict[str, Any]) -> None:
    seen.cases_opened += details.get("to_state") == "open"
    seen.cases_closed += details.get("to_state") == "closed"


def _spawned(seen: _Seen, outcome: str, target: str, details: dict[str, Any]) -> None:
    if outcome == "allowed" and details.get("partner"):
        seen.partners.add(str(details["partner"]))


_HANDLERS: dict[str, Callable[[_Seen, str, str, dict[str, Any]], None]] = {
    "registry.register": _registered,
    "product.score": _scored,
    "production.run.transition": _run_transition,
    "production.run.decide": _decided,
    "selfcheck.result": _selfcheck,
    "product.block": _blocked,
    "product.case": _case,
    "sandbox.spawn": _spawned,
}
