"""The service's HTTP face over the real review service and database: who may call what,
as the requests a partner, a sandbox or another site would send.

The hub's answer to "whose token is this" is a table here (tests/integration runs the
real hub's OAuth); everything behind it — routes, dependencies, the rules, the pages —
is the service's own code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shuyu.hub.roles import SUBMIT_SCOPE
from shuyu.review.service import Principal, ReviewService
from shuyu.store.database import Database
from shuyu.web.app import create_app
from shuyu.web.auth import COOKIE, HubIdentity
from shuyu.web.sandbox_app import create_sandbox_app
from tests.unit.test_review_service import BUREAU, PARTNER, PROVIDER, _in_review, _service

PREFIX = "/services/shuyu/"
NOTEBOOK = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


@dataclass
class HubTokens:
    """What the hub would say of each token (name, groups, scopes)."""

    users: dict[str, tuple[Principal, set[str]]]
    oauth_client_id: str = "service-shuyu"
    oauth_redirect_uri: str = f"{PREFIX}oauth_callback"
    oauth_authorization_url: str = "/hub/api/oauth2/authorize"

    async def user_for_token(self, token: str, sync: bool = False) -> dict[str, Any] | None:
        found = self.users.get(token)
        if found is None:
            return None
        who, scopes = found
        return {
            "kind": "user",
            "name": who.username,
            "groups": sorted(who.groups),
            "scopes": scopes,
        }


TOKENS = HubTokens(
    {
        "partner-session": (PARTNER, {"access:services!service=shuyu"}),
        "sandbox-submit": (PARTNER, {f"{SUBMIT_SCOPE}!user=sz-credit"}),
        "provider-session": (PROVIDER, {"access:services!service=shuyu"}),
        "bureau-session": (BUREAU, {"access:services!service=shuyu"}),
    }
)


@pytest.fixture
def reviewed(database: Database, tmp_path: Path) -> tuple[ReviewService, str]:
    service, _, _ = _service(database, tmp_path)
    return service, _in_review(service)


def _pages(service: ReviewService) -> TestClient:
    identity = HubIdentity(TOKENS, PREFIX, secure_cookies=False)
    return TestClient(create_app(service, identity, prefix=PREFIX), base_url="https://hub.test")


def _sandbox(service: ReviewService) -> TestClient:
    return TestClient(create_sandbox_app(service, HubIdentity(TOKENS, PREFIX)))


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def test_a_sandbox_submits_with_its_submission_token_only(
    reviewed: tuple[ReviewService, str],
) -> None:
    service, _ = reviewed
    client = _sandbox(service)
    body = {"run_id": "f" * 32, "scenario": "bank_credit", "note": "v2", "notebook": NOTEBOOK}
    assert client.post("/api/v1/submissions", json=body).status_code == 401
    # the user's own browser session token is not the sandbox's submission token
    got = client.post("/api/v1/submissions", json=body, headers=_auth("partner-session"))
    assert got.status_code == 403
    assert SUBMIT_SCOPE in got.text
    made = client.post("/api/v1/submissions", json=body, headers=_auth("sandbox-submit"))
    assert made.status_code == 201, made.text
    assert made.json()["state"] == "submitted"
    mine = client.get("/api/v1/submissions", headers=_auth("sandbox-submit")).json()
    assert made.json()["id"] in {s["id"] for s in mine}


def test_the_sandbox_listener_serves_nothing_else(reviewed: tuple[ReviewService, str]) -> None:
    service, sid = reviewed
    client = _sandbox(service)
    vote = {"decision": "approve", "comment": ""}
    for method, path in (
        ("POST", f"/api/v1/submissions/{sid}/votes"),
        ("GET", "/api/v1/queue"),
        ("GET", "/docs"),
        ("GET", "/openapi.json"),
    ):
        got = client.request(method, path, json=vote, headers=_auth("sandbox-submit"))
        assert got.status_code in {404, 405}, (path, got.status_code)


def test_a_partner_cannot_vote_through_the_rest_api(reviewed: tuple[ReviewService, str]) -> None:
    service, sid = reviewed
    client = _pages(service)
    vote = {"decision": "approve", "comment": "mine is fine"}
    got = client.post(
        f"{PREFIX}api/v1/submissions/{sid}/votes", json=vote, headers=_auth("partner-session")
    )
    assert got.status_code == 403
    assert client.post(f"{PREFIX}api/v1/submissions/{sid}/votes", json=vote).status_code == 401
    done = client.post(
        f"{PREFIX}api/v1/submissions/{sid}/votes", json=vote, headers=_auth("provider-session")
    )
    assert done.status_code == 200, done.text
    assert done.json()["level"] == "expert_committee"


def test_the_wrong_level_gets_403_with_the_reason(reviewed: tuple[ReviewService, str]) -> None:
    service, sid = reviewed
    got = _pages(service).post(
        f"{PREFIX}api/v1/submissions/{sid}/votes",
        json={"decision": "approve", "comment": ""},
        headers=_auth("bureau-session"),
    )
    assert got.status_code == 403
    assert "reviewers_provider" in got.text


def test_pages_send_a_stranger_to_the_hubs_sign_in(reviewed: tuple[ReviewService, str]) -> None:
    service, sid = reviewed
    got = _pages(service).get(f"{PREFIX}submissions/{sid}", follow_redirects=False)
    assert got.status_code == 302
    assert got.headers["location"].startswith("/hub/api/oauth2/authorize?client_id=service-shuyu")


def test_a_form_posted_from_another_site_is_refused(reviewed: tuple[ReviewService, str]) -> None:
    """A page elsewhere that auto-submits a vote form with the reviewer's cookie."""
    service, sid = reviewed
    client = _pages(service)
    client.cookies.set(COOKIE, "provider-session")
    form = {"decision": "approve", "comment": "csrf"}
    got = client.post(
        f"{PREFIX}submissions/{sid}/vote",
        data=form,
        headers={"Origin": "https://evil.test"},
        follow_redirects=False,
    )
    assert got.status_code == 403
    assert service.get(PROVIDER, sid).level == "data_provider"
    own = client.post(
        f"{PREFIX}submissions/{sid}/vote",
        data=form,
        headers={"Origin": "https://hub.test"},
        follow_redirects=False,
    )
    assert own.status_code == 303
    assert service.get(PROVIDER, sid).level == "expert_committee"


def test_a_reviewers_page_is_in_chinese_and_english_on_request(
    reviewed: tuple[ReviewService, str],
) -> None:
    service, sid = reviewed
    client = _pages(service)
    client.cookies.set(COOKIE, "provider-session")
    page = client.get(f"{PREFIX}submissions/{sid}")
    assert page.status_code == 200
    assert "安全自查" in page.text
    assert 'name="decision" value="approve"' in page.text
    english = client.get(f"{PREFIX}submissions/{sid}?lang=en")
    assert "Security self-check" in english.text


def test_partner_content_is_served_sandboxed(reviewed: tuple[ReviewService, str]) -> None:
    """The report and the partner's notebook could carry script: served so that it cannot
    run as the reviewer who opens it."""
    service, sid = reviewed
    client = _pages(service)
    client.cookies.set(COOKIE, "provider-session")
    report = client.get(f"{PREFIX}submissions/{sid}/report.html")
    assert report.status_code == 200
    assert report.headers["content-security-policy"].startswith("sandbox")
