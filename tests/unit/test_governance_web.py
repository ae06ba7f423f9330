"""The filing and freeze pages and REST API as people reach them through the hub: an
administrator files, exports, freezes and lifts; an operator trying the same is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.review.service import Principal
from shuyu.store.database import Database
from shuyu.web.app import create_app
from shuyu.web.auth import HubIdentity
from tests.unit.test_governance_filing import ADMIN, MODEL, OPERATOR, PRODUCTS, Desk
from tests.unit.test_governance_filing import desk as desk  # noqa: PLC0414 - the fixture
from tests.unit.test_production_service import POLICIES
from tests.unit.test_review_service import _service as review_service
from tests.unit.test_web_routes import PREFIX, HubTokens

ACCESS = {"access:services!service=shuyu"}
AS_ADMIN = {"Authorization": "token admin"}
AS_OPERATOR = {"Authorization": "token op"}


@pytest.fixture
def client(desk: Desk, database: Database, tmp_path: Path) -> TestClient:
    tokens = HubTokens(
        {"admin": (ADMIN, ACCESS), "op": (OPERATOR, ACCESS)}
        | {"partner": (Principal("sz-credit", frozenset({"partners"})), ACCESS)}
    )
    review, _, _ = review_service(database, tmp_path)
    app = create_app(
        review,
        HubIdentity(tokens, PREFIX, secure_cookies=False),
        prefix=PREFIX,
        filings=desk.filings,
        freezes=FreezeDesk(database, lambda: POLICIES, lambda: PRODUCTS),
    )
    return TestClient(app, base_url="https://hub.test")


def test_an_administrator_files_a_product_and_exports_the_filing(client: TestClient) -> None:
    api = f"{PREFIX}api/v1/filings"
    page = client.get(f"{PREFIX}governance/filings", headers=AS_ADMIN)
    assert page.status_code == 200, page.text[:300]
    assert MODEL in page.text
    assert "未备案" in page.text

    refused = client.post(api, json={"product": MODEL}, headers=AS_OPERATOR)
    assert refused.status_code == 403
    filed = client.post(api, json={"product": MODEL, "note": "首次备案"}, headers=AS_ADMIN)
    assert filed.status_code == 201, filed.text
    filing = filed.json()
    assert filing["content"]["product"] == MODEL
    twice = client.post(api, json={"product": MODEL}, headers=AS_ADMIN)
    assert twice.status_code == 400  # current already: nothing to re-file

    document = client.get(f"{api}/{filing['id']}/document.html", headers=AS_ADMIN)
    assert "使用范围及方式" in document.text
    assert filing["fingerprint"] in document.text
    english = client.get(f"{api}/{filing['id']}/document.html?lang=en", headers=AS_ADMIN)
    assert "Scope and manner of use" in english.text
    exported = client.get(f"{api}/{filing['id']}/document.json", headers=AS_ADMIN)
    assert exported.json() == filing
    assert client.get(f"{api}/{filing['id']}", headers=AS_OPERATOR).status_code == 403

    listed = client.get(f"{PREFIX}governance/filings", headers=AS_ADMIN)
    assert "备案有效" in listed.text


def test_an_administrator_freezes_and_lifts_a_scenario_an_operator_cannot(
    client: TestClient,
) -> None:
    api = f"{PREFIX}api/v1/freezes"
    body = {"scope": "scenario:bank_credit", "reason": "疑似数据泄露，启动应急预案"}
    assert client.post(api, json=body, headers=AS_OPERATOR).status_code == 403
    assert client.post(api, json={**body, "scope": "scenario"}, headers=AS_ADMIN).status_code == 400
    made = client.post(api, json=body, headers=AS_ADMIN)
    assert made.status_code == 201, made.text
    freeze = made.json()
    page = client.get(f"{PREFIX}governance/freezes", headers=AS_ADMIN)
    assert "scenario:bank_credit" in page.text
    assert client.get(f"{PREFIX}governance/freezes", headers=AS_OPERATOR).status_code == 403

    lifted = client.post(
        f"{PREFIX}governance/freezes/{freeze['id']}/lift",
        data={"reason": "核查完毕，解除冻结"},
        headers=AS_ADMIN,
        follow_redirects=False,
    )
    assert lifted.status_code == 303
    assert client.get(api, headers=AS_ADMIN).json() == []
