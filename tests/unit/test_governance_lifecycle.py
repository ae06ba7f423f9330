"""The authorisation lifecycle on a real database (SQLite and PostgreSQL): renewal
reminders six months ahead, and what expiry takes away — an expired agreement's keys,
an expired scenario's production schedules — each audited once, however often the
sweep runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from shuyu.audit import events as audit_events
from shuyu.governance.exit_store import ExitRegister
from shuyu.governance.lifecycle import SYSTEM, Lifecycle
from shuyu.governance.validity import Standing, months_before, standing
from shuyu.production.service import JobRequest, ProductionService
from shuyu.products.accounts import AgreementSpec, ProductAccounts
from shuyu.products.api import products_router
from shuyu.products.clock import Clock
from shuyu.products.keys import KeyHasher
from shuyu.products.policy import load_products_policy
from shuyu.products.service import ProductService
from shuyu.review.service import Forbidden, Principal
from shuyu.review.tables import NoticeRow
from shuyu.store.database import Database
from tests.unit.product_world import PEPPER, Now, World, build_world, product_service
from tests.unit.test_production_service import (
    MODEL,
    OPERATOR,
    POLICIES,
    Registry,
    Runner,
    Volumes,
)
from tests.unit.test_products_api import ADMIN, bearer, consumer, events, known_usccs

SCORE = "/api/v1/products/enterprise_credit/score"
ADMIN_PRINCIPAL = Principal("admin", frozenset({"admins"}))
BANK_CREDIT = POLICIES.scenario("bank_credit")


def _local(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _production(
    database: Database, tmp_path: Path, notices: list[dict[str, object]]
) -> ProductionService:
    return ProductionService(
        database,
        lambda: POLICIES,
        tmp_path / "files",
        tmp_path / "outbox",
        executor=Runner(),
        models=Registry(),
        volumes=Volumes(),
        notify=notices.append,
    )


def _notices(database: Database, recipient: str) -> list[NoticeRow]:
    with database.session() as session:
        return list(session.scalars(select(NoticeRow).where(NoticeRow.recipient == recipient)))


def test_standing_turns_renew_soon_six_calendar_months_before_the_last_valid_day() -> None:
    last = dt.date(2029, 6, 30)
    assert months_before(last, 6) == dt.date(2028, 12, 30)
    assert months_before(dt.date(2029, 8, 31), 6) == dt.date(2029, 2, 28)
    assert standing(last, dt.date(2028, 12, 29)) is Standing.VALID
    assert standing(last, dt.date(2028, 12, 30)) is Standing.RENEW_SOON
    assert standing(last, last) is Standing.RENEW_SOON  # its last day is still valid
    assert standing(last, dt.date(2029, 7, 1)) is Standing.EXPIRED


# ---------------------------------------------------------------- agreements and keys


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("lifecycle"))


@dataclass
class Products:
    service: ProductService
    client: TestClient
    lifecycle: Lifecycle
    now: Now
    sent: list[dict[str, object]]


@pytest.fixture
def products(world: World, database: Database, tmp_path: Path) -> Iterator[Products]:
    now = Now(_local(2026, 7, 10))
    audit_events.install_sink(database.url)
    try:
        service = product_service(world, database, now)
        app = FastAPI()
        app.include_router(products_router(service.gateway))
        sent: list[dict[str, object]] = []
        lifecycle = Lifecycle(
            database,
            policies=lambda: world.policies,
            products=lambda: world.products,
            accounts=service.accounts,
            production=_production(database, tmp_path, sent),
            notify=sent.append,
            clock=service.gateway.clock,
        )
        yield Products(service, TestClient(app), lifecycle, now, sent)
    finally:
        audit_events.flush_sink()


def test_an_old_key_of_an_expired_agreement_is_refused_then_revoked_once(
    products: Products, world: World, database: Database
) -> None:
    token = consumer(products.service, valid_until=dt.date(2026, 7, 31))
    (key,) = products.service.accounts.consumer("suzhou_rcb").keys
    body = {"purpose": "pre_loan_review", "subject": {"id": known_usccs(world)[0]}}
    assert products.client.post(SCORE, json=body, headers=bearer(token)).status_code == 200

    products.now.at = _local(2026, 8, 1)  # the agreement ended yesterday
    refused = products.client.post(SCORE, json=body, headers=bearer(token))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "agreement_expired")

    first = products.lifecycle.sweep(products.now())
    assert first.keys_revoked == [key.id]
    assert "agreement:suzhou_rcb/enterprise_credit" in first.expired
    assert products.service.accounts.key(key.id).status == "revoked"
    after = products.client.post(SCORE, json=body, headers=bearer(token))
    assert (after.status_code, after.json()["error"]["code"]) == (401, "key_revoked")

    again = products.lifecycle.sweep(products.now() + dt.timedelta(hours=1))
    assert again.idle, again
    revocations = [
        e for e in events(database, "product.key")
        if e["target"] == key.id and e["details"].get("change") == "revoke"
    ]  # fmt: skip
    assert [e["actor"] for e in revocations] == [SYSTEM]
    expiries = [
        e for e in events(database, "governance.lifecycle.expiry")
        if e["target"] == "agreement:suzhou_rcb/enterprise_credit"
    ]  # fmt: skip
    assert len(expiries) == 1
    assert expiries[0]["details"]["keys_revoked"] == [key.id]
    told = [n for n in products.sent if n.get("item") == "suzhou_rcb/enterprise_credit"]
    assert [n["recipient"] for n in told] == ["group:admins"]
    assert key.id in str(told[0]["text_zh"])


def test_a_key_stays_while_another_agreement_of_its_consumer_is_in_force(
    products: Products, database: Database
) -> None:
    consumer(products.service, "ordos_bank", valid_until=dt.date(2026, 7, 31))
    products.service.accounts.set_agreement(
        ADMIN,
        AgreementSpec(
            consumer_id="ordos_bank", product="health_underwriting", purposes=["underwriting"],
            valid_from=dt.date(2026, 7, 1), valid_until=dt.date(2027, 6, 30), daily_quota=100,
            monthly_quota=1000, price_fen=10, regions=["341300"],
        ),
    )  # fmt: skip
    products.now.at = _local(2026, 8, 1)
    swept = products.lifecycle.sweep(products.now())
    assert "agreement:ordos_bank/enterprise_credit" in swept.expired
    assert swept.keys_revoked == []
    assert [k.status for k in products.service.accounts.consumer("ordos_bank").keys] == ["active"]


# ---------------------------------------------------------------- authorisations


@dataclass
class Staff:
    lifecycle: Lifecycle
    production: ProductionService
    sent: list[dict[str, object]]


@pytest.fixture
def staff(database: Database, tmp_path: Path) -> Iterator[Staff]:
    audit_events.install_sink(database.url)
    try:
        sent: list[dict[str, object]] = []
        products = load_products_policy(POLICIES)
        clock = Clock(products.monitoring.timezone)
        accounts = ProductAccounts(
            database,
            policies=lambda: POLICIES,
            products=lambda: products,
            hasher=KeyHasher(PEPPER),
            clock=clock,
        )
        production = _production(database, tmp_path, sent)
        lifecycle = Lifecycle(
            database,
            policies=lambda: POLICIES,
            products=lambda: products,
            accounts=accounts,
            production=production,
            notify=sent.append,
            clock=clock,
        )
        yield Staff(lifecycle, production, sent)
    finally:
        audit_events.flush_sink()


def test_a_scenario_five_months_from_its_end_is_renew_soon_with_one_reminder(
    staff: Staff, database: Database
) -> None:
    end = BANK_CREDIT.expires_on
    before = months_before(end, 7)  # more than six months ahead
    seven_months = _local(before.year, before.month, before.day)
    (early,) = [
        i for i in staff.lifecycle.overview(ADMIN_PRINCIPAL, seven_months) if i.id == "bank_credit"
    ]
    assert early.standing is Standing.VALID
    assert "authorisation:bank_credit" not in staff.lifecycle.sweep(seven_months).reminded

    soon = months_before(end, 5)
    five_months = _local(soon.year, soon.month, soon.day)
    listed = staff.lifecycle.overview(ADMIN_PRINCIPAL, five_months)
    (item,) = [i for i in listed if i.id == "bank_credit"]
    assert (item.standing, item.standing_zh) == (Standing.RENEW_SOON, "即将到期，请续期")
    assert item.days_left == (end - five_months.date()).days
    assert item.holders == ["suzhou_rcb", "ordos_bank"]

    assert "authorisation:bank_credit" in staff.lifecycle.sweep(five_months).reminded
    staff.lifecycle.sweep(five_months + dt.timedelta(days=1))
    staff.lifecycle.sweep(five_months + dt.timedelta(days=30))

    reminders = [e for e in events(database, "governance.lifecycle.reminder")
                 if e["target"] == "authorisation:bank_credit"]  # fmt: skip
    assert len(reminders) == 1
    told = [n for n in staff.sent if n.get("item") == "bank_credit"]
    assert sorted(str(n["recipient"]) for n in told) == ["group:admins", "ordos-risk", "sz-credit"]
    (on_page,) = [n for n in _notices(database, "sz-credit") if BANK_CREDIT.name in n.text_zh]
    assert str(end) in on_page.text_zh
    assert "renew" in on_page.text_en
    with pytest.raises(Forbidden):  # the list is the administrators'
        staff.lifecycle.overview(Principal("sz-credit", frozenset({"partners"})), five_months)


def test_an_expired_scenarios_production_schedule_is_paused_with_a_notice(
    staff: Staff, database: Database
) -> None:
    job = staff.production.register_job(
        OPERATOR, JobRequest(scenario="bank_credit", model_name=MODEL, cron="0 6 * * *")
    )
    assert (job.id, "0 6 * * *") in staff.production.scheduled_jobs()
    day_after = BANK_CREDIT.expires_on + dt.timedelta(days=1)
    at = _local(day_after.year, day_after.month, day_after.day, 0)

    swept = staff.lifecycle.sweep(at)
    assert swept.jobs_paused == [job.id]
    assert "authorisation:bank_credit" in swept.expired
    assert (job.id, "0 6 * * *") not in staff.production.scheduled_jobs()
    (paused,) = [j for j in staff.production.jobs(OPERATOR) if j.id == job.id]
    assert not paused.enabled

    assert staff.lifecycle.sweep(at + dt.timedelta(minutes=1)).idle
    disabled = [e for e in events(database, "production.job.disable") if e["target"] == job.id]
    assert [e["actor"] for e in disabled] == [SYSTEM]
    for recipient in ("group:operators", OPERATOR.username):
        assert any(
            job.id in n.text_zh and "暂停" in n.text_zh for n in _notices(database, recipient)
        )
    (partner_notice,) = [
        n for n in _notices(database, "sz-credit") if BANK_CREDIT.name in n.text_zh
    ]
    assert "沙箱" in partner_notice.text_zh
    assert "MLflow" in partner_notice.text_en
    expiry = [e for e in events(database, "governance.lifecycle.expiry")
              if e["target"] == "authorisation:bank_credit"]  # fmt: skip
    assert len(expiry) == 1
    assert expiry[0]["details"]["jobs_paused"] == [job.id]


def test_an_exit_not_accepted_by_its_deadline_is_alarmed_by_the_sweep_once(
    staff: Staff, database: Database
) -> None:
    exited = ExitRegister(database, today=lambda: dt.date(2026, 3, 1)).open_exit(
        ADMIN_PRINCIPAL, "partner", "freight_insurer", reason="合作期满退出", revoked={}
    )
    in_time = staff.lifecycle.sweep(_local(2026, 3, 31, 12))
    assert in_time.exits_overdue == []
    late = staff.lifecycle.sweep(_local(2026, 4, 1, 0))
    assert late.exits_overdue == [exited.id]
    assert not staff.lifecycle.sweep(_local(2026, 4, 2, 0)).exits_overdue
    told = [n for n in _notices(database, "group:admins") if exited.id in n.text_zh]
    assert len(told) == 1
    assert [e["target"] for e in events(database, "exit.overdue")] == [exited.id]
    assert [s["exit"] for s in staff.sent if "exit" in s] == [exited.id]
