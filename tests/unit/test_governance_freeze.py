"""Incident freezes (应急处置), each written as what the frozen party would try next, on
SQLite and PostgreSQL: a sandbox spawn, a sandbox left running, a production run, a
product API call. An administrator freezes in one action and lifts in another; both
are audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tornado import web

from shuyu.audit import events as audit_events
from shuyu.errors import InputError
from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.governance.freezes import Scope, read_active_freezes
from shuyu.hub.grants import grant_sandbox
from shuyu.hub.watch import why_stop
from shuyu.production.service import JobRequest, ProductionService
from shuyu.products.service import ProductService
from shuyu.review.service import Forbidden
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database
from tests.unit.test_governance_filing import (
    ADMIN,
    MODEL,
    OPERATOR,
    PRODUCTS,
    Desk,
    _events,
    _file_served,
    _run,
    api,  # noqa: F401 - fixtures
    desk,  # noqa: F401
    production,  # noqa: F401
    world,  # noqa: F401
)
from tests.unit.test_governance_filing import FilingRequest as _FilingRequest
from tests.unit.test_hub_spawner import POLICIES, TODAY, _spawner
from tests.unit.test_products_api import SCORE, bearer, consumer, known_usccs

REASON = "疑似数据泄露，启动应急预案"


@pytest.fixture
def freezes(database: Database) -> Iterator[FreezeDesk]:
    audit_events.install_sink(database.url)
    try:
        yield FreezeDesk(database, lambda: POLICIES, lambda: PRODUCTS)
    finally:
        audit_events.flush_sink()


def test_only_administrators_freeze_with_a_reason_and_lifting_is_its_own_audited_act(
    freezes: FreezeDesk, database: Database
) -> None:
    scope = Scope.parse("partner:suzhou_rcb")
    with pytest.raises(Forbidden):
        freezes.apply(OPERATOR, scope, REASON)
    with pytest.raises(InputError, match="reason"):
        freezes.apply(ADMIN, scope, "")
    with pytest.raises(InputError, match="no such partner"):
        freezes.apply(ADMIN, Scope.parse("partner:nobody"), REASON)
    with pytest.raises(InputError, match="scope"):
        Scope.parse("everything")

    applied = freezes.apply(ADMIN, scope, REASON)
    with pytest.raises(InputError, match="frozen already"):
        freezes.apply(ADMIN, scope, REASON)
    assert [f.id for f in freezes.list(ADMIN)] == [applied.id]
    lifted = freezes.lift_scope(ADMIN, scope, "核查完毕，解除冻结")
    assert (lifted.active, lifted.lifted_by) == (False, ADMIN.username)
    assert freezes.list(ADMIN) == []

    (denied, allowed) = _events(database, "freeze.apply")
    assert (denied["outcome"], allowed["outcome"]) == ("denied", "allowed")
    assert allowed["details"] == {"scope": "partner:suzhou_rcb", "reason": REASON}
    (lift,) = _events(database, "freeze.lift")
    assert lift["target"] == applied.id


# ---------------------------------------------------------------- the hub


def test_a_frozen_partner_cannot_start_a_sandbox_and_is_told_why(
    freezes: FreezeDesk, database: Database
) -> None:
    settings = PlatformSettings(project="shuyu", db_url=database.url)
    grant = grant_sandbox(POLICIES, settings, "sz-credit", TODAY, "bank_credit")
    spawner = _spawner()
    spawner._check_freeze(settings, grant)  # nothing frozen: no refusal

    freezes.apply(ADMIN, Scope.parse("partner:suzhou_rcb"), REASON)
    with pytest.raises(web.HTTPError) as refused:
        spawner._check_freeze(settings, grant)
    assert refused.value.status_code == 403
    message = refused.value.jupyterhub_message  # type: ignore[attr-defined]
    assert "应急处置" in message
    assert REASON in message
    assert "frozen by the incident procedure" in message


@pytest.mark.parametrize("scope", ["partner:suzhou_rcb", "scenario:bank_credit", "platform"])
def test_the_watch_stops_a_running_sandbox_of_a_frozen_scope(
    freezes: FreezeDesk, database: Database, scope: str
) -> None:
    def stop() -> object:
        return why_stop(
            POLICIES, "sz-credit", "bank_credit", TODAY, approved=True,
            freezes=read_active_freezes(database.url),
        )  # fmt: skip

    assert stop() is None
    applied = freezes.apply(ADMIN, Scope.parse(scope), REASON)
    reason = stop()
    assert reason is not None
    assert reason.code == "frozen"  # type: ignore[attr-defined]
    # another partner's sandbox on another scenario goes on, unless the platform froze
    other = why_stop(POLICIES, "coal-analyst", "coal_market", TODAY, approved=True,
                     freezes=read_active_freezes(database.url))  # fmt: skip
    assert (other is not None) == (scope == "platform")
    freezes.lift(ADMIN, applied.id, "核查完毕，解除冻结")
    assert stop() is None


# ---------------------------------------------------------------- production


def test_a_frozen_scenarios_jobs_do_not_run_until_the_freeze_is_lifted(
    production: ProductionService,  # noqa: F811
    desk: Desk,  # noqa: F811
    freezes: FreezeDesk,
) -> None:
    desk.filings.notebooks = None
    desk.filings.file(ADMIN, _FilingRequest(product=MODEL))
    job = production.register_job(OPERATOR, JobRequest(scenario="bank_credit", model_name=MODEL))
    applied = freezes.apply(ADMIN, Scope.parse("scenario:bank_credit"), REASON)
    refused = _run(production, job.id)
    assert (refused.state, refused.failure) == ("failed", "frozen")
    assert REASON in refused.reason
    assert production.executor.jobs == []  # type: ignore[attr-defined]

    freezes.lift(ADMIN, applied.id, "核查完毕，解除冻结")
    assert _run(production, job.id).state == "released"


# ---------------------------------------------------------------- the product API


@pytest.mark.parametrize(
    "scope",
    ["product:enterprise_credit", f"product:{MODEL}", "partner:suzhou_rcb", "consumer:suzhou_rcb",
     "platform"],
)  # fmt: skip
def test_a_consumer_is_refused_by_any_freeze_covering_its_call_within_the_interval(
    api: tuple[ProductService, TestClient],  # noqa: F811
    world: object,  # noqa: F811
    database: Database,
    freezes: FreezeDesk,
    scope: str,
) -> None:
    service, client = api
    token = consumer(service)
    _file_served(world, database)  # type: ignore[arg-type]
    body = {"subject": {"id": known_usccs(world)[0]}, "purpose": "pre_loan_review"}  # type: ignore[arg-type]
    assert client.post(SCORE, json=body, headers=bearer(token)).status_code == 200

    applied = freezes.apply(ADMIN, Scope.parse(scope), REASON)
    frozen = client.post(SCORE, json=body, headers=bearer(token))
    assert frozen.status_code == 403
    error = frozen.json()["error"]
    assert error["code"] == "frozen"
    assert REASON in error["message"]

    freezes.lift(ADMIN, applied.id, "核查完毕，解除冻结")
    assert client.post(SCORE, json=body, headers=bearer(token)).status_code == 200
