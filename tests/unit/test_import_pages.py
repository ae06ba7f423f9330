"""The packages and airlock pages over the real app and database, as a browser sends
their forms: a partner asks for a package and uploads a file; the administrator and the
data provider's reviewer decide on their pages; a form from another site, a partner
deciding, and an upload over the airlock's limit are refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shuyu.airlock.desk import AirlockDesk
from shuyu.airlock.states import ImportState
from shuyu.packages.desk import PackageDesk
from shuyu.packages.states import PackageState
from shuyu.policy import load_policies
from shuyu.review.service import Principal, ReviewService
from shuyu.store.database import Database
from shuyu.web.app import create_app
from shuyu.web.auth import COOKIE, HubIdentity
from tests.unit.test_review_service import PARTNER, PROVIDER, _service
from tests.unit.test_web_routes import PREFIX, HubTokens

POLICIES = load_policies()
ADMIN = Principal("admin", frozenset({"admins"}))
TOKENS = HubTokens(
    {
        "partner": (PARTNER, {"access:services!service=shuyu"}),
        "provider": (PROVIDER, {"access:services!service=shuyu"}),
        "admin": (ADMIN, {"access:services!service=shuyu"}),
    }
)
OWN = {"Origin": "https://hub.test"}
TODAY = dt.date(2026, 11, 23)


@pytest.fixture
def desks(database: Database, tmp_path: Path) -> tuple[PackageDesk, AirlockDesk, list[str]]:
    placed: list[str] = []
    packages = PackageDesk(database, lambda: POLICIES, lambda: TODAY)
    airlock = AirlockDesk(
        database, lambda: POLICIES, tmp_path / "files",
        lambda user, scenario, files: placed.extend(files), lambda: TODAY,
    )  # fmt: skip
    return packages, airlock, placed


@pytest.fixture
def browser(
    database: Database, tmp_path: Path, desks: tuple[PackageDesk, AirlockDesk, list[str]]
) -> TestClient:
    review: ReviewService = _service(database, tmp_path)[0]
    app = create_app(
        review,
        HubIdentity(TOKENS, PREFIX, secure_cookies=False),
        prefix=PREFIX,
        packages=desks[0],
        airlock=desks[1],
    )
    return TestClient(app, base_url="https://hub.test")


def _as(client: TestClient, who: str) -> TestClient:
    client.cookies.set(COOKIE, who)
    return client


def test_a_partner_asks_for_a_package_and_the_administrator_approves_it(
    browser: TestClient, desks: tuple[PackageDesk, AirlockDesk, list[str]]
) -> None:
    form = {"name": "xgboost", "version": "2.1.3", "scenario": "bank_credit",
            "purpose": "梯度提升基线"}  # fmt: skip
    asked = _as(browser, "partner").post(f"{PREFIX}packages", data=form, headers=OWN,
                                         follow_redirects=False)  # fmt: skip
    assert asked.status_code == 303
    page = browser.get(f"{PREFIX}packages")
    assert "xgboost" in page.text
    assert "待审批" in page.text
    (request,) = desks[0].visible_to(ADMIN)
    decide = f"{PREFIX}packages/{request.id}/decide"
    assert browser.post(decide, data={"decision": "approve"}, headers=OWN).status_code == 403
    forged = _as(browser, "admin").post(decide, data={"decision": "approve"},
                                        headers={"Origin": "https://evil.test"})  # fmt: skip
    assert forged.status_code == 403
    assert browser.post(decide, data={"decision": "approve"}, headers=OWN).status_code == 200
    assert desks[0].visible_to(ADMIN)[0].state is PackageState.APPROVED


def test_a_partner_uploads_to_the_airlock_and_the_provider_approves(
    browser: TestClient, desks: tuple[PackageDesk, AirlockDesk, list[str]]
) -> None:
    sent = _as(browser, "partner").post(
        f"{PREFIX}airlock",
        data={"scenario": "bank_credit", "purpose": "特征工程函数"},
        files={"file": ("features.py", b"WINDOW = 12\n", "text/x-python")},
        headers=OWN,
        follow_redirects=False,
    )
    assert sent.status_code == 303
    (uploaded,) = desks[1].visible_to(PROVIDER)
    assert uploaded.state is ImportState.PENDING
    decide = f"{PREFIX}airlock/{uploaded.id}/decide"
    assert browser.post(decide, data={"decision": "approve"}, headers=OWN).status_code == 403
    page = _as(browser, "provider").get(f"{PREFIX}airlock")
    assert "待数据提供方审核" in page.text
    assert browser.post(decide, data={"decision": "approve"}, headers=OWN).status_code == 200
    assert desks[2] == [f"imports/{uploaded.id}-features.py"]


def test_an_upload_over_the_limit_is_refused_without_reading_it_whole(
    browser: TestClient, desks: tuple[PackageDesk, AirlockDesk, list[str]]
) -> None:
    limit = POLICIES.sandbox.airlock.max_bytes
    _as(browser, "partner").post(
        f"{PREFIX}airlock",
        data={"scenario": "bank_credit", "purpose": "很大的表"},
        files={"file": ("outcomes.csv", b"uscc\n" + b"9" * (limit + 10), "text/csv")},
        headers=OWN,
    )
    (refused,) = desks[1].visible_to(PARTNER)
    assert refused.state is ImportState.REFUSED
    assert refused.size == limit + 1  # one byte over was enough to know
    assert "over the airlock's" in refused.problems[0]
