"""Filing (登记备案) as the bureau's administrators use it, on SQLite and PostgreSQL: a
product is filed from its live records; a change to anything filed makes the filing
stale; a stale or unfiled product is not run by production and not served by the API.

The registry is a stand-in answering as `RegistryModels.approved` does (the
production tests' own); the database, the policies, the shipped production notebook,
the production service and the product API over HTTP are the real ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shuyu.audit import events as audit_events
from shuyu.audit.log import AuditLog
from shuyu.errors import InputError
from shuyu.governance.filing_check import FilingState, production_notebook_sha256
from shuyu.governance.filing_export import filing_html, filing_json, read_filing_json
from shuyu.governance.filing_service import FilingRequest, FilingService
from shuyu.governance.filing_store import record_filing
from shuyu.governance.product_gate import ProductGovernance
from shuyu.governance.production_gate import ProductionGate
from shuyu.policy.models import Policies
from shuyu.production.scenario_notebooks import scenario_notebooks_dir
from shuyu.production.service import JobRequest, ProductionService
from shuyu.products.api import products_router
from shuyu.products.policy import load_products_policy
from shuyu.products.service import ProductService
from shuyu.registry.approved import ApprovedModel
from shuyu.review.service import Forbidden, Principal
from shuyu.store.database import Database
from tests.unit.product_world import Now, World, build_world, product_service
from tests.unit.test_production_service import (
    MODEL,
    OPERATOR,
    POLICIES,
    TODAY,
    Clock,
    Registry,
    Runner,
    Volumes,
)
from tests.unit.test_products_api import CREDIT, SCORE, bearer, consumer, known_usccs

ADMIN = Principal("bureau-admin", frozenset({"admins"}))
PRODUCTS = load_products_policy(POLICIES)


@dataclasses.dataclass
class Approved(Registry):
    """The production tests' registry, with the parts a filing covers movable."""

    version: str = "3"
    report_sha256: str = "a" * 64

    def approved(self, model_name: str) -> ApprovedModel:
        base = super().approved(model_name)
        version = dataclasses.replace(base.model.version, version=self.version)
        record = base.record.model_copy(update={"report_sha256": self.report_sha256})
        return ApprovedModel(dataclasses.replace(base.model, version=version), record)


def _events(database: Database, action: str) -> list[dict[str, Any]]:
    audit_events.flush_sink()
    found = [e for e in AuditLog(database).events() if e["action"] == action]
    audit_events.install_sink(database.url)
    return [{**e, "details": json.loads(e["details"])} for e in found]


@dataclasses.dataclass
class Desk:
    filings: FilingService
    registry: Approved
    policies: list[Policies]
    notebooks: Path


@pytest.fixture
def desk(database: Database, tmp_path: Path) -> Iterator[Desk]:
    notebooks = tmp_path / "notebooks"
    shutil.copytree(scenario_notebooks_dir(), notebooks)
    registry, policies = Approved(), [POLICIES]
    audit_events.install_sink(database.url)
    try:
        yield Desk(
            FilingService(
                database, lambda: policies[0], lambda: PRODUCTS, registry, notebooks=notebooks
            ),
            registry,
            policies,
            notebooks,
        )
    finally:
        audit_events.flush_sink()


def test_a_filing_holds_what_the_plans_require_from_the_live_records(
    desk: Desk, database: Database
) -> None:
    filed = desk.filings.file(ADMIN, FilingRequest(product=MODEL, note="首次备案"))
    content = filed.content
    assert (filed.product, filed.sequence, filed.model_version) == (MODEL, 1, "3")
    terms = POLICIES.scenarios["bank_credit"].filing
    assert terms is not None
    assert (content.application, content.scope, content.pricing_basis) == (
        terms.application,
        terms.scope,
        terms.pricing_basis,
    )
    providers = {d.id: d.provider for d in content.datasets}
    assert providers["tax_record"] == POLICIES.catalogue["tax_record"].provider
    assert [f.id for f in next(d for d in content.datasets if d.id == "tax_record").fields] == (
        POLICIES.scenarios["bank_credit"].datasets["tax_record"]
    )
    assert content.selfcheck_report_sha256 == "a" * 64
    assert content.approval.levels[0].reviewers[0][0] == "rv-provider"
    shipped = (desk.notebooks / "bank_credit" / "production.ipynb").read_bytes()
    assert content.production_notebook_sha256 == hashlib.sha256(shipped).hexdigest()
    assert [p.id for p in content.api_products] == [CREDIT]
    assert filed.fingerprint == hashlib.sha256(content.canonical().encode()).hexdigest()
    assert desk.filings.status(MODEL).state is FilingState.CURRENT

    (event,) = _events(database, "filing.create")
    assert (event["actor"], event["target"]) == (ADMIN.username, filed.id)
    assert event["details"]["fingerprint"] == filed.fingerprint


def test_only_administrators_file_and_a_current_filing_is_not_filed_twice(
    desk: Desk, database: Database
) -> None:
    with pytest.raises(Forbidden):
        desk.filings.file(OPERATOR, FilingRequest(product=MODEL))
    assert _events(database, "filing.create")[0]["outcome"] == "denied"
    desk.filings.file(ADMIN, FilingRequest(product=MODEL))
    with pytest.raises(InputError, match="is filed already"):
        desk.filings.file(ADMIN, FilingRequest(product=MODEL))


def _new_version(desk: Desk) -> None:
    desk.registry.version = "4"


def _new_notebook(desk: Desk) -> None:
    path = desk.notebooks / "bank_credit" / "production.ipynb"
    path.write_bytes(path.read_bytes() + b"\n")


def _new_report(desk: Desk) -> None:
    desk.registry.report_sha256 = "c" * 64


def _fewer_fields(desk: Desk) -> None:
    scenario = POLICIES.scenarios["bank_credit"]
    datasets = {**scenario.datasets, "tax_record": scenario.datasets["tax_record"][:-1]}
    changed = scenario.model_copy(update={"datasets": datasets})
    desk.policies[0] = POLICIES.model_copy(
        update={"scenarios": {**POLICIES.scenarios, "bank_credit": changed}}
    )


@pytest.mark.parametrize(
    ("change", "part"),
    [
        (_new_version, "model_version"),
        (_new_notebook, "production_notebook_sha256"),
        (_new_report, "selfcheck_report_sha256"),
        (_fewer_fields, "datasets"),
    ],
)
def test_a_filing_goes_stale_when_anything_filed_changes_until_it_is_refiled(
    desk: Desk, database: Database, change: Any, part: str
) -> None:
    first = desk.filings.file(ADMIN, FilingRequest(product=MODEL))
    change(desk)
    status = desk.filings.status(MODEL)
    assert status.state is FilingState.STALE
    assert part in status.changed
    assert status.filed_fingerprint == first.fingerprint != status.current_fingerprint

    again = desk.filings.file(ADMIN, FilingRequest(product=MODEL, note="变更后重新备案"))
    assert again.sequence == 2
    assert desk.filings.status(MODEL).state is FilingState.CURRENT
    (event,) = _events(database, "filing.refile")
    assert event["details"]["sequence"] == 2


def test_the_html_export_has_the_filing_headings_and_every_sha256(desk: Desk) -> None:
    filed = desk.filings.file(ADMIN, FilingRequest(product=MODEL))
    html = filing_html(filed)
    for heading in ("登记备案", "应用场景", "使用范围及方式", "定价依据", "数据提供单位",
                    "安全自查报告 sha256", "模型版本", "生产笔记本 sha256"):  # fmt: skip
        assert heading in html, heading
    content = filed.content
    for digest in (
        content.selfcheck_report_sha256,
        content.production_notebook_sha256,
        content.reviewed_notebook_sha256,
        content.approval_sha256,
        filed.fingerprint,
        *content.model_digests.values(),
    ):
        assert digest in html
    assert POLICIES.catalogue["tax_record"].provider in html
    english = filing_html(filed, lang="en")
    assert "Pricing basis" in english
    assert content.application_en in english
    assert '<html lang="zh-CN">' in html


def test_the_json_export_reads_back_as_the_same_filing(desk: Desk) -> None:
    filed = desk.filings.file(ADMIN, FilingRequest(product=MODEL))
    back = read_filing_json(filing_json(filed))
    assert back == filed
    assert back.content.fingerprint == filed.fingerprint


# ---------------------------------------------------------------- production


@pytest.fixture
def production(database: Database, tmp_path: Path, desk: Desk) -> ProductionService:
    return ProductionService(
        database,
        lambda: desk.policies[0],
        tmp_path / "files",
        tmp_path / "outbox",
        executor=Runner(),
        models=desk.registry,
        volumes=Volumes(),
        today=lambda: TODAY,
        now=Clock(),
        governance=ProductionGate(database),
    )


def _run(production: ProductionService, job: str) -> Any:
    production.now.now += dt.timedelta(seconds=1)  # type: ignore[attr-defined]
    run = production.run_now(OPERATOR, job)
    production.run_pending()
    return production.run(OPERATOR, run.id)


def test_production_refuses_an_unfiled_product_and_runs_it_once_filed(
    production: ProductionService, desk: Desk
) -> None:
    job = production.register_job(OPERATOR, JobRequest(scenario="bank_credit", model_name=MODEL))
    refused = _run(production, job.id)
    assert (refused.state, refused.failure) == ("failed", "filing_stale")
    assert "尚未登记备案" in refused.reason
    assert production.executor.jobs == []  # type: ignore[attr-defined]

    # the job pins the shipped notebook; the filing names the same one
    assert job.notebook_sha256 == production_notebook_sha256("bank_credit")
    desk.filings.notebooks = None
    desk.filings.file(ADMIN, FilingRequest(product=MODEL))
    assert _run(production, job.id).state == "released"


def test_an_operator_cannot_run_a_job_whose_model_changed_after_filing(
    production: ProductionService, desk: Desk
) -> None:
    desk.filings.notebooks = None
    desk.filings.file(ADMIN, FilingRequest(product=MODEL))
    job = production.register_job(OPERATOR, JobRequest(scenario="bank_credit", model_name=MODEL))
    desk.registry.version = "4"  # a new version approved, and not filed
    refused = _run(production, job.id)
    assert (refused.state, refused.failure) == ("failed", "filing_stale")
    assert "模型版本" in refused.reason
    assert "model version" in refused.reason
    assert production.executor.jobs == []  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the product API


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("filing-products"))


@pytest.fixture
def api(world: World, database: Database) -> Iterator[tuple[ProductService, TestClient]]:
    audit_events.install_sink(database.url)
    service = product_service(world, database, Now(dt.datetime(2026, 7, 10, 2, tzinfo=dt.UTC)))
    service.gateway.governance = ProductGovernance(database, lambda: world.policies, interval=0.0)
    app = FastAPI()
    app.include_router(products_router(service.gateway))
    try:
        yield service, TestClient(app)
    finally:
        audit_events.flush_sink()


def _file_served(world: World, database: Database, product: str = CREDIT) -> None:
    """File the product as the API serves it (what `shuyu filing create` records)."""
    from shuyu.governance.filing import build_filing  # noqa: PLC0415

    model = world.models[product]
    served = world.product(product)
    record_filing(
        database,
        ADMIN.username,
        build_filing(
            world.policies,
            [served],
            record=model.record,
            model_version=model.version,
            production_notebook_sha256=production_notebook_sha256(served.scenario),
        ),
        "",
    )


def test_a_consumer_calling_an_unfiled_or_stale_product_is_refused_with_its_code(
    api: tuple[ProductService, TestClient], world: World, database: Database
) -> None:
    service, client = api
    token = consumer(service)
    subject = known_usccs(world)[0]
    body = {"subject": {"id": subject}, "purpose": "pre_loan_review"}

    unfiled = client.post(SCORE, json=body, headers=bearer(token))
    assert unfiled.status_code == 503
    assert unfiled.json()["error"]["code"] == "filing_stale"

    _file_served(world, database)
    assert client.post(SCORE, json=body, headers=bearer(token)).status_code == 200

    # a new version is loaded (approved, published) but not filed: no longer served
    newer = dataclasses.replace(world.models[CREDIT], version="4")
    reloaded = dataclasses.replace(world, models={**world.models, CREDIT: newer})
    now = Now(dt.datetime(2026, 7, 10, 2, tzinfo=dt.UTC))
    service.gateway.served = product_service(reloaded, database, now).gateway.served
    stale = client.post(SCORE, json=body, headers=bearer(token))
    assert stale.status_code == 503
    assert stale.json()["error"]["code"] == "filing_stale"
    assert "model version" in stale.json()["error"]["message_en"]


def test_the_filing_and_freeze_codes_are_in_the_openapi_schema(
    api: tuple[ProductService, TestClient],
) -> None:
    _, client = api
    schema = json.dumps(client.app.openapi(), ensure_ascii=False)  # type: ignore[attr-defined]
    assert "`filing_stale`" in schema
    assert "`frozen`" in schema


def test_filings_need_the_scenarios_filing_terms(desk: Desk) -> None:
    scenario = POLICIES.scenarios["bank_credit"].model_copy(update={"filing": None})
    desk.policies[0] = POLICIES.model_copy(
        update={"scenarios": {**POLICIES.scenarios, "bank_credit": scenario}}
    )
    with pytest.raises(InputError, match="has no filing: block"):
        desk.filings.file(ADMIN, FilingRequest(product=MODEL))
