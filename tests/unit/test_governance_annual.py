"""The annual evaluation (年度评估) on a real database (SQLite and PostgreSQL), from a
year the real services lived through: submissions checked and approved, production runs
released and quarantined, product calls scored, refused and blocked, a 事中检查 case
opened and closed. Every figure is checked twice: against what the year's script did,
and against a count made here, independently, from the audit log's rows."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from shuyu.audit import events as audit_events
from shuyu.audit.tables import AuditEventRow
from shuyu.errors import InputError
from shuyu.governance.annual import AnnualEvaluation, AnnualFigures
from shuyu.governance.annual_report import annual_html, annual_json
from shuyu.governance.lifecycle import Lifecycle
from shuyu.production.service import JobRequest, ProductionService
from shuyu.production.states import RunState
from shuyu.products.api import products_router
from shuyu.products.case_states import Resolution
from shuyu.products.clock import iso
from shuyu.products.service import ProductService
from shuyu.review.rules import Decision
from shuyu.review.service import Forbidden, Principal, ReviewService
from shuyu.selfcheck.result import Status
from shuyu.store.database import Database
from shuyu.web.app import create_app
from shuyu.web.auth import COOKIE, HubIdentity
from tests.unit.product_world import Now, World, build_world, product_service
from tests.unit.test_production_service import (
    MODEL,
    OPERATOR,
    RESIDENT_ID,
    REVIEWER,
    Registry,
    Runner,
    Volumes,
    _notebook,
)
from tests.unit.test_products_api import ADMIN, bearer, consumer, known_usccs
from tests.unit.test_products_monitor import ask, blocked_case, sequential_usccs
from tests.unit.test_review_service import (
    BUREAU,
    EXPERT,
    EXPERT2,
    PARTNER,
    POLICIES,
    PROVIDER,
    _service,
    _submit,
)
from tests.unit.test_web_routes import PREFIX, HubTokens

SCORE = "/api/v1/products/enterprise_credit/score"
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")
ADMIN_PRINCIPAL = Principal("admin", frozenset({"admins"}))


def _local(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=ZONE)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("annual"))


@dataclass
class Year:
    review: ReviewService
    production: ProductionService
    products: ProductService
    annual: AnnualEvaluation
    now: Now


def _live_a_year(
    database: Database, tmp_path: Path, world: World, now: Now
) -> tuple[ReviewService, ProductionService, ProductService]:
    # the review: one submission approved through every level, one failing its check
    review, pipeline, _ = _service(database, tmp_path)
    approved = _submit(review)
    review.run_pending()
    for who in (PROVIDER, EXPERT, EXPERT2, BUREAU):
        review.vote(who, approved, Decision.APPROVE, "同意")
    pipeline.status = Status.FAIL
    _submit(review)
    review.run_pending()

    # production: one run released, two quarantined (a reviewer discards one, releases one)
    runner = Runner()
    production = ProductionService(
        database, lambda: POLICIES, tmp_path / "production", tmp_path / "outbox",
        executor=runner, models=Registry(), volumes=Volumes(),
    )  # fmt: skip
    job = production.register_job(OPERATOR, JobRequest(scenario="bank_credit", model_name=MODEL))
    released = production.run_now(OPERATOR, job.id)
    production.run_pending()
    runner.outputs["run.ipynb"] = _notebook(f"top subject: {RESIDENT_ID}\n")
    discarded = production.run_now(OPERATOR, job.id)
    production.run_pending()
    kept = production.run_now(OPERATOR, job.id)
    production.run_pending()
    assert production.run(OPERATOR, released.id).state == RunState.RELEASED
    production.decide(REVIEWER, discarded.id, False, "含身份证号，销毁")
    production.decide(REVIEWER, kept.id, True, "测试样例，允许发布")

    # products: a bank's calls in July and August, one refused purpose; another bank
    # walking a range of credit codes is blocked, and its case closed as confirmed
    products = product_service(world, database, now)
    app = FastAPI()
    app.include_router(products_router(products.gateway))
    client = TestClient(app)
    token = consumer(products, price_fen=50)
    codes = known_usccs(world)
    batch = {"purpose": "pre_loan_review", "subjects": [{"id": c} for c in codes[:3]]}
    assert client.post(SCORE, json=batch, headers=bearer(token)).status_code == 200
    refused = {"purpose": "marketing", "subject": {"id": codes[0]}}
    assert client.post(SCORE, json=refused, headers=bearer(token)).status_code == 403
    now.at = _local(2026, 8, 3)
    again = {"purpose": "pre_loan_review", "subject": {"id": codes[0]}}  # the same subject
    assert client.post(SCORE, json=again, headers=bearer(token)).status_code == 200
    walker = consumer(products, "ordos_bank", price_fen=10)
    for code in sequential_usccs(10):
        ask(client, walker, [code])
    case = blocked_case(ask(client, walker, codes[:1]))
    products.cases.close(ADMIN, case, Resolution.CONFIRMED, "按号段遍历企业信用代码")

    # the last half hour of 2025 in 宿州 (already 2025-12-31 15:30 in UTC): not 2026's
    now.at = _local(2025, 12, 31, 23, 30)
    early = client.post(SCORE, json=again, headers=bearer(token))
    assert early.json()["error"]["code"] == "agreement_not_yet_valid"
    return review, production, products


@pytest.fixture
def year(
    database: Database, tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Year]:
    now = Now(_local(2026, 7, 10))
    # the audit log's clock is the test's, so that each event lands in the year it says
    monkeypatch.setattr(audit_events, "now_iso", lambda: iso(now()))
    audit_events.install_sink(database.url)
    try:
        review, production, products = _live_a_year(database, tmp_path, world, now)
        now.at = _local(2026, 11, 20)  # the evaluation, late in the year
        audit_events.flush_sink()
        audit_events.install_sink(database.url)
        annual = AnnualEvaluation(
            database, products=lambda: world.products, clock=products.gateway.clock
        )
        yield Year(review, production, products, annual, now)
    finally:
        audit_events.flush_sink()


# ---------------------------------------------------------------- the independent count


def _rows(database: Database, year: int) -> list[dict[str, Any]]:
    start = dt.datetime(year, 1, 1, tzinfo=ZONE).astimezone(dt.UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=ZONE).astimezone(dt.UTC)
    with database.session() as session:
        rows = session.scalars(select(AuditEventRow).order_by(AuditEventRow.seq))
        return [
            {"action": r.action, "outcome": r.outcome, "target": r.target,
             "details": json.loads(r.details)}
            for r in rows
            if start <= dt.datetime.fromisoformat(r.ts) < end
        ]  # fmt: skip


def _count(rows: list[dict[str, Any]], action: str, **details: object) -> int:
    return sum(
        1
        for r in rows
        if r["action"] == action and all(r["details"].get(k) == v for k, v in details.items())
    )


INCIDENTS = {
    ("product.block", "allowed"), ("sandbox.egress", "denied"), ("sandbox.download", "denied"),
    ("sandbox.upload", "denied"), ("mlflow.request", "denied"), ("firewall.deny-all", "allowed"),
    ("freeze.apply", "allowed"), ("audit.verify", "error"),
}  # fmt: skip


def _expected(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [r for r in rows if r["action"] == "product.score"]
    scored = [r for r in scores if r["details"]["result"] == "scored"]
    checked = [r for r in rows if r["action"] == "production.run.transition"
               and r["details"]["from_state"] == "checking"]  # fmt: skip
    passed_checks = _count(rows, "selfcheck.result", status="pass")
    not_quarantined = sum(1 for r in checked if r["details"]["to_state"] == "released")
    return {
        "approved": sum(
            1 for r in rows if r["action"] == "registry.register" and r["outcome"] == "allowed"
        ),
        "selfchecks": _count(rows, "selfcheck.result"),
        "selfchecks_passed": passed_checks,
        "checked": len(checked),
        "quarantined": sum(1 for r in checked if r["details"]["to_state"] == "quarantined"),
        "compliance": (passed_checks + not_quarantined, _count(rows, "selfcheck.result") + len(checked)),
        "blocked_keys": len({r["target"] for r in rows if r["action"] == "product.block"}),
        "cases_opened": _count(rows, "product.case", to_state="open"),
        "cases_closed": _count(rows, "product.case", to_state="closed"),
        "incidents": sum(1 for r in rows if (r["action"], r["outcome"]) in INCIDENTS),
        "calls": len(scores),
        "billable": sum(1 for r in scores if r["details"]["billable"]),
        "amount_fen": sum(r["details"]["price_fen"] for r in scores),
        "subjects": {
            p: len({r["details"]["subject"] for r in scored if r["details"]["product"] == p})
            for p in {r["details"]["product"] for r in scored}
        },
    }  # fmt: skip


def _reported(figures: AnnualFigures) -> dict[str, Any]:
    c, u = figures.compliance, figures.usage
    return {
        "approved": figures.products.approved_versions,
        "selfchecks": c.selfcheck.denominator,
        "selfchecks_passed": c.selfcheck.numerator,
        "checked": c.production_checked,
        "quarantined": c.production_quarantined,
        "compliance": (c.compliance_rate.numerator, c.compliance_rate.denominator),
        "blocked_keys": c.blocked_keys,
        "cases_opened": c.cases_opened,
        "cases_closed": c.cases_closed,
        "incidents": c.incidents,
        "calls": u.calls,
        "billable": u.billable,
        "amount_fen": u.amount_fen,
        "subjects": {p.product: p.subjects for p in u.products if p.subjects},
    }


# ---------------------------------------------------------------- the figures


def test_the_years_figures_are_the_counts_of_its_audit_log(year: Year, database: Database) -> None:
    figures = year.annual.figures(2026)
    assert _reported(figures) == _expected(_rows(database, 2026))
    # and they are what the year's script did
    assert figures.products.approved_versions == 1
    assert figures.products.approved == ["bank_credit.suzhou_rcb v1"]
    assert figures.products.api_products == ["enterprise_credit"]
    assert figures.products.production_products == ["bank_credit"]
    assert figures.products.data_products == 2
    c = figures.compliance
    assert (c.selfcheck.numerator, c.selfcheck.denominator, c.selfcheck.rate) == (1, 2, 0.5)
    assert (c.production_checked, c.production_quarantined) == (3, 2)
    assert (c.quarantine_released, c.quarantine_discarded) == (1, 1)
    assert (c.compliance_rate.numerator, c.compliance_rate.denominator) == (2, 5)
    assert (c.blocked_keys, c.cases_opened, c.cases_closed, c.cases_open_at_end) == (1, 1, 1, 0)
    assert {k.id: k.count for k in c.incident_kinds}["key_blocked"] == 1
    u = figures.usage
    assert (u.billable, u.amount_fen, u.amount_yuan) == (4, 200, "2.00")
    by_month = {m.month: m.billable for m in u.months}
    assert (by_month["2026-07"], by_month["2026-08"], by_month["2026-12"]) == (3, 1, 0)
    (credit,) = u.products
    assert (credit.subjects, credit.consumers) == (3, 1)  # one subject was scored twice
    assert u.refusals["purpose_not_permitted"] == 1
    assert u.refusals["key_blocked"] == 1
    assert "agreement_not_yet_valid" not in u.refusals  # that call was 2025's


def test_a_year_without_events_reports_zeros_and_no_rate(year: Year, database: Database) -> None:
    assert _rows(database, 2024) == []
    figures = year.annual.figures(2024)
    assert figures.audit_events == 0
    assert figures.products.data_products == 0
    assert figures.compliance.compliance_rate.rate is None
    assert figures.compliance.incidents == 0
    assert (figures.usage.calls, figures.usage.amount_fen) == (0, 0)
    # the last half hour of 2025, local time, is 2025's
    late = year.annual.figures(2025)
    assert _reported(late) == _expected(_rows(database, 2025))
    assert late.usage.refusals == {"agreement_not_yet_valid": 1}


def test_manual_figures_are_entered_by_an_administrator_audited_and_reported(
    year: Year, database: Database
) -> None:
    figures = year.annual.figures(2026)
    assert {m.indicator for m in figures.manual if not m.value} == {
        "user_satisfaction", "social_benefit", "data_quality", "other_revenue_yuan",
        "evaluation_result",
    }  # fmt: skip
    with pytest.raises(Forbidden):
        year.annual.set_manual(PARTNER, 2026, "user_satisfaction", "100")
    with pytest.raises(InputError, match="between 0 and 100"):
        year.annual.set_manual(ADMIN_PRINCIPAL, 2026, "user_satisfaction", "120")
    with pytest.raises(InputError, match="one of"):
        year.annual.set_manual(ADMIN_PRINCIPAL, 2026, "happiness", "1")
    year.annual.set_manual(ADMIN_PRINCIPAL, 2026, "user_satisfaction", "91", "问卷 412 份")
    entered = year.annual.set_manual(ADMIN_PRINCIPAL, 2026, "user_satisfaction", "92.5")
    assert (entered.value, entered.shown_zh, entered.entered_by) == ("92.50", "92.50%", "admin")
    year.annual.set_manual(ADMIN_PRINCIPAL, 2026, "evaluation_result", "pass")

    html = annual_html(year.annual.figures(2026))
    assert 'data-manual="user_satisfaction">92.50%' in html
    assert 'data-manual="evaluation_result">合格' in html
    assert 'data-manual="social_benefit">待填报' in html
    audit_events.flush_sink()
    inputs = [r for r in _rows(database, 2026) if r["action"] == "governance.annual.input"]
    audit_events.install_sink(database.url)
    assert [(r["outcome"], r["details"].get("after")) for r in inputs] == [
        ("denied", None), ("allowed", "91.00"), ("allowed", "92.50"), ("allowed", "pass"),
    ]  # fmt: skip
    assert inputs[2]["details"]["before"] == "91.00"


def test_the_report_is_one_self_contained_document_in_chinese_or_english(year: Year) -> None:
    figures = year.annual.figures(2026)
    zh, en = annual_html(figures), annual_html(figures, lang="en")
    assert "年度评估报告" in zh
    assert "Annual evaluation" in en
    for html in (zh, en):
        assert html.count("<svg") == 4  # usage, revenue, subjects, incidents
        assert "<script" not in html
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "https://" not in html
        assert 'data-figure="data_products">2<' in html
    assert AnnualFigures.model_validate_json(annual_json(figures)) == figures


# ---------------------------------------------------------------- the pages


def _pages(year: Year, database: Database) -> TestClient:
    tokens = HubTokens(
        {
            "admin-session": (ADMIN_PRINCIPAL, {"access:services!service=shuyu"}),
            "partner-session": (PARTNER, {"access:services!service=shuyu"}),
        }
    )
    lifecycle = Lifecycle(
        database,
        policies=lambda: POLICIES,
        products=year.products.accounts.products,
        accounts=year.products.accounts,
        production=year.production,
        clock=year.annual.clock,
    )
    app = create_app(
        year.review,
        HubIdentity(tokens, PREFIX, secure_cookies=False),
        prefix=PREFIX,
        annual=year.annual,
        lifecycle=lifecycle,
    )
    return TestClient(app, base_url="https://hub.test")


def test_an_administrator_reads_the_report_and_enters_a_figure_on_the_page(
    year: Year, database: Database
) -> None:
    client = _pages(year, database)
    client.cookies.set(COOKIE, "admin-session")
    page = client.get(f"{PREFIX}governance/annual?year=2026")
    assert page.status_code == 200, page.text
    assert 'data-figure="data_products">2<' in page.text
    assert "需人工填报的指标" in page.text
    assert "Compliance rate" in client.get(f"{PREFIX}governance/annual?year=2026&lang=en").text
    entered = client.post(
        f"{PREFIX}governance/annual/2026/inputs",
        data={"indicator": "social_benefit", "value": "小微企业授信审批时长缩短三成"},
        headers={"Origin": "https://hub.test"},
        follow_redirects=False,
    )
    assert entered.status_code == 303
    assert "小微企业授信审批时长缩短三成" in client.get(f"{PREFIX}governance/annual?year=2026").text
    data = client.get(f"{PREFIX}governance/annual/2026.json")
    assert data.json()["products"]["data_products"] == 2
    document = client.get(f"{PREFIX}governance/annual/2026.html")
    assert "attachment" in document.headers["content-disposition"]
    assert document.text.startswith("<!doctype html>")
    listed = client.get(f"{PREFIX}governance/lifecycle")
    assert listed.status_code == 200
    assert "sci_tech_finance" in listed.text
    assert 'class="state expired">expired' in listed.text  # sci_tech_finance ended in 2025
    assert "已到期" in client.get(f"{PREFIX}governance/lifecycle?lang=zh").text


def test_a_partner_gets_403_and_a_stranger_the_hubs_sign_in(year: Year, database: Database) -> None:
    client = _pages(year, database)
    assert client.get(f"{PREFIX}governance/annual", follow_redirects=False).status_code == 302
    client.cookies.set(COOKIE, "partner-session")
    for path in (
        "governance/annual?year=2026",
        "governance/annual/2026.json",
        "governance/lifecycle",
    ):
        assert client.get(f"{PREFIX}{path}").status_code == 403, path
    tried = client.post(
        f"{PREFIX}governance/annual/2026/inputs",
        data={"indicator": "user_satisfaction", "value": "100"},
        headers={"Origin": "https://hub.test"},
        follow_redirects=False,
    )
    assert tried.status_code == 403
    assert all(not m.value for m in year.annual.manual(2026))
