"""Usage statements per consumer and local month, from the audit log: calls, billable
calls and the amount at the price in force at each call; JSON and CSV; a consumer sees
only its own."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shuyu.audit import events as audit_events
from shuyu.products.accounts import AgreementSpec
from shuyu.products.api import products_router
from shuyu.products.clock import iso
from shuyu.products.service import ProductService
from shuyu.products.statements import statement_csv, usage_statement
from shuyu.store.database import Database
from tests.unit.product_world import Now, World, build_world, other_usccs, product_service
from tests.unit.test_products_api import ADMIN, bearer, consumer, known_usccs

SCORE = "/api/v1/products/enterprise_credit/score"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("statements"))


@pytest.fixture
def now() -> Now:
    clock = Now(dt.datetime(2026, 7, 1, tzinfo=dt.UTC))
    clock.local(2026, 7, 31, 10, 0)
    return clock


@pytest.fixture
def service(
    world: World, database: Database, now: Now, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ProductService]:
    # the audit log's clock follows the test's, so that calls land in the test's months
    monkeypatch.setattr(audit_events, "now_iso", lambda: iso(now()))
    audit_events.install_sink(database.url)
    try:
        yield product_service(world, database, now)
    finally:
        audit_events.flush_sink()


@pytest.fixture
def client(service: ProductService) -> TestClient:
    app = FastAPI()
    app.include_router(products_router(service.gateway))
    return TestClient(app)


def test_a_month_counts_calls_billable_calls_and_the_amount_at_each_calls_price(
    client: TestClient, service: ProductService, world: World, now: Now, database: Database
) -> None:
    token = consumer(service, price_fen=50)
    other = consumer(service, "ordos_bank", price_fen=10)
    codes = known_usccs(world)
    (stranger,) = other_usccs(world, 1)
    body = {
        "purpose": "pre_loan_review",
        "subjects": [{"id": c} for c in codes[:3]] + [{"id": stranger}],
    }
    assert client.post(SCORE, json=body, headers=bearer(token)).status_code == 200  # 3 billable
    client.post(
        SCORE, json={"purpose": "marketing", "subject": {"id": codes[0]}}, headers=bearer(token)
    )
    client.post(
        SCORE,
        json={"purpose": "pre_loan_review", "subject": {"id": codes[0]}},
        headers=bearer(other),
    )
    # the price changes in the middle of the month: later calls are billed at the new one
    service.accounts.set_agreement(
        ADMIN,
        AgreementSpec(
            consumer_id="suzhou_rcb", product="enterprise_credit", purposes=["pre_loan_review"],
            valid_from=dt.date(2026, 7, 1), valid_until=dt.date(2027, 6, 30), daily_quota=1000,
            monthly_quota=20000, price_fen=80, regions=["341300"],
        ),
    )  # fmt: skip
    now.local(2026, 7, 31, 23, 50)  # still July in 宿州 (15:50 UTC)
    client.post(
        SCORE,
        json={"purpose": "pre_loan_review", "subject": {"id": codes[4]}},
        headers=bearer(token),
    )
    now.local(2026, 8, 1, 0, 10)  # August in 宿州, July 31st in UTC
    client.post(
        SCORE,
        json={"purpose": "pre_loan_review", "subject": {"id": codes[5]}},
        headers=bearer(token),
    )
    audit_events.flush_sink()
    products = {p.id: p for p in world.products.products}
    july = usage_statement(
        database, "suzhou_rcb", "2026-07", clock=service.gateway.clock, products=products
    )
    assert (july.calls, july.billable, july.amount_fen, july.amount_yuan) == (6, 4, 230, "2.30")
    (line,) = july.lines
    assert line.product_name == "企业信贷风险评分"
    august = usage_statement(
        database, "suzhou_rcb", "2026-08", clock=service.gateway.clock, products=products
    )
    assert (august.calls, august.billable, august.amount_fen) == (1, 1, 80)
    rows = list(csv.reader(io.StringIO(statement_csv(july).lstrip("\ufeff"))))
    assert rows[0][0] == "使用单位 consumer"
    assert rows[1][2:] == ["enterprise_credit", "企业信贷风险评分", "6", "4", "2.30"]
    assert rows[-1][2] == "合计 total"
    audit_events.install_sink(database.url)


def test_a_consumer_reads_its_own_statement_and_no_one_elses(
    client: TestClient, service: ProductService, world: World
) -> None:
    token = consumer(service, price_fen=50)
    other = consumer(service, "ordos_bank", price_fen=10)
    codes = known_usccs(world)
    client.post(
        SCORE,
        json={"purpose": "pre_loan_review", "subject": {"id": codes[0]}},
        headers=bearer(token),
    )
    audit_events.flush_sink()
    mine = client.get("/api/v1/products/usage/2026-07", headers=bearer(token)).json()
    assert (mine["consumer_id"], mine["billable"], mine["amount_yuan"]) == ("suzhou_rcb", 1, "0.50")
    theirs = client.get("/api/v1/products/usage/2026-07", headers=bearer(other)).json()
    assert (theirs["consumer_id"], theirs["calls"]) == ("ordos_bank", 0)
    as_csv = client.get("/api/v1/products/usage/2026-07.csv", headers=bearer(token))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "suzhou_rcb" in as_csv.headers["content-disposition"]
    assert client.get("/api/v1/products/usage/2026-07").json()["error"]["code"] == "key_missing"
    bad = client.get("/api/v1/products/usage/july", headers=bearer(token))
    assert bad.status_code == 422
