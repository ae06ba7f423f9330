"""The product pages of the shuyu service, for the bureau's administrators: consumers,
agreements and keys, the 事中检查 cases, statements — over the real service app,
database and product API gateway (the hub's token answers are the table of
test_web_routes)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shuyu.audit import events as audit_events
from shuyu.audit.log import AuditLog
from shuyu.products.clock import iso
from shuyu.products.contracts import ScoreRequest, SubjectRef
from shuyu.products.desk import ProductDesk, product_desk
from shuyu.products.refusals import Code, Refusal
from shuyu.products.service import ProductService
from shuyu.review.service import Principal, ReviewService
from shuyu.store.database import Database
from shuyu.web.app import create_app
from shuyu.web.auth import COOKIE, HubIdentity
from tests.unit.product_world import PEPPER, Now, World, build_world, product_service
from tests.unit.test_review_service import PARTNER, _service
from tests.unit.test_web_routes import PREFIX, HubTokens

ADMIN = Principal("admin", frozenset({"admins"}))
TOKENS = HubTokens(
    {
        "admin-session": (ADMIN, {"access:services!service=shuyu"}),
        "partner-session": (PARTNER, {"access:services!service=shuyu"}),
    }
)
CREDIT = "enterprise_credit"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("pages"), n=150)


@dataclass
class Site:
    client: TestClient
    desk: ProductDesk
    api: ProductService
    db: Database

    def as_(self, token: str) -> TestClient:
        self.client.cookies.set(COOKIE, token)
        return self.client


@pytest.fixture
def site(
    world: World, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Site]:
    pepper = tmp_path / "pepper"
    pepper.write_bytes(PEPPER + b"\n")
    pepper.chmod(0o600)
    review: ReviewService = _service(database, tmp_path)[0]
    desk = product_desk(
        database,
        policies=lambda: world.policies,
        products=lambda: world.products,
        pepper_file=pepper,
        published=tmp_path / "published",
    )
    now = Now(dt.datetime(2026, 7, 10, 2, 0, tzinfo=dt.UTC))  # 10:00 in 宿州
    api = product_service(world, database, now)
    # the audit log's clock follows the test's, so that calls land in the test's month
    monkeypatch.setattr(audit_events, "now_iso", lambda: iso(now()))
    app = create_app(
        review, HubIdentity(TOKENS, PREFIX, secure_cookies=False), prefix=PREFIX, products=desk
    )
    audit_events.install_sink(database.url)
    try:
        yield Site(TestClient(app, base_url="https://hub.test"), desk, api, database)
    finally:
        audit_events.flush_sink()


def _register_bank(client: TestClient, daily: int = 1000) -> str:
    """The administrator's three forms: a consumer, its agreement, a key. The key's token."""
    made = client.post(
        f"{PREFIX}products/consumers",
        data={"consumer_id": "suzhou_rcb", "name": "宿州农商银行", "name_en": "Suzhou RCB",
              "kind": "bank"},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303, made.text
    agreed = client.post(
        f"{PREFIX}products/agreements",
        data={"consumer_id": "suzhou_rcb", "product": CREDIT, "purposes": "pre_loan_review",
              "valid_from": "2026-07-01", "valid_until": "2027-06-30", "daily_quota": str(daily),
              "monthly_quota": "20000", "price": "0.50", "regions": "341300"},
        follow_redirects=False,
    )  # fmt: skip
    assert agreed.status_code == 303, agreed.text
    issued = client.post(f"{PREFIX}products/consumers/suzhou_rcb/keys")
    assert issued.status_code == 200
    assert issued.headers["Cache-Control"] == "no-store"
    found = re.search(r"sy_[0-9a-f]+_[A-Za-z0-9_-]+", issued.text)
    assert found is not None
    return found.group(0)


def test_an_administrator_registers_a_bank_whose_key_then_scores(site: Site, world: World) -> None:
    token = _register_bank(site.as_("admin-session"))
    page = site.client.get(f"{PREFIX}products")
    assert page.status_code == 200
    assert "宿州农商银行" in page.text
    assert token not in page.text  # shown once, on the issuing page only
    assert "未服务" in page.text  # nothing published in this test: the API cannot serve it
    request = ScoreRequest(purpose="pre_loan_review", subject=SubjectRef(id=world.usccs()[0]))
    assert site.api.gateway.score(token, CREDIT, request).results[0].ok
    audit_events.flush_sink()
    actions = {(e["action"], e["outcome"]) for e in AuditLog(site.db).events()}
    assert {("product.consumer", "allowed"), ("product.agreement", "allowed"),
            ("product.key", "allowed")} <= actions  # fmt: skip


def test_a_bad_agreement_form_names_the_field(site: Site) -> None:
    client = site.as_("admin-session")
    client.post(
        f"{PREFIX}products/consumers",
        data={"consumer_id": "ordos_bank", "name": "鄂尔多斯银行", "name_en": "Ordos Bank",
              "kind": "bank"},
    )  # fmt: skip
    bad = client.post(
        f"{PREFIX}products/agreements",
        data={"consumer_id": "ordos_bank", "product": CREDIT, "purposes": "pre_loan_review",
              "valid_from": "2026-07-01", "valid_until": "2027-06-30", "daily_quota": "100",
              "monthly_quota": "50", "price": "0.5", "regions": "341300"},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "monthly quota" in bad.text
    price = client.post(
        f"{PREFIX}products/agreements",
        data={"consumer_id": "ordos_bank", "product": CREDIT, "purposes": "pre_loan_review",
              "valid_from": "2026-07-01", "valid_until": "2027-06-30", "daily_quota": "100",
              "monthly_quota": "500", "price": "0.505", "regions": "341300"},
    )  # fmt: skip
    assert price.status_code == 400
    assert "price" in price.text


def test_a_partner_can_neither_see_the_pages_nor_mint_itself_a_key(site: Site) -> None:
    """The attack: a signed-in partner posts the administrator's forms directly."""
    _register_bank(site.as_("admin-session"))
    partner = site.as_("partner-session")
    assert partner.get(f"{PREFIX}products").status_code == 403
    assert partner.get(f"{PREFIX}products/cases").status_code == 403
    assert partner.get(f"{PREFIX}products/statements").status_code == 403
    minted = partner.post(f"{PREFIX}products/consumers/suzhou_rcb/keys")
    assert minted.status_code == 403
    assert "sy_" not in minted.text
    made = partner.post(
        f"{PREFIX}products/consumers",
        data={"consumer_id": "my_bank", "name": "x", "name_en": "x", "kind": "bank"},
    )
    assert made.status_code == 403
    audit_events.flush_sink()
    denied = [
        e for e in AuditLog(site.db).events() if e["outcome"] == "denied" and e["actor"] == PARTNER.username
    ]  # fmt: skip
    assert {e["action"] for e in denied} >= {"product.key", "product.consumer"}


def test_a_blocked_key_shows_as_a_case_and_the_administrator_unblocks_it_with_a_reason(
    site: Site, world: World
) -> None:
    token = _register_bank(site.as_("admin-session"), daily=200)
    # a burst of distinct enterprises beyond a fifth of the daily quota (200) in minutes
    blocked = None
    codes = world.usccs()
    for start in range(0, 120, 20):
        batch = [SubjectRef(id=code) for code in codes[start : start + 20]]
        try:
            site.api.gateway.score(
                token, CREDIT, ScoreRequest(purpose="pre_loan_review", subjects=batch)
            )
        except Refusal as refused:
            blocked = refused
            break
    assert blocked is not None
    assert blocked.code is Code.KEY_BLOCKED
    cases = site.client.get(f"{PREFIX}products/cases")
    assert blocked.case in cases.text
    assert "quota_burst" in cases.text
    key_id = token.split("_")[1]
    lifted = site.client.post(
        f"{PREFIX}products/keys/{key_id}/unblock",
        data={"reason": "核查：集中补录贷前材料，非滥用"},
        follow_redirects=False,
    )
    assert lifted.status_code == 303
    assert site.desk.accounts.key(key_id).status == "active"
    closed = site.client.get(f"{PREFIX}products/cases?state=closed")
    assert blocked.case in closed.text


def test_the_statement_page_and_its_csv_count_the_calls(site: Site, world: World) -> None:
    token = _register_bank(site.as_("admin-session"))
    for code in world.usccs()[:3]:
        site.api.gateway.score(
            token, CREDIT, ScoreRequest(purpose="pre_loan_review", subject=SubjectRef(id=code))
        )
    audit_events.flush_sink()
    page = site.client.get(f"{PREFIX}products/statements?month=2026-07")
    assert page.status_code == 200
    assert "suzhou_rcb" in page.text
    exported = site.client.get(f"{PREFIX}products/statements/suzhou_rcb/2026-07.csv")
    assert exported.status_code == 200
    total = exported.text.strip().splitlines()[-1].split(",")
    assert total[:3] == ["suzhou_rcb", "2026-07", "合计 total"]
    assert total[4] == "3"
    assert site.client.get(f"{PREFIX}products/statements/nobody/2026-07.csv").status_code == 404
