"""The hand-over of approved models from the shuyu service to the product API's own
container: the service verifies and publishes, the API checks again and serves; the API
holds no approval key and no MLflow credential, so what it trusts is the record the
service wrote, and every file it serves must match that record's sha256."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from shuyu.audit import events as audit_events
from shuyu.audit.log import AuditLog
from shuyu.policy.models import ApiProduct
from shuyu.products.accounts import AgreementSpec, ConsumerSpec
from shuyu.products.admins import Admin
from shuyu.products.approved_model import ModelRefused
from shuyu.products.clock import Clock
from shuyu.products.keys import KeyHasher
from shuyu.products.published import (
    CURRENT,
    PublishedModels,
    publish_verified,
    withdraw,
)
from shuyu.products.serve import create_product_app
from shuyu.products.service import ProductService, build_product_service
from shuyu.registry.approved import VerifiedModel
from shuyu.store.database import Database
from tests.unit.product_world import (
    APPROVAL_KEY,
    ENTERPRISE_TERMS,
    MASKING_KEY,
    PEPPER,
    Now,
    World,
    build_world,
    logistic_model,
    registered_version,
)

CREDIT = "enterprise_credit"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("published"), n=120)


def _version(world: World, version: str = "3", key: bytes = APPROVAL_KEY) -> VerifiedModel:
    """A version as the registry holds it after approval (signed with `key`)."""
    product = world.product(CREDIT)
    table = pl.read_parquet(world.tables / f"{CREDIT}.parquet")
    model = logistic_model(ENTERPRISE_TERMS, table, scenario=product.scenario)
    return registered_version(product, model, version=version, key=key)


def test_what_the_service_publishes_the_api_serves(world: World, tmp_path: Path) -> None:
    product = world.product(CREDIT)
    verified = _version(world)
    outcome = publish_verified(verified, product, APPROVAL_KEY, tmp_path)
    assert outcome.state == "published"
    served = PublishedModels(tmp_path)(product)
    assert (served.name, served.version) == (product.model, "3")
    assert served.onnx_sha256 == served.record.model_digests["model.onnx"]


def test_a_model_file_swapped_on_the_volume_is_not_served(world: World, tmp_path: Path) -> None:
    """The attack: someone who can write the published folder replaces the ONNX file
    with another model (here: the same model trained again, other weights)."""
    product = world.product(CREDIT)
    publish_verified(_version(world), product, APPROVAL_KEY, tmp_path)
    published = next((tmp_path / CREDIT).glob("v3-*/model.onnx"))
    published.write_bytes(published.read_bytes() + b"\x00")
    with pytest.raises(ModelRefused, match="differ from those the reviewers approved"):
        PublishedModels(tmp_path)(product)


def test_a_version_whose_approval_does_not_verify_is_never_published(
    world: World, tmp_path: Path
) -> None:
    forged = _version(world, key=b"a key that is not the platform's approval key")
    with pytest.raises(ModelRefused, match="signature"):
        publish_verified(forged, world.product(CREDIT), APPROVAL_KEY, tmp_path)
    assert not (tmp_path / CREDIT / CURRENT).exists()


def test_republishing_keeps_the_live_version_and_a_new_one_replaces_it(
    world: World, tmp_path: Path
) -> None:
    product = world.product(CREDIT)
    models = PublishedModels(tmp_path)
    publish_verified(_version(world, "3"), product, APPROVAL_KEY, tmp_path)
    stamp = models.stamp()
    assert publish_verified(_version(world, "3"), product, APPROVAL_KEY, tmp_path).state == "kept"
    assert models.stamp() == stamp  # nothing to reload
    publish_verified(_version(world, "4"), product, APPROVAL_KEY, tmp_path)
    publish_verified(_version(world, "5"), product, APPROVAL_KEY, tmp_path)
    assert models.stamp() != stamp
    assert models(product).version == "5"
    kept = sorted(p.name.split("-")[0] for p in (tmp_path / CREDIT).iterdir() if p.is_dir())
    assert kept == ["v4", "v5"]  # the one before stays while a reload may still read it


def test_a_withdrawn_product_is_unavailable_with_the_reason(
    world: World, tmp_path: Path, database: Database
) -> None:
    product = world.product(CREDIT)
    publish_verified(_version(world), product, APPROVAL_KEY, tmp_path)
    audit_events.install_sink(database.url)
    try:
        assert withdraw(tmp_path / CREDIT, product, "alias approved removed")
        assert not withdraw(tmp_path / CREDIT, product, "again")  # nothing more to do
    finally:
        audit_events.flush_sink()
    with pytest.raises(ModelRefused, match="no approved version"):
        PublishedModels(tmp_path)(product)
    actions = [e["action"] for e in AuditLog(database).events()]
    assert actions.count("product.model.withdraw") == 1


def _consumer_token(service: ProductService, product: ApiProduct) -> str:
    admin = Admin("admin")
    service.accounts.create_consumer(
        admin, ConsumerSpec(id="suzhou_rcb", name="演示银行", name_en="Demo bank", kind="bank")
    )
    service.accounts.set_agreement(
        admin,
        AgreementSpec(
            consumer_id="suzhou_rcb",
            product=product.id,
            purposes=["pre_loan_review"],
            valid_from=dt.date(2026, 7, 1),
            valid_until=dt.date(2027, 6, 30),
            daily_quota=100,
            monthly_quota=1000,
            price_fen=50,
            regions=["341300"],
        ),
    )
    return str(service.accounts.issue_key(admin, "suzhou_rcb").token)


def test_the_api_app_scores_on_a_published_model_and_reports_its_products(
    world: World, tmp_path: Path, database: Database
) -> None:
    product = world.product(CREDIT)
    published = tmp_path / "published"
    models = PublishedModels(published)
    now = Now(dt.datetime(2026, 7, 10, 2, 0, tzinfo=dt.UTC))
    audit_events.install_sink(database.url)
    try:
        service = build_product_service(
            database,
            policies=lambda: world.policies,
            products=world.products,
            hasher=KeyHasher(PEPPER),
            masking_key=MASKING_KEY,
            tables=world.tables,
            models=models,
            clock=Clock(world.products.monitoring.timezone, now),
        )
        client = TestClient(create_product_app(service))
        assert client.get("/healthz").json()["products"][CREDIT] is False
        token = _consumer_token(service, product)
        body = {"subjects": [{"id": world.usccs()[0]}], "purpose": "pre_loan_review"}
        url = f"/api/v1/products/{CREDIT}/score"
        before = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        assert before.status_code == 503, before.text

        publish_verified(_version(world), product, APPROVAL_KEY, published)
        service.refresh()
        assert client.get("/healthz").json()["products"][CREDIT] is True
        after = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        assert after.status_code == 200, after.text
        assert after.json()["model"].endswith("3")
    finally:
        audit_events.flush_sink()
