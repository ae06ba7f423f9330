"""The exit page as administrators reach it through the hub: the exits with their days
left, the certificate as a document in Chinese, English and JSON, and the acceptance
(验收) — refused to the administrator who ran the exit, to an operator, and for a
certificate changed after it was stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shuyu.audit import events as audit_events
from shuyu.governance.exit import ExitDesk
from shuyu.governance.exit_tables import ExitRow
from shuyu.review.service import Principal
from shuyu.store.database import Database
from shuyu.web.app import create_app
from shuyu.web.auth import HubIdentity
from tests.unit.test_governance_exit import ADMIN, OPERATOR, OTHER_ADMIN
from tests.unit.test_governance_exit import consumer_world as consumer_world  # noqa: PLC0414
from tests.unit.test_review_service import _service as review_service
from tests.unit.test_web_routes import PREFIX, HubTokens

ACCESS = {"access:services!service=shuyu"}
AS_ADMIN = {"Authorization": "token admin"}
AS_OTHER = {"Authorization": "token bureau"}
AS_OPERATOR = {"Authorization": "token op"}


@pytest.fixture
def world(
    consumer_world: tuple[Database, ExitDesk], tmp_path: Path
) -> Iterator[tuple[TestClient, Database, str]]:
    db, desk = consumer_world
    view = desk.exit_consumer(ADMIN, "suzhou_rcb", "协议终止，退出平台")
    tokens = HubTokens(
        {"admin": (ADMIN, ACCESS), "bureau": (OTHER_ADMIN, ACCESS), "op": (OPERATOR, ACCESS)}
        | {"partner": (Principal("sz-credit", frozenset({"partners"})), ACCESS)}
    )
    review, _, _ = review_service(db, tmp_path)
    app = create_app(
        review,
        HubIdentity(tokens, PREFIX, secure_cookies=False),
        prefix=PREFIX,
        exits=desk.register,
    )
    yield TestClient(app, base_url="https://hub.test"), db, view.id
    audit_events.flush_sink()


def test_the_page_lists_the_exit_with_its_days_left_and_its_certificate(
    world: tuple[TestClient, Database, str],
) -> None:
    client, _db, exit_id = world
    page = client.get(f"{PREFIX}governance/exits", headers=AS_ADMIN)
    assert page.status_code == 200, page.text[:300]
    assert exit_id in page.text
    assert "consumer:suzhou_rcb" in page.text
    days = (dt.date(2026, 12, 2) + dt.timedelta(days=30) - dt.date.today()).days
    assert f"<td>{days}</td>" in page.text or "已逾期" in page.text
    assert f"governance/exits/{exit_id}/accept" not in page.text  # not for who ran it
    assert client.get(f"{PREFIX}governance/exits", headers=AS_OPERATOR).status_code == 403

    document = client.get(f"{PREFIX}governance/exits/{exit_id}", headers=AS_OTHER)
    assert "数据删除证明" in document.text
    english = client.get(f"{PREFIX}governance/exits/{exit_id}?lang=en", headers=AS_OTHER)
    assert "Deletion certificate" in english.text
    exported = client.get(f"{PREFIX}governance/exits/{exit_id}.json", headers=AS_OTHER)
    digest = hashlib.sha256(exported.content).hexdigest()
    assert exported.headers["x-certificate-sha256"] == digest
    assert digest in document.text
    assert {i["kind"] for i in exported.json()["items"]} == {"api_key"}


def test_only_another_administrator_accepts_the_certificate(
    world: tuple[TestClient, Database, str],
) -> None:
    client, _db, exit_id = world
    accept = f"{PREFIX}governance/exits/{exit_id}/accept"
    same = client.post(accept, data={"note": "自己验收"}, headers=AS_ADMIN)
    assert same.status_code == 409
    assert "may not also accept" in same.text
    assert client.post(accept, data={}, headers=AS_OPERATOR).status_code == 403
    done = client.post(accept, data={"note": "已核对"}, headers=AS_OTHER, follow_redirects=False)
    assert done.status_code == 303
    page = client.get(f"{PREFIX}governance/exits", headers=AS_ADMIN)
    assert "已验收: admin-bureau" in page.text
    again = client.post(accept, data={}, headers=AS_OTHER)
    assert again.status_code == 409


def test_a_tampered_certificate_is_shown_as_such_and_cannot_be_accepted(
    world: tuple[TestClient, Database, str],
) -> None:
    client, db, exit_id = world
    with db.session(write=True) as session:
        row = session.get(ExitRow, exit_id)
        assert row is not None
        stored = json.loads(row.certificate)
        stored["reason"] = "另有原因"
        row.certificate = json.dumps(stored, ensure_ascii=False)
    page = client.get(f"{PREFIX}governance/exits", headers=AS_OTHER)
    assert "证明已被篡改" in page.text
    assert f"governance/exits/{exit_id}/accept" not in page.text
    document = client.get(f"{PREFIX}governance/exits/{exit_id}", headers=AS_OTHER)
    assert document.status_code == 400
    assert "no longer matches its sha256" in document.text
    refused = client.post(f"{PREFIX}governance/exits/{exit_id}/accept", headers=AS_OTHER)
    assert refused.status_code == 400


def test_the_rest_api_lists_serves_and_accepts_for_administrators_only(
    world: tuple[TestClient, Database, str],
) -> None:
    client, _db, exit_id = world
    api = f"{PREFIX}api/v1/exits"
    assert client.get(api, headers=AS_OPERATOR).status_code == 403
    (listed,) = client.get(api, headers=AS_ADMIN).json()
    assert listed["id"] == exit_id
    assert listed["state"] == "verified"
    got = client.get(f"{api}/{exit_id}/certificate", headers=AS_OTHER).json()
    assert got["sha256"] == listed["certificate_sha256"]
    assert got["certificate"]["subject"] == "suzhou_rcb"
    assert client.post(f"{api}/{exit_id}/accept", json={}, headers=AS_ADMIN).status_code == 409
    done = client.post(f"{api}/{exit_id}/accept", json={"note": "同意"}, headers=AS_OTHER)
    assert done.status_code == 200
    assert done.json()["state"] == "accepted"
