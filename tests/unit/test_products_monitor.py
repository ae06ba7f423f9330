"""事中检查 on the live stream of calls: synthetic traffic that trips each rule is blocked
at once (the next call gets 403 with the case number) and opens a case with its
evidence; a bank's and an insurer's normal daytime traffic is never blocked; only an
administrator unblocks, with a reason, audited. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shuyu.audit import events as audit_events
from shuyu.audit.log import AuditLog
from shuyu.data.identifiers import org_code_check, uscc_check
from shuyu.errors import InputError
from shuyu.products.accounts import AgreementSpec, ConsumerSpec
from shuyu.products.admins import Admin, Forbidden
from shuyu.products.api import products_router
from shuyu.products.case_states import CaseState, Resolution
from shuyu.products.service import ProductService
from shuyu.store.database import Database
from tests.unit.product_world import Now, World, build_world, other_usccs, product_service
from tests.unit.test_products_api import bearer, known_usccs

ADMIN = Admin("admin")
REVIEWER = Admin("rv-bureau", frozenset({"reviewers", "reviewers_bureau"}))
SCORE = "/api/v1/products/enterprise_credit/score"
HEALTH_SCORE = "/api/v1/products/health_underwriting/score"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("monitor"))


@pytest.fixture
def now() -> Now:
    clock = Now(dt.datetime(2026, 7, 10, tzinfo=dt.UTC))
    clock.local(2026, 7, 10, 9, 0)
    return clock


@pytest.fixture
def notices() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def service(
    world: World, database: Database, now: Now, notices: list[dict[str, Any]]
) -> Iterator[ProductService]:
    audit_events.install_sink(database.url)
    try:
        yield product_service(world, database, now, notify=notices.append)
    finally:
        audit_events.flush_sink()


@pytest.fixture
def client(service: ProductService) -> TestClient:
    app = FastAPI()
    app.include_router(products_router(service.gateway))
    return TestClient(app)


def bank(service: ProductService, *, daily: int = 5000, consumer: str = "suzhou_rcb") -> str:
    service.accounts.create_consumer(
        ADMIN, ConsumerSpec(id=consumer, name="宿州农商行", name_en="Suzhou RCB", kind="bank")
    )
    service.accounts.set_agreement(
        ADMIN,
        AgreementSpec(
            consumer_id=consumer,
            product="enterprise_credit",
            purposes=["pre_loan_review", "post_loan_monitoring"],
            valid_from=dt.date(2026, 7, 1),
            valid_until=dt.date(2027, 6, 30),
            daily_quota=daily,
            monthly_quota=daily * 30,
            price_fen=50,
            regions=["341300"],
        ),
    )
    return service.accounts.issue_key(ADMIN, consumer).token


def insurer(service: ProductService) -> str:
    service.accounts.create_consumer(
        ADMIN, ConsumerSpec(id="life_insurer", name="人寿宿州", name_en="Life", kind="insurer")
    )
    service.accounts.set_agreement(
        ADMIN,
        AgreementSpec(
            consumer_id="life_insurer",
            product="health_underwriting",
            purposes=["underwriting"],
            valid_from=dt.date(2026, 7, 1),
            valid_until=dt.date(2027, 6, 30),
            daily_quota=500,
            monthly_quota=10000,
            price_fen=300,
            regions=["341300"],
        ),
    )
    return service.accounts.issue_key(ADMIN, "life_insurer").token


def ask(client: TestClient, token: str, codes: list[str], purpose: str = "pre_loan_review") -> Any:
    body: dict[str, Any] = {"purpose": purpose}
    if len(codes) == 1:
        body["subject"] = {"id": codes[0]}
    else:
        body["subjects"] = [{"id": c} for c in codes]
    return client.post(SCORE, json=body, headers=bearer(token))


def blocked_case(answer: Any) -> str:
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == "key_blocked"
    assert error["case"] in error["message"]
    return str(error["case"])


def sequential_usccs(n: int, region: str = "341302") -> list[str]:
    """Credit codes whose organisation codes count up: what walking a range yields."""
    out = []
    for i in range(n):
        org = f"MA{i + 1:06d}"
        first17 = f"91{region}{org}{org_code_check(org)}"
        out.append(first17 + uscc_check(first17))
    return out


# ---------------------------------------------------------------- each rule


def test_night_time_high_frequency_blocks_the_key_and_opens_a_case(
    client: TestClient,
    service: ProductService,
    world: World,
    now: Now,
    notices: list[dict[str, Any]],
    database: Database,
) -> None:
    token = bank(service)
    codes = known_usccs(world)
    random.Random(1).shuffle(codes)
    now.local(2026, 7, 11, 1, 30)
    answers = []
    for start in range(0, 240, 20):  # 20 subjects a call, one call every 3 minutes
        answers.append(ask(client, token, codes[start : start + 20]))
        now.advance(180)
        if answers[-1].status_code != 200:
            break
    # 200 subjects are allowed in one night; the call that passes them is answered, the
    # next is refused with the case number
    assert [a.status_code for a in answers[:11]] == [200] * 11
    case_id = blocked_case(answers[11])
    case = service.cases.case(case_id)
    assert case.rule == "night_calls"
    assert case.state is CaseState.OPEN
    assert case.evidence["subjects"] == 220
    assert case.evidence["night"] == "2026-07-11"
    assert case.subject == token.split("_")[1]
    assert "夜间" in case.summary_zh
    assert notices[-1]["case"] == case_id
    assert notices[-1]["recipient"] == "group:admins"
    assert all(c not in json.dumps(case.model_dump(mode="json")) for c in codes)
    assert service.accounts.key(case.subject).status == "blocked"
    audit_events.flush_sink()
    blocks = [e for e in AuditLog(database).events() if e["action"] == "product.block"]
    assert json.loads(blocks[0]["details"])["case"] == case_id
    audit_events.install_sink(database.url)


def test_enumerating_many_distinct_subjects_is_blocked(
    client: TestClient, service: ProductService, world: World, now: Now
) -> None:
    token = bank(service, daily=100_000)
    probes = other_usccs(world, 1100, counties=("341302", "341321"), seed=5)
    statuses = []
    for start in range(0, 1100, 100):
        statuses.append(ask(client, token, probes[start : start + 100]).status_code)
        now.advance(240)
        if statuses[-1] != 200:
            break
    case_id = blocked_case(ask(client, token, probes[:1]))
    case = service.cases.case(case_id)
    assert case.rule == "enumeration"
    assert case.evidence["distinct_subjects"] > 1000


def test_walking_a_range_of_consecutive_identifiers_is_blocked(
    client: TestClient, service: ProductService, now: Now
) -> None:
    token = bank(service)
    walk = sequential_usccs(12)
    answers = []
    for code in walk:
        answers.append(ask(client, token, [code]))
        now.advance(20)
    codes = [a.status_code for a in answers]
    assert codes[:10] == [404] * 10  # each is looked up (and unknown here) …
    case_id = blocked_case(answers[10])  # … until the tenth neighbour in a row
    case = service.cases.case(case_id)
    assert case.rule == "enumeration"
    assert case.evidence["run"] == 10
    assert walk[3] not in json.dumps(case.evidence)
    assert case.evidence["examples"][0].startswith("9134")


def test_cross_region_batch_queries_are_blocked(
    client: TestClient, service: ProductService, world: World, now: Now
) -> None:
    token = bank(service)
    local = known_usccs(world)[:10]
    ordos = other_usccs(world, 25, counties=("150602", "150621"), seed=8)
    assert ask(client, token, local).status_code == 200
    now.advance(60)
    assert ask(client, token, ordos).status_code == 200  # answered (unknown here) …
    case_id = blocked_case(ask(client, token, local[:1]))  # … and blocked
    case = service.cases.case(case_id)
    assert case.rule == "cross_region"
    assert case.evidence["outside"] == 25
    assert set(case.evidence["outside_regions"]) <= {"150602", "150621"}


def test_repeated_consent_failures_are_blocked(
    client: TestClient, service: ProductService, world: World, now: Now
) -> None:
    token = insurer(service)
    people = world.resident_ids()
    answers = []
    for person in people[:7]:
        answers.append(
            client.post(
                HEALTH_SCORE,
                json={"purpose": "underwriting", "subject": {"id": person}},
                headers=bearer(token),
            )
        )
        now.advance(30)
    assert [a.json()["error"]["code"] for a in answers[:6]] == ["consent_missing"] * 6
    case_id = blocked_case(answers[6])
    assert service.cases.case(case_id).rule == "consent_failures"


def test_a_quota_burst_is_blocked(
    client: TestClient, service: ProductService, world: World, now: Now
) -> None:
    token = bank(service, daily=1000)  # a burst: over 200 subjects in 10 minutes
    codes = known_usccs(world)
    for start in range(0, 200, 50):
        assert ask(client, token, codes[start : start + 50]).status_code == 200
        now.advance(60)
    assert ask(client, token, codes[200:210]).status_code == 200
    case_id = blocked_case(ask(client, token, codes[:1]))
    assert service.cases.case(case_id).rule == "quota_burst"


# ---------------------------------------------------------------- no false blocks


def test_a_banks_and_an_insurers_normal_day_is_never_blocked(
    client: TestClient, service: ProductService, world: World, now: Now
) -> None:
    """08:30–17:30: a bank checks ~700 enterprises (repeats, a few from elsewhere, some
    batches for its loan book), runs a small legitimate night batch, and an insurer
    underwrites applicants who signed consent (one applicant forgot to sign)."""
    rng = random.Random(2026)
    token = bank(service)
    insurer_token = insurer(service)
    codes = known_usccs(world)
    elsewhere = other_usccs(world, 40, counties=("150602", "340100"), seed=11)
    people = world.resident_ids()
    for person in people[:40]:
        client.post(
            "/api/v1/products/health_underwriting/consents",
            json={
                "subject": person, "purpose": "underwriting", "valid_from": "2026-07-01",
                "valid_until": "2027-06-30",
                "document_sha256": hashlib.sha256(person.encode()).hexdigest(),
            },
            headers=bearer(insurer_token),
        )  # fmt: skip
    now.local(2026, 7, 13, 2, 0)  # the loan book's nightly re-score: 150 subjects
    for start in range(0, 150, 50):
        assert (
            ask(client, token, codes[start : start + 50], "post_loan_monitoring").status_code == 200
        )
        now.advance(120)
    now.local(2026, 7, 13, 8, 30)
    statuses: list[int] = []
    for minute in range(0, 540, 1):
        now.local(2026, 7, 13, 8 + (30 + minute) // 60, (30 + minute) % 60)
        if rng.random() < 0.6:
            pick = rng.choice(elsewhere) if rng.random() < 0.05 else rng.choice(codes)
            statuses.append(ask(client, token, [pick]).status_code)
        if minute % 90 == 0:
            statuses.append(ask(client, token, rng.sample(codes, 30)).status_code)
        if rng.random() < 0.08:
            person = rng.choice(people[:41])  # people[40] never signed
            answer = client.post(
                HEALTH_SCORE,
                json={"purpose": "underwriting", "subject": {"id": person}},
                headers=bearer(insurer_token),
            )
            statuses.append(answer.status_code)
    assert len(statuses) > 300
    assert set(statuses) <= {200, 403, 404}
    assert service.cases.cases(None) == []
    for view in service.accounts.consumers():
        assert {k.status for k in view.keys} == {"active"}


# ---------------------------------------------------------------- unblocking


def test_only_an_administrator_unblocks_with_a_reason_and_the_case_closes(
    client: TestClient, service: ProductService, world: World, now: Now, database: Database
) -> None:
    token = bank(service)
    key_id = token.split("_")[1]
    for code in sequential_usccs(10):
        ask(client, token, [code])
    case_id = blocked_case(ask(client, token, known_usccs(world)[:1]))
    with pytest.raises(Forbidden):
        service.cases.unblock(REVIEWER, key_id, "looks fine to me")
    with pytest.raises(InputError, match="reason"):
        service.cases.unblock(ADMIN, key_id, "  ")
    taken = service.cases.take(ADMIN, case_id, "called the bank's risk officer")
    assert taken.state is CaseState.IN_REVIEW
    with pytest.raises(InputError, match="unblocking"):
        service.cases.close(ADMIN, case_id, Resolution.CLEARED, "fine")
    service.cases.unblock(ADMIN, key_id, "核查确认：该行按授信客户名单顺序核验，属正常业务")
    assert ask(client, token, known_usccs(world)[:1]).status_code == 200
    case = service.cases.case(case_id)
    assert case.state is CaseState.CLOSED
    assert case.resolution == "cleared"
    assert [h.to_state for h in case.history] == ["open", "in_review", "closed"]
    audit_events.flush_sink()
    logged = list(AuditLog(database).events())
    audit_events.install_sink(database.url)
    unblocks = [e for e in logged if e["action"] == "product.unblock"]
    assert [(e["actor"], e["outcome"]) for e in unblocks] == [
        ("rv-bureau", "denied"),
        ("admin", "allowed"),
    ]
    assert "正常业务" in json.loads(unblocks[1]["details"])["reason"]


def test_a_confirmed_case_revokes_the_key_for_good(
    client: TestClient, service: ProductService, world: World
) -> None:
    token = bank(service)
    for code in sequential_usccs(10):
        ask(client, token, [code])
    case_id = blocked_case(ask(client, token, known_usccs(world)[:1]))
    service.cases.close(ADMIN, case_id, Resolution.CONFIRMED, "按号段遍历企业信用代码，违反协议")
    answer = ask(client, token, known_usccs(world)[:1])
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "key_revoked")
    with pytest.raises(InputError):
        service.cases.unblock(ADMIN, token.split("_")[1], "try again")
