"""The product API as a consumer meets it: each control tested by the request a
consumer would try, over HTTP against the real router, gateway and database (SQLite
and PostgreSQL), with the real masked data, feature table and a signed approved model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shuyu.audit import events as audit_events
from shuyu.audit.log import AuditLog
from shuyu.data.masking.pseudonym import Pseudonymiser
from shuyu.policy.models import ProductPurpose
from shuyu.products.accounts import AgreementSpec, ConsumerSpec
from shuyu.products.admins import Admin
from shuyu.products.api import products_router
from shuyu.products.approved_model import ModelRefused, approved_model
from shuyu.products.clock import Clock
from shuyu.products.contracts import ScoreRequest
from shuyu.products.feature_table import SUBJECT_COLUMN
from shuyu.products.keys import KeyHasher
from shuyu.products.refusals import CODES, Code
from shuyu.products.service import ProductService, build_product_service
from shuyu.registry.approval import APPROVAL_TAG, SIGNATURE_TAG
from shuyu.registry.approved import VerifiedModel
from shuyu.store.database import Database
from shuyu.tracking.store_client import ModelVersion
from tests.unit.product_world import (
    APPROVAL_KEY,
    ENTERPRISE_TERMS,
    MASKING_KEY,
    PEPPER,
    Now,
    World,
    build_world,
    logistic_model,
    other_usccs,
    product_service,
    registered_version,
)

ADMIN = Admin("admin")
CREDIT = "enterprise_credit"
HEALTH = "health_underwriting"
SCORE = f"/api/v1/products/{CREDIT}/score"
HEALTH_SCORE = f"/api/v1/products/{HEALTH}/score"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("products"))


@pytest.fixture
def now() -> Now:
    return Now(dt.datetime(2026, 7, 10, 2, 0, tzinfo=dt.UTC))  # 10:00 in 宿州


@pytest.fixture
def service(world: World, database: Database, now: Now) -> Iterator[ProductService]:
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


def consumer(
    service: ProductService,
    consumer_id: str = "suzhou_rcb",
    *,
    product: str = CREDIT,
    purposes: tuple[str, ...] = ("pre_loan_review",),
    valid_until: dt.date = dt.date(2027, 6, 30),
    daily: int = 1000,
    monthly: int = 20000,
    price_fen: int = 50,
    kind: str = "bank",
) -> str:
    """A consumer with an agreement for `product` and a key: the key's token."""
    service.accounts.create_consumer(
        ADMIN, ConsumerSpec(id=consumer_id, name="演示银行", name_en="Demo bank", kind=kind)
    )
    service.accounts.set_agreement(
        ADMIN,
        AgreementSpec(
            consumer_id=consumer_id,
            product=product,
            purposes=list(purposes),
            valid_from=dt.date(2026, 7, 1),
            valid_until=valid_until,
            daily_quota=daily,
            monthly_quota=monthly,
            price_fen=price_fen,
            regions=["341300"],
        ),
    )
    return service.accounts.issue_key(ADMIN, consumer_id).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def events(database: Database, action: str = "product.score") -> list[dict[str, Any]]:
    audit_events.flush_sink()
    found = [e for e in AuditLog(database).events() if e["action"] == action]
    audit_events.install_sink(database.url)
    return [{**e, "details": json.loads(e["details"])} for e in found]


def known_usccs(world: World) -> list[str]:
    """Credit codes of enterprises the masked zone still holds (k-anonymity may have
    suppressed a few), in the raw table's order."""
    table = pl.read_parquet(world.tables / f"{CREDIT}.parquet")
    present = set(table[SUBJECT_COLUMN].to_list())
    pseudonymiser = Pseudonymiser(MASKING_KEY)
    codes = world.usccs()
    pseudonyms = pseudonymiser.pseudonyms("enterprise", codes)
    return [c for c, p in zip(codes, pseudonyms, strict=True) if p in present]


# ---------------------------------------------------------------- scoring


def test_a_bank_gets_a_score_a_grade_and_factor_labels_and_nothing_else(
    client: TestClient, service: ProductService, world: World
) -> None:
    token = consumer(service)
    uscc = known_usccs(world)[0]
    answer = client.post(
        SCORE, json={"purpose": "pre_loan_review", "subject": {"id": uscc}}, headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    (result,) = body["results"]
    assert result["ok"]
    assert 0 < result["score"] < 1
    product = world.product(CREDIT)
    assert result["grade"] == product.grade_of(result["score"]).grade
    labels = {f.feature: f for f in product.factors}
    assert 1 <= len(result["factors"]) <= product.top_factors
    for factor in result["factors"]:
        declared = labels[factor["feature"]]
        expected = declared.raises if factor["direction"] == "raises" else declared.lowers
        assert factor["label"] == expected
    assert body["model"] == "bank_credit.suzhou_rcb v3"
    # no raw value leaves: neither the identifier nor any masked feature value
    row = pl.read_parquet(world.tables / f"{CREDIT}.parquet").filter(
        pl.col(SUBJECT_COLUMN) == Pseudonymiser(MASKING_KEY).pseudonyms("enterprise", [uscc])[0]
    )
    text = answer.text
    assert uscc not in text
    assert row[SUBJECT_COLUMN][0] not in text
    for name in ("paid_in_capital", "total_assets", "net_profit", "tax_arrears_total"):
        value = row[name][0]
        if value is not None:
            assert f"{value}" not in text
            assert f"{round(value, 2)}" not in text
    assert set(result) == {
        "index", "ok", "score", "grade", "grade_name", "grade_name_en", "factors",
        "consent_id", "error",
    }  # fmt: skip


def test_the_factors_follow_the_subjects_own_masked_features(
    client: TestClient, service: ProductService, world: World
) -> None:
    """The enterprise with the most unpaid social-insurance months (the model's largest
    weight) is told so, in the policy's words; one with none is not."""
    token = consumer(service)
    table = pl.read_parquet(world.tables / f"{CREDIT}.parquet")
    codes = known_usccs(world)
    pseudonyms = dict(
        zip(Pseudonymiser(MASKING_KEY).pseudonyms("enterprise", codes), codes, strict=True)
    )
    ranked = table.filter(pl.col(SUBJECT_COLUMN).is_in(list(pseudonyms))).sort(
        "social_insurance_unpaid_months", descending=True
    )
    worst = pseudonyms[ranked[SUBJECT_COLUMN][0]]
    answer = client.post(
        SCORE, json={"purpose": "pre_loan_review", "subject": {"id": worst}}, headers=bearer(token)
    ).json()
    labels = [f["label"] for f in answer["results"][0]["factors"]]
    assert "近12个月社保欠缴月数偏多" in labels


def test_a_batch_answers_each_subject_and_refuses_only_the_bad_ones(
    client: TestClient, service: ProductService, world: World
) -> None:
    token = consumer(service)
    good = known_usccs(world)[:3]
    (unknown,) = other_usccs(world, 1)  # valid, but no such enterprise here
    body = {
        "purpose": "pre_loan_review",
        "subjects": [{"id": good[0]}, {"id": "not-a-credit-code!"}, {"id": unknown},
                     {"id": good[1]}, {"id": good[2].lower()}],
    }  # fmt: skip
    answer = client.post(SCORE, json=body, headers=bearer(token))
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["ok"] for r in results] == [True, False, False, True, True]
    assert results[1]["error"]["code"] == "identifier_invalid"
    assert results[2]["error"]["code"] == "subject_unknown"


def test_a_batch_over_the_products_limit_is_refused_whole(
    client: TestClient, service: ProductService, world: World
) -> None:
    token = consumer(service)
    limit = world.product(CREDIT).batch_limit
    codes = (known_usccs(world) * 2)[: limit + 1]
    answer = client.post(
        SCORE,
        json={"purpose": "pre_loan_review", "subjects": [{"id": c} for c in codes]},
        headers=bearer(token),
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "batch_too_large"


def test_the_api_pseudonymises_exactly_as_the_masking_job_did(
    service: ProductService, world: World
) -> None:
    """Every enterprise of the raw table that the masked zone kept is found under the
    pseudonym the API computes from its credit code."""
    keys = service.gateway.served[CREDIT].subjects
    codes = world.usccs()
    computed = [s.pseudonym for s in keys.subjects(codes)]  # type: ignore[union-attr]
    masked = pl.read_parquet(world.masked / "enterprise_basic.parquet")["uscc"].to_list()
    assert set(masked) <= set(computed)
    assert computed == Pseudonymiser(MASKING_KEY).pseudonyms("enterprise", codes)


# ---------------------------------------------------------------- keys


def test_a_call_without_a_key_or_with_a_forged_one_is_refused(
    client: TestClient, service: ProductService, world: World
) -> None:
    token = consumer(service)
    body = {"purpose": "pre_loan_review", "subject": {"id": known_usccs(world)[0]}}
    assert client.post(SCORE, json=body).json()["error"]["code"] == "key_missing"
    key_id = token.split("_")[1]
    forged = f"sy_{key_id}_{'A' * 43}"  # the right id, a guessed secret
    for headers in (bearer(forged), bearer("sy_000000000000_" + "B" * 43), {"X-API-Key": "x"}):
        answer = client.post(SCORE, json=body, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "key_invalid"
    assert client.post(SCORE, json=body, headers={"X-API-Key": token}).status_code == 200


def test_the_key_is_shown_once_and_stored_only_as_a_keyed_hash(
    service: ProductService, database: Database
) -> None:
    token = consumer(service)
    key_id, secret = token.split("_")[1], token.split("_", 2)[2]
    with database.engine.connect() as connection:
        dump = " ".join(
            str(value)
            for table in ("product_api_keys", "product_consumers", "audit_events")
            for row in connection.exec_driver_sql(f"SELECT * FROM {table}")
            for value in row
        )
    assert secret not in dump
    assert token not in dump
    assert key_id in dump
    assert hashlib.sha256(secret.encode()).hexdigest() not in dump  # keyed, not a plain hash
    assert service.accounts.key(key_id).model_dump().keys().isdisjoint({"token", "secret_hash"})


def test_a_rotated_key_stops_after_its_grace_and_a_revoked_one_at_once(
    client: TestClient, service: ProductService, world: World, now: Now
) -> None:
    old = consumer(service)
    body = {"purpose": "pre_loan_review", "subject": {"id": known_usccs(world)[0]}}
    new = service.accounts.rotate_key(ADMIN, old.split("_")[1], grace_hours=1).token
    assert client.post(SCORE, json=body, headers=bearer(old)).status_code == 200
    now.advance(3601)
    answer = client.post(SCORE, json=body, headers=bearer(old))
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "key_revoked")
    assert client.post(SCORE, json=body, headers=bearer(new)).status_code == 200
    service.accounts.revoke_key(ADMIN, new.split("_")[1], "leaked in a ticket")
    assert (
        client.post(SCORE, json=body, headers=bearer(new)).json()["error"]["code"] == "key_revoked"
    )


def test_a_suspended_consumers_keys_are_refused(
    client: TestClient, service: ProductService, world: World
) -> None:
    token = consumer(service)
    service.accounts.set_consumer_status(ADMIN, "suzhou_rcb", "suspended", "agreement dispute")
    body = {"purpose": "pre_loan_review", "subject": {"id": known_usccs(world)[0]}}
    answer = client.post(SCORE, json=body, headers=bearer(token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "consumer_suspended")


# ---------------------------------------------------------------- agreements and quotas


def test_no_agreement_another_purpose_or_an_expired_agreement_is_refused(
    client: TestClient, service: ProductService, world: World, now: Now
) -> None:
    token = consumer(service, valid_until=dt.date(2026, 7, 31))
    subject = {"id": known_usccs(world)[0]}
    answer = client.post(
        SCORE, json={"purpose": "post_loan_monitoring", "subject": subject}, headers=bearer(token)
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "purpose_not_permitted")
    answer = client.post(
        f"/api/v1/products/{HEALTH}/score",
        json={"purpose": "underwriting", "subject": {"id": world.resident_ids()[0]}},
        headers=bearer(token),
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "agreement_missing")
    now.local(2026, 8, 1, 0, 5)  # the day after the agreement's last
    answer = client.post(
        SCORE, json={"purpose": "pre_loan_review", "subject": subject}, headers=bearer(token)
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "agreement_expired")
    unknown = client.post(
        "/api/v1/products/raw_tables/score",
        json={"purpose": "pre_loan_review", "subject": subject},
        headers=bearer(token),
    )
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "product_unknown")


def test_the_daily_quota_is_counted_per_subject_and_resets_at_local_midnight(
    client: TestClient, service: ProductService, world: World, now: Now
) -> None:
    token = consumer(service, daily=5, monthly=7)
    codes = known_usccs(world)
    now.local(2026, 7, 10, 23, 50)
    batch = {"purpose": "pre_loan_review", "subjects": [{"id": c} for c in codes[:4]]}
    assert client.post(SCORE, json=batch, headers=bearer(token)).status_code == 200
    answer = client.post(SCORE, json=batch, headers=bearer(token))  # 4 more: 8 > 5
    assert (answer.status_code, answer.json()["error"]["code"]) == (429, "quota_exceeded")
    assert "daily" in answer.json()["error"]["message_en"]
    one = {"purpose": "pre_loan_review", "subject": {"id": codes[5]}}
    assert client.post(SCORE, json=one, headers=bearer(token)).status_code == 200  # 5th
    assert client.post(SCORE, json=one, headers=bearer(token)).status_code == 429
    now.local(2026, 7, 11, 0, 1)  # a new day in 宿州, but the month allows 7
    assert client.post(SCORE, json=one, headers=bearer(token)).status_code == 200
    assert client.post(SCORE, json=one, headers=bearer(token)).status_code == 200
    answer = client.post(SCORE, json=one, headers=bearer(token))
    assert "monthly" in answer.json()["error"]["message_en"]


# ---------------------------------------------------------------- consent


def health_consumer(service: ProductService) -> str:
    return consumer(
        service, "life_insurer", product=HEALTH, purposes=("underwriting",), kind="insurer"
    )


def register(
    client: TestClient,
    token: str,
    subject: str,
    *,
    until: str = "2027-01-01",
    purpose: str = "underwriting",
) -> dict[str, Any]:
    answer = client.post(
        f"/api/v1/products/{HEALTH}/consents",
        json={
            "subject": subject,
            "purpose": purpose,
            "valid_from": "2026-07-01",
            "valid_until": until,
            "document_sha256": hashlib.sha256(f"授权书 {subject}".encode()).hexdigest(),
        },
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_personal_score_needs_the_subjects_consent_for_this_purpose_in_force(
    client: TestClient, service: ProductService, world: World, database: Database
) -> None:
    token = health_consumer(service)
    people = world.resident_ids()
    ask = {"purpose": "underwriting", "subject": {"id": people[0]}}
    answer = client.post(HEALTH_SCORE, json=ask, headers=bearer(token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "consent_missing")

    consent = register(client, token, people[0])
    assert consent["subject"].startswith("person:")
    assert people[0] not in json.dumps(consent)
    answer = client.post(HEALTH_SCORE, json=ask, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["consent_id"] == consent["id"]

    register(client, token, people[1], until="2026-07-05")  # lapsed before today
    answer = client.post(
        HEALTH_SCORE, json={"purpose": "underwriting", "subject": {"id": people[1]}},
        headers=bearer(token),
    )  # fmt: skip
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "consent_expired")

    # a consent for one purpose does not serve another (the agreement allows both here)
    service.accounts.set_agreement(
        ADMIN,
        AgreementSpec(
            consumer_id="life_insurer", product=HEALTH, purposes=["underwriting"],
            valid_from=dt.date(2026, 7, 1), valid_until=dt.date(2027, 6, 30), daily_quota=100,
            monthly_quota=1000, price_fen=200, regions=["341300"],
        ),
    )  # fmt: skip
    withdrawn = client.post(
        f"/api/v1/products/{HEALTH}/consents/{consent['id']}/withdraw", headers=bearer(token)
    )
    assert withdrawn.json()["status"] == "withdrawn"
    answer = client.post(HEALTH_SCORE, json=ask, headers=bearer(token))
    assert answer.json()["error"]["code"] == "consent_missing"

    # the audit log names the consent a score rested on, and the pseudonym, never the ID
    scored = [e for e in events(database) if e["details"]["result"] == "scored"]
    assert scored[0]["details"]["consent"] == consent["id"]
    assert all(people[0] not in json.dumps(e) for e in events(database, "product.consent"))


def test_another_consumers_consent_or_a_consent_for_another_purpose_does_not_count(
    client: TestClient, service: ProductService, world: World
) -> None:
    person = world.resident_ids()[2]
    # a second purpose on the product, so that a consent can be for the other one
    health = world.product(HEALTH)
    two = health.model_copy(
        update={
            "purposes": [
                *health.purposes,
                ProductPurpose(id="claims", name="理赔", name_en="Claims"),
            ]
        }
    )
    service.gateway.served[HEALTH].product = two
    service.accounts.products = lambda: _with(world, two)
    token = consumer(
        service, "life_insurer", product=HEALTH, purposes=("underwriting", "claims"), kind="insurer"
    )
    other = consumer(
        service, "other_insurer", product=HEALTH, purposes=("underwriting",), kind="insurer"
    )
    register(client, other, person)  # the other insurer's consent
    register(client, token, person, purpose="claims")
    answer = client.post(
        HEALTH_SCORE,
        json={"purpose": "underwriting", "subject": {"id": person}},
        headers=bearer(token),
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "consent_other_purpose")
    assert (
        client.post(
            HEALTH_SCORE,
            json={"purpose": "claims", "subject": {"id": person}},
            headers=bearer(token),
        ).status_code
        == 200
    )


def _with(world: World, product: Any) -> Any:
    return world.products.model_copy(
        update={"products": [product if p.id == product.id else p for p in world.products.products]}
    )


# ---------------------------------------------------------------- the model


def test_a_model_whose_files_or_record_changed_after_approval_is_not_served(
    world: World, database: Database, now: Now
) -> None:
    product = world.product(CREDIT)
    table = pl.read_parquet(world.tables / f"{CREDIT}.parquet")
    model = logistic_model(ENTERPRISE_TERMS, table, scenario=product.scenario)
    good = registered_version(product, model)
    assert approved_model(good, product=product, approval_key=APPROVAL_KEY).version == "3"

    swapped = logistic_model(
        [(n, k, -w) for n, k, w in ENTERPRISE_TERMS], table, scenario="bank_credit"
    )
    changed = VerifiedModel(good.version, {**good.files, "model.onnx": swapped.SerializeToString()})
    with pytest.raises(ModelRefused, match="differ from those the reviewers approved"):
        approved_model(changed, product=product, approval_key=APPROVAL_KEY)

    record = json.loads(good.version.tags[APPROVAL_TAG])
    record["scenario"] = "health_underwriting"
    forged_tags = {**good.version.tags, APPROVAL_TAG: json.dumps(record)}
    forged = VerifiedModel(_version(good.version, forged_tags), good.files)
    with pytest.raises(ModelRefused, match="signature does not verify"):
        approved_model(forged, product=product, approval_key=APPROVAL_KEY)

    unsigned = {k: v for k, v in good.version.tags.items() if k != SIGNATURE_TAG}
    with pytest.raises(ModelRefused, match="signature"):
        approved_model(
            VerifiedModel(_version(good.version, unsigned), good.files),
            product=product,
            approval_key=APPROVAL_KEY,
        )
    with pytest.raises(ModelRefused, match="signature"):
        approved_model(good, product=product, approval_key=b"another key entirely")

    # a model that reads a feature the product does not declare
    reader = logistic_model(
        [("social_insurance_unpaid_months", "int", 1.0)], table, scenario="bank_credit"
    )
    reader.graph.input[0].name = "legal_rep_name"
    for node in reader.graph.node:
        node.input[:] = [
            "legal_rep_name" if i == "social_insurance_unpaid_months" else i for i in node.input
        ]
    with pytest.raises(ModelRefused, match="does not declare: legal_rep_name"):
        approved_model(
            registered_version(product, reader), product=product, approval_key=APPROVAL_KEY
        )


def _version(version: ModelVersion, tags: dict[str, str]) -> ModelVersion:
    return ModelVersion(
        version.name, version.version, version.source, version.run_id, tags, version.aliases
    )


def test_a_product_without_a_verified_model_answers_503_with_its_code(
    world: World, database: Database, now: Now
) -> None:
    def refuse(product: Any) -> Any:
        raise ModelRefused("bank_credit.suzhou_rcb has no version with alias 'approved'")

    service = build_product_service(
        database, policies=lambda: world.policies, products=world.products,
        hasher=KeyHasher(PEPPER), masking_key=MASKING_KEY, tables=world.tables, models=refuse,
        clock=Clock("Asia/Shanghai", now),
    )  # fmt: skip
    app = FastAPI()
    app.include_router(products_router(service.gateway))
    token = consumer(service)
    answer = TestClient(app).post(
        SCORE, json={"purpose": "pre_loan_review", "subject": {"id": known_usccs(world)[0]}},
        headers=bearer(token),
    )  # fmt: skip
    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "product_unavailable")


# ---------------------------------------------------------------- audit and schema


def test_every_call_is_one_audit_event_per_subject_and_the_chain_verifies(
    client: TestClient, service: ProductService, world: World, database: Database
) -> None:
    token = consumer(service)
    codes = known_usccs(world)
    client.post(
        SCORE,
        json={"purpose": "pre_loan_review", "subject": {"id": codes[0]}},
        headers=bearer(token),
    )
    client.post(
        SCORE, json={"purpose": "pre_loan_review", "subjects": [{"id": c} for c in codes[1:4]]},
        headers=bearer(token),
    )  # fmt: skip
    client.post(SCORE, json={"purpose": "pre_loan_review", "subject": {"id": codes[0]}})  # no key
    client.post(
        SCORE, json={"purpose": "other_use", "subject": {"id": codes[0]}}, headers=bearer(token)
    )
    found = events(database)
    assert len(found) == 1 + 3 + 1 + 1
    pseudonyms = Pseudonymiser(MASKING_KEY).pseudonyms("enterprise", codes[:4])
    scored = [e for e in found if e["details"]["result"] == "scored"]
    assert [e["details"]["subject"] for e in scored] == pseudonyms
    for event in scored:
        details = event["details"]
        assert event["actor"] == "suzhou_rcb"
        assert event["outcome"] == "allowed"
        assert details["purpose"] == "pre_loan_review"
        assert details["billable"] is True
        assert details["latency_ms"] > 0
        assert details["key"] == token.split("_")[1]
    refused = [e["details"]["result"] for e in found if e["outcome"] == "denied"]
    assert refused == ["key_missing", "purpose_not_permitted"]
    assert all(c not in json.dumps(found) for c in codes[:4])
    audit_events.flush_sink()
    assert AuditLog(database).verify().ok


def test_every_error_code_is_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"][SCORE.replace(CREDIT, "{product}")]["post"]
    listed = " ".join(r.get("description", "") for r in operation["responses"].values())
    for code, info in CODES.items():
        assert f"`{code.value}`" in listed
        assert str(info.status) in operation["responses"]
    enum = schema["components"]["schemas"]["Code"]["enum"]
    assert set(enum) == {c.value for c in Code}
    assert re.search(r"bearer", json.dumps(schema["components"]["securitySchemes"]), re.I)


def test_the_scores_are_the_models_on_the_masked_features(
    service: ProductService, world: World
) -> None:
    """The gateway's score for a subject is the approved model's output on that
    subject's row of the feature table, computed independently here."""
    token = consumer(service)
    codes = known_usccs(world)[:20]
    response = service.gateway.score(
        token,
        CREDIT,
        ScoreRequest(purpose="pre_loan_review", subjects=[{"id": c} for c in codes]),  # type: ignore[list-item]
    )
    table = pl.read_parquet(world.tables / f"{CREDIT}.parquet")
    index = {s: i for i, s in enumerate(table[SUBJECT_COLUMN].to_list())}
    rows = [index[p] for p in Pseudonymiser(MASKING_KEY).pseudonyms("enterprise", codes)]
    expected = world.models[CREDIT].onnx.score(table[rows])
    got = np.array([r.score for r in response.results])
    assert np.allclose(got, expected, atol=1e-6)
