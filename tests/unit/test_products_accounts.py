"""Consumers, keys and agreements as administrators manage them: only administrators,
every change audited (refusals too), agreements within their product and scenario."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from shuyu.audit import events as audit_events
from shuyu.audit.log import AuditLog
from shuyu.errors import InputError
from shuyu.policy import load_policies
from shuyu.products.accounts import AgreementSpec, ConsumerSpec, ProductAccounts
from shuyu.products.admins import Admin, Forbidden
from shuyu.products.cases import CaseDesk
from shuyu.products.clock import Clock
from shuyu.products.keys import KeyHasher, parse
from shuyu.products.monitor_rules import Hit
from shuyu.products.policy import load_products_policy
from shuyu.products.quota import Period, reserve, used
from shuyu.store.database import Database

POLICIES = load_policies()
PRODUCTS = load_products_policy(POLICIES)
ADMIN = Admin("admin")
PARTNER = Admin("sz-credit", frozenset({"partners"}))
BANK = ConsumerSpec(id="suzhou_rcb", name="宿州农商行", name_en="Suzhou RCB", kind="bank")


@pytest.fixture
def accounts(database: Database) -> Iterator[ProductAccounts]:
    audit_events.install_sink(database.url)
    try:
        yield ProductAccounts(
            database,
            policies=lambda: POLICIES,
            products=lambda: PRODUCTS,
            hasher=KeyHasher(b"a pepper of at least sixteen bytes"),
            clock=Clock(),
        )
    finally:
        audit_events.flush_sink()


def logged(database: Database) -> list[dict[str, Any]]:
    audit_events.flush_sink()
    found = [
        {**e, "details": json.loads(e["details"])}
        for e in AuditLog(database).events()
        if e["action"].startswith("product.")
    ]
    audit_events.install_sink(database.url)
    return found


def agreement(**changes: Any) -> AgreementSpec:
    values: dict[str, Any] = {
        "consumer_id": "suzhou_rcb",
        "product": "enterprise_credit",
        "purposes": ["pre_loan_review"],
        "valid_from": dt.date(2026, 7, 1),
        "valid_until": dt.date(2027, 6, 30),
        "daily_quota": 1000,
        "monthly_quota": 20000,
        "price_fen": 50,
        "regions": ["341300"],
    }
    return AgreementSpec(**{**values, **changes})


def test_a_partner_cannot_make_itself_a_consumer_or_mint_keys(
    accounts: ProductAccounts, database: Database
) -> None:
    with pytest.raises(Forbidden):
        accounts.create_consumer(PARTNER, BANK)
    accounts.create_consumer(ADMIN, BANK)
    with pytest.raises(Forbidden):
        accounts.issue_key(PARTNER, "suzhou_rcb")
    with pytest.raises(Forbidden):
        accounts.set_agreement(PARTNER, agreement(daily_quota=10**6, monthly_quota=10**7))
    assert accounts.consumer("suzhou_rcb").keys == []
    assert accounts.consumer("suzhou_rcb").agreements == []
    refusals = [(e["action"], e["actor"]) for e in logged(database) if e["outcome"] == "denied"]
    assert refusals == [
        ("product.consumer", "sz-credit"),
        ("product.key", "sz-credit"),
        ("product.agreement", "sz-credit"),
    ]


def test_every_change_is_audited_under_the_administrators_name(
    accounts: ProductAccounts, database: Database
) -> None:
    accounts.create_consumer(ADMIN, BANK)
    first = accounts.issue_key(ADMIN, "suzhou_rcb")
    second = accounts.rotate_key(ADMIN, first.key.id, grace_hours=2)
    accounts.revoke_key(ADMIN, second.key.id, "the bank reported it exposed")
    accounts.set_agreement(ADMIN, agreement())
    accounts.set_agreement(ADMIN, agreement(daily_quota=2000))
    accounts.terminate_agreement(ADMIN, "suzhou_rcb", "enterprise_credit", "contract ended")
    changes = [(e["action"], e["details"].get("change")) for e in logged(database)]
    assert changes == [
        ("product.consumer", "create"),
        ("product.key", "issue"),
        ("product.key", "rotate"),
        ("product.key", "revoke"),
        ("product.agreement", "set"),
        ("product.agreement", "set"),
        ("product.agreement", "terminate"),
    ]
    events = logged(database)
    assert all(e["actor"] == "admin" for e in events)
    replaced = events[5]["details"]
    assert (replaced["before"]["daily_quota"], replaced["after"]["daily_quota"]) == (1000, 2000)
    assert all(first.token not in json.dumps(e) for e in events)
    assert accounts.key(first.key.id).status == "rotated"
    assert accounts.key(first.key.id).replaced_by == second.key.id


def test_keys_are_well_formed_and_distinct(accounts: ProductAccounts) -> None:
    accounts.create_consumer(ADMIN, BANK)
    tokens = [accounts.issue_key(ADMIN, "suzhou_rcb").token for _ in range(20)]
    assert len(set(tokens)) == 20
    parsed = [parse(t) for t in tokens]
    assert all(p is not None for p in parsed)
    assert parse(tokens[0] + "x") is None
    assert parse(tokens[0].replace("sy_", "sk_")) is None


def test_an_agreement_stays_within_its_product_and_the_scenarios_authorisation(
    accounts: ProductAccounts,
) -> None:
    accounts.create_consumer(ADMIN, BANK)
    with pytest.raises(InputError, match="not purposes of enterprise_credit"):
        accounts.set_agreement(ADMIN, agreement(purposes=["marketing"]))
    with pytest.raises(InputError, match="authorisation"):
        accounts.set_agreement(ADMIN, agreement(valid_until=dt.date(2030, 1, 1)))
    with pytest.raises(InputError, match="unknown product"):
        accounts.set_agreement(ADMIN, agreement(product="raw_export"))
    with pytest.raises(ValidationError, match="region"):
        agreement(regions=["宿州"])
    with pytest.raises(ValidationError, match="monthly"):
        agreement(daily_quota=100, monthly_quota=50)
    with pytest.raises(ValidationError, match="before"):
        agreement(valid_from=dt.date(2027, 1, 1), valid_until=dt.date(2026, 12, 31))


def test_a_blocked_key_cannot_be_rotated_out_of_its_block(
    accounts: ProductAccounts, database: Database
) -> None:
    accounts.create_consumer(ADMIN, BANK)
    key = accounts.issue_key(ADMIN, "suzhou_rcb").key
    CaseDesk(database).block_key(
        Hit("enumeration", "批量遍历", "bulk enumeration", {"run": 10}),
        key_id=key.id,
        consumer_id="suzhou_rcb",
        product="enterprise_credit",
    )
    with pytest.raises(InputError, match="blocked"):
        accounts.rotate_key(ADMIN, key.id)


# ---------------------------------------------------------------- quotas


def test_the_quota_is_counted_atomically_across_threads(database: Database) -> None:
    granted: list[bool] = []
    lock = threading.Lock()

    def caller() -> None:
        with database.engine.connect() as connection:
            for _ in range(40):
                period = [Period("d:2026-07-10", 100)]
                ok = reserve(connection, "bank", "credit", period, 1) is None
                with lock:
                    granted.append(ok)

    threads = [threading.Thread(target=caller) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 100
    with database.engine.connect() as connection:
        assert used(connection, "bank", "credit", "d:2026-07-10") == 100


def test_a_request_counts_against_every_period_or_none(database: Database) -> None:
    day1 = [Period("d:2026-07-10", 10), Period("m:2026-07", 12)]
    day2 = [Period("d:2026-07-11", 10), Period("m:2026-07", 12)]
    with database.engine.connect() as c:
        assert reserve(c, "bank", "credit", day1, 8) is None
        assert reserve(c, "bank", "credit", day1, 5) == day1[0]
        assert reserve(c, "bank", "credit", day2, 5) == day2[1]  # the month is short
        assert used(c, "bank", "credit", "d:2026-07-11") == 0  # rolled back
        assert used(c, "bank", "credit", "m:2026-07") == 8
        assert reserve(c, "bank", "credit", day2, 4) is None
        assert reserve(c, "bank", "credit", day2, 11) == day2[0]  # more than a day allows
        assert used(c, "bank", "credit", "m:2026-07") == 12
