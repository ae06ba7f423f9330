"""Governance (issue 14) on the platform as `make up` starts it, after the review flow
has approved and filed bank_credit.ordos_bank (test_review_flow.py runs just before
this module: pytest takes the files in alphabetical order).

An incident freeze stops a running sandbox within the hub's watch interval and refuses
new ones until it is lifted; an expired consumer agreement has its key revoked by the
service's lifecycle sweep; an expired authorisation pauses the scenario's production
jobs (the sandbox stop and MLflow revocation at a lapse are test_sandbox_controls'); a
change to what was filed makes the filing stale and production refuses to run it; the
annual report's figures are the counts of the audit log. Every change is undone: the
freeze lifted, the policies put back.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import polars as pl
import pytest
import requests
import yaml

from shuyu.audit.log import AuditLog
from shuyu.platform.hub_client import HubSession
from shuyu.store.database import Database
from tests.integration.platform_fixture import TEST_PRODUCTS_PORT, RunningPlatform
from tests.integration.test_review_flow import PRODUCT, _products_cli, _service, _until_run

pytestmark = pytest.mark.integration

FROZEN_USER, FROZEN_PARTNER = "yb-analyst", "suzhou_data_ops"  # no other module freezes it
FILED_MODEL = "bank_credit.ordos_bank"  # approved and filed by test_review_flow
# two days back: expired by the host's date and by the service's (Asia/Shanghai) alike
LAPSED = dt.date.today() - dt.timedelta(days=2)


def _until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.5)


def _events(platform: RunningPlatform, action: str) -> list[dict[str, Any]]:
    """The audit log's events of `action`, details parsed."""
    log = AuditLog(Database(platform.layout.db_url))
    found = []
    for event in log.events():
        if event["action"] == action:
            found.append({**event, "details": json.loads(event["details"])})
    return found


def _expiries(platform: RunningPlatform, target: str) -> list[dict[str, Any]]:
    """The lifecycle's expiry events of `target` (`agreement:…` or `authorisation:…`)."""
    return [e for e in _events(platform, "governance.lifecycle.expiry") if e["target"] == target]


def _server_of(session: HubSession, username: str) -> dict[str, object]:
    return dict(session.api("GET", f"/users/{username}").json().get("servers", {}).get("", {}))


def _hub_message(response: requests.Response) -> str:
    """The hub's JSON error message (its Chinese is \\u-escaped in the raw text)."""
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text


# ---------------------------------------------------------------- 应急处置


def test_a_freeze_stops_a_running_sandbox_within_seconds_and_refuses_new_ones_until_lifted(
    platform: RunningPlatform,
) -> None:
    """An administrator freezes a partner with one command: the partner's running
    sandbox is stopped by the hub's watch (every 3 s in the test settings), a new one is
    refused with the freeze's number and reason in both languages; once the freeze is
    lifted the partner starts a sandbox again."""
    scope = f"partner:{FROZEN_PARTNER}"
    reason = "集成测试：疑似数据泄露，应急冻结 / integration test freeze"
    with platform.running(FROZEN_USER) as container:
        assert container
        session = platform.login(FROZEN_USER)
        started = time.monotonic()
        with platform.frozen(scope, reason) as freeze_id:
            assert freeze_id.startswith("Z"), freeze_id
            _until(lambda: not _server_of(session, FROZEN_USER), 30, "the hub stops the sandbox")
            _until(lambda: platform.container(FROZEN_USER) == "", 30, "the container is gone")
            stopped_after = time.monotonic() - started
            assert stopped_after <= 30, stopped_after

            refused = session.api("POST", f"/users/{FROZEN_USER}/server")
            assert refused.status_code == 403, refused.text[:500]
            message = _hub_message(refused)
            assert "已按应急处置冻结" in message, message
            assert "frozen by the incident procedure" in message, message
            assert freeze_id in message
            assert reason in message
            assert platform.container(FROZEN_USER) == ""
    with platform.running(FROZEN_USER) as again:
        assert again  # the lift takes effect at once: the spawner reads the freezes
    stops = [
        e
        for e in _events(platform, "sandbox.stop")
        if e["actor"] == FROZEN_USER and e["details"].get("reason") == "frozen"
    ]
    assert stops, "no sandbox.stop event with reason frozen"
    assert stops[-1]["details"]["by"] == "hub-watch"
    (lifted,) = [e for e in _events(platform, "freeze.lift") if e["target"] == freeze_id]
    assert lifted["actor"] == "admin"
    assert lifted["outcome"] == "allowed"


# ---------------------------------------------------------------- the authorisation lifecycle


def _db_and_policies(platform: RunningPlatform) -> list[str]:
    return [
        "--db", f"sqlite:///{platform.layout.state / 'shuyu.sqlite'}",
        "--policies", str(platform.policies),
    ]  # fmt: skip


def _consumer(platform: RunningPlatform, consumer_id: str) -> dict[str, Any]:
    listed = json.loads(_products_cli(platform, "consumer", "list", *_db_and_policies(platform)))
    return next(dict(c) for c in listed if c["id"] == consumer_id)


def _bank_key(platform: RunningPlatform, consumer_id: str) -> str:
    """A bank with an agreement in force for the credit product, and its key's token."""
    codes = pl.read_parquet(platform.layout.raw / "enterprise_basic.parquet")["uscc"].to_list()
    options = _db_and_policies(platform)
    _products_cli(
        platform, "consumer", "create", consumer_id, "--name", "备案测试银行",
        "--name-en", "Filing test bank", "--kind", "bank", "--admin", "admin", *options,
    )  # fmt: skip
    today = dt.date.today()
    _products_cli(
        platform, "agreement", "set", consumer_id, PRODUCT, "--admin", "admin",
        "--purpose", "pre_loan_review", "--from", str(today - dt.timedelta(days=1)),
        "--until", str(today + dt.timedelta(days=365)), "--daily", "200", "--monthly", "4000",
        "--price", "0.50", "--region", codes[0][2:6] + "00", *options,
    )  # fmt: skip
    issued = _products_cli(platform, "key", "issue", consumer_id, "--admin", "admin", *options[:2])
    return issued.strip().splitlines()[-1].split(": ")[-1].strip()


def test_an_expired_agreement_has_its_key_revoked_and_the_api_refuses_it(
    platform: RunningPlatform,
) -> None:
    """A consumer whose only agreement ended two days ago: the service's lifecycle sweep
    (every worker interval) revokes its key, audited as `lifecycle` with the expiry
    event, and the product API refuses the key before any scoring (`key_revoked`; the
    gateway's own `agreement_expired` in the moment before the sweep)."""
    consumer_id = f"gov_lapsed_{secrets.token_hex(3)}"
    codes = pl.read_parquet(platform.layout.raw / "enterprise_basic.parquet")["uscc"].to_list()
    region = codes[0][2:6] + "00"
    options = _db_and_policies(platform)
    _products_cli(
        platform, "consumer", "create", consumer_id, "--name", "到期测试银行",
        "--name-en", "Lapsed test bank", "--kind", "bank", "--admin", "admin", *options,
    )  # fmt: skip
    # the key first: the first sweep that sees the expired agreement sees the key too
    issued = _products_cli(platform, "key", "issue", consumer_id, "--admin", "admin", *options[:2])
    lines = issued.strip().splitlines()
    key_id = next(line for line in lines if line.startswith("key id")).split(": ")[-1].strip()
    token = lines[-1].split(": ")[-1].strip()
    _products_cli(
        platform, "agreement", "set", consumer_id, PRODUCT, "--admin", "admin",
        "--purpose", "pre_loan_review", "--from", str(LAPSED - dt.timedelta(days=30)),
        "--until", str(LAPSED), "--daily", "200", "--monthly", "4000", "--price", "0.50",
        "--region", region, *options,
    )  # fmt: skip
    url = f"http://127.0.0.1:{TEST_PRODUCTS_PORT}/api/v1/products/{PRODUCT}/score"
    body = {"subject": {"id": codes[0]}, "purpose": "pre_loan_review"}
    headers = {"Authorization": f"Bearer {token}"}

    first = requests.post(url, json=body, headers=headers, timeout=30)
    assert (first.status_code, first.json()["error"]["code"]) in {
        (403, "agreement_expired"),
        (401, "key_revoked"),
    }, first.text

    def revoked() -> bool:
        keys = {k["id"]: k for k in _consumer(platform, consumer_id)["keys"]}
        return bool(keys[key_id]["status"] == "revoked")

    _until(revoked, 90, "the lifecycle sweep revokes the key")
    answer = requests.post(url, json=body, headers=headers, timeout=30)
    assert answer.status_code == 401, answer.text
    error = answer.json()["error"]
    assert error["code"] == "key_revoked"
    assert "results" not in answer.json()  # refused before anything was scored

    target = f"agreement:{consumer_id}/{PRODUCT}"
    _until(lambda: bool(_expiries(platform, target)), 30, "the expiry event")
    (expiry,) = _expiries(platform, target)
    assert expiry["actor"] == "lifecycle"
    assert expiry["details"]["keys_revoked"] == [key_id]
    assert expiry["details"]["expires_on"] == str(LAPSED)
    revocations = [
        e
        for e in _events(platform, "product.key")
        if e["target"] == key_id and e["details"].get("change") == "revoke"
    ]
    assert [e["actor"] for e in revocations] == ["lifecycle"]


def test_an_expired_authorisation_pauses_the_scenarios_production_jobs(
    platform: RunningPlatform,
) -> None:
    """The coal market report (a report product: no model needed) has a job registered
    by the operator. Its scenario's authorisation ends (valid_until moved into the past
    in the policies): the lifecycle sweep pauses the job, audited as `lifecycle` with
    the expiry event, tells the operator, and a manual run is refused as expired."""
    operator, target = _service(platform, "op-runner"), "authorisation:coal_market"
    made = operator.post(
        "/production/jobs",
        {"scenario": "coal_market", "parameters": {"run_date": "2026-07-01", "period": "monthly"}},
    )
    assert made.status_code == 201, made.text
    job = made.json()
    assert job["enabled"]

    def enabled() -> bool:
        jobs = operator.get("/production/jobs").json()
        return bool(next(j for j in jobs if j["id"] == job["id"])["enabled"])

    with platform.scenario_changed("coal_market", valid_until=str(LAPSED)):
        _until(lambda: not enabled(), 90, "the lifecycle sweep pauses the job")
        run = operator.post(f"/production/jobs/{job['id']}/run", {})
        assert run.status_code == 201, run.text
        refused = _until_run(operator, run.json()["id"], 120)
        assert (refused["state"], refused["failure"]) == ("failed", "authorisation_expired")
        _until(lambda: bool(_expiries(platform, target)), 30, "the expiry event")
    (expiry,) = _expiries(platform, target)
    assert expiry["actor"] == "lifecycle"
    assert expiry["details"]["expires_on"] == str(LAPSED)
    assert job["id"] in expiry["details"]["jobs_paused"]
    paused = [e for e in _events(platform, "production.job.disable") if e["target"] == job["id"]]
    assert [e["actor"] for e in paused] == ["lifecycle"]
    notices = operator.get("/notices").json()
    assert any(job["id"] in n["en"] and "paused" in n["en"] for n in notices), notices[:5]
    # the job stays paused after the policy is put back: an administrator resumes it
    assert not enabled()


# ---------------------------------------------------------------- 登记备案


def _filing_of(admin: Any, product: str) -> dict[str, Any]:
    listed = admin.get("/filings")
    assert listed.status_code == 200, listed.text
    return next((dict(f) for f in listed.json() if f["product"] == product), {})


def test_a_change_to_what_was_filed_makes_the_filing_stale_and_production_refuses_it(
    platform: RunningPlatform,
) -> None:
    """The filed product's scope of use (使用范围及方式) is edited in the scenario's
    policy: the filing is stale (naming the part that changed), the product API stops
    serving it (`filing_stale`) and a production run of the model is refused
    `filing_stale`; put back, the filing is current again (its
    fingerprint is of the content, so the same content is the same filing)."""
    admin = _service(platform, "admin")
    before = _filing_of(admin, FILED_MODEL)
    if not before or before["filed"] is None:
        pytest.skip(f"{FILED_MODEL} was not filed: test_review_flow did not get that far")
    assert before["state"] == "current", before
    path = platform.policies / "scenarios" / "bank_credit.yaml"
    terms = dict(yaml.safe_load(path.read_text(encoding="utf-8"))["filing"])
    terms["scope"] = terms["scope"] + "（集成测试变更）"
    operator = _service(platform, "op-runner")
    token = _bank_key(platform, f"gov_filed_{secrets.token_hex(3)}")
    codes = pl.read_parquet(platform.layout.raw / "enterprise_basic.parquet")["uscc"].to_list()
    url = f"http://127.0.0.1:{TEST_PRODUCTS_PORT}/api/v1/products/{PRODUCT}/score"
    body = {"subject": {"id": codes[0]}, "purpose": "pre_loan_review"}
    headers = {"Authorization": f"Bearer {token}"}

    def answered(code: str | None) -> bool:
        got = requests.post(url, json=body, headers=headers, timeout=30)
        return (got.json().get("error") or {}).get("code") == code if code else got.ok

    _until(lambda: answered(None), 30, "the filed product is served")
    with platform.scenario_changed("bank_credit", filing=terms):
        # the product API reloads on a policy edit and stops serving the stale product
        _until(lambda: answered("filing_stale"), 30, "the API refuses the stale product")
        stale = _filing_of(admin, FILED_MODEL)
        assert stale["state"] == "stale", stale
        assert "scope" in stale["changed"]
        assert "scope and manner of use" in stale["reason_en"]
        made = operator.post(
            "/production/jobs",
            {
                "scenario": "bank_credit",
                "model_name": FILED_MODEL,
                "parameters": {"run_date": "2026-07-01", "period": "daily"},
            },
        )
        assert made.status_code == 201, made.text
        run = operator.post(f"/production/jobs/{made.json()['id']}/run", {})
        assert run.status_code == 201, run.text
        refused = _until_run(operator, run.json()["id"], 120)
        assert (refused["state"], refused["failure"]) == ("failed", "filing_stale")
        assert refused["files"] == []
    after = _filing_of(admin, FILED_MODEL)
    assert after["state"] == "current", after
    _until(lambda: answered(None), 30, "the API serves the product again")
    assert after["filed"]["id"] == before["filed"]["id"]  # not re-filed: the same content


# ---------------------------------------------------------------- 年度评估

# The figures the annual report states, counted here straight from the audit log over
# the same local year, without the report's code: the report runs between two counts,
# so that activity at that moment shows as a difference and the reading is repeated.
ANNUAL_AGAINST_THE_LOG = r"""
import datetime as dt
import json
import os
import subprocess
import zoneinfo
from collections import Counter

from sqlalchemy import text

from shuyu.audit.log import AuditLog
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database

INCIDENTS = {
    "key_blocked": ("product.block", "allowed"),
    "egress_cut": ("sandbox.egress", "denied"),
    "download_refused": ("sandbox.download", "denied"),
    "upload_refused": ("sandbox.upload", "denied"),
    "mlflow_refused": ("mlflow.request", "denied"),
    "firewall_deny_all": ("firewall.deny-all", "allowed"),
    "freeze": ("freeze.apply", "allowed"),
    "audit_chain_broken": ("audit.verify", "error"),
}
zone = zoneinfo.ZoneInfo("Asia/Shanghai")
year = dt.datetime.now(zone).year


def stamp(moment):
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


start = stamp(dt.datetime(year, 1, 1, tzinfo=zone))
end = stamp(dt.datetime(year + 1, 1, 1, tzinfo=zone))
db = Database(PlatformSettings.from_env().db_url)


def counted():
    with db.engine.connect() as connection:
        consumers = {r[0] for r in connection.execute(text("SELECT id FROM product_consumers"))}
    n = Counter()
    incidents = dict.fromkeys(INCIDENTS, 0)
    refusals = Counter()
    blocked, partners, products = set(), set(), set()
    opened_ever = closed_ever = 0
    for event in AuditLog(db).events():
        action, outcome, target = event["action"], event["outcome"], event["target"]
        details = json.loads(event["details"])
        if action == "product.case" and event["ts"] < end:
            opened_ever += details.get("to_state") == "open"
            closed_ever += details.get("to_state") == "closed"
        if not start <= event["ts"] < end:
            continue
        n["events"] += 1
        for kind, pair in INCIDENTS.items():
            incidents[kind] += (action, outcome) == pair
        if action == "selfcheck.result":
            n["selfchecks"] += 1
            n["selfchecks_passed"] += details.get("status") == "pass"
        elif action == "product.block":
            blocked.add(target)
        elif action == "product.case":
            n["cases_opened"] += details.get("to_state") == "open"
            n["cases_closed"] += details.get("to_state") == "closed"
        elif action == "registry.register" and outcome == "allowed":
            n["approved"] += 1
        elif action == "sandbox.spawn" and outcome == "allowed" and details.get("partner"):
            partners.add(str(details["partner"]))
        elif action == "product.score":
            result = str(details.get("result", ""))
            if result == "scored":
                products.add(str(details.get("product", "")))
            elif outcome == "denied":
                refusals[result] += 1
            if target.partition("/")[0] in consumers:
                n["calls"] += 1
                if details.get("billable"):
                    n["billable"] += 1
                    n["amount_fen"] += int(details.get("price_fen") or 0)
    return {
        "events": n["events"],
        "selfchecks": n["selfchecks"],
        "selfchecks_passed": n["selfchecks_passed"],
        "blocked_keys": len(blocked),
        "cases_opened": n["cases_opened"],
        "cases_closed": n["cases_closed"],
        "cases_open_at_end": opened_ever - closed_ever,
        "approved": n["approved"],
        "incidents": incidents,
        "calls": n["calls"],
        "billable": n["billable"],
        "amount_fen": n["amount_fen"],
        "refusals": dict(refusals),
        "api_products": sorted(products),
        "partners": sorted(partners),
    }


out = "/tmp/shuyu-annual-test"
os.makedirs(out, exist_ok=True)
before = counted()
done = subprocess.run(
    ["shuyu", "report", "annual", "--year", str(year), "--admin", "admin", "--out", out],
    capture_output=True, text=True, check=False,
)
if done.returncode != 0:
    raise SystemExit(f"shuyu report annual failed: {done.stdout[-1000:]} {done.stderr[-2000:]}")
with open(f"{out}/annual-{year}.json", encoding="utf-8") as f:
    report = json.load(f)
after = counted()
print(json.dumps({"year": year, "before": before, "after": after, "report": report,
                  "cli": done.stdout}, ensure_ascii=False))
"""


def _same_moment(seen: dict[str, Any]) -> bool:
    """Nothing counted changed while the report was made (only the event total may)."""
    before, after = dict(seen["before"]), dict(seen["after"])
    before.pop("events")
    after.pop("events")
    return before == after


def test_the_annual_reports_figures_are_the_counts_of_the_audit_log(
    platform: RunningPlatform,
) -> None:
    """`shuyu report annual` in the service's container, against the events of the same
    local year counted independently: self-checks, blocked keys, 事中检查 cases, each
    kind of incident (this module's freeze among them), calls, billable calls and the
    amount, refusals by code, products scored, approvals, partners active."""
    for _ in range(3):
        printed = platform.in_service("python", "-c", ANNUAL_AGAINST_THE_LOG)
        seen = json.loads(printed.strip().splitlines()[-1])
        if _same_moment(seen):
            break
        time.sleep(5)
    else:
        pytest.fail("the audit log kept changing while the report was made")
    report, mine = seen["report"], seen["before"]
    assert f"annual-{seen['year']}.html" in seen["cli"]
    assert report["year"] == seen["year"]
    assert mine["events"] <= report["audit_events"] < seen["after"]["events"]

    compliance = report["compliance"]
    assert compliance["selfcheck"]["denominator"] == mine["selfchecks"]
    assert compliance["selfcheck"]["numerator"] == mine["selfchecks_passed"]
    assert compliance["blocked_keys"] == mine["blocked_keys"]
    assert compliance["cases_opened"] == mine["cases_opened"]
    assert compliance["cases_closed"] == mine["cases_closed"]
    assert compliance["cases_open_at_end"] == mine["cases_open_at_end"]
    kinds = {k["id"]: k["count"] for k in compliance["incident_kinds"]}
    assert kinds == mine["incidents"]
    assert compliance["incidents"] == sum(mine["incidents"].values())
    assert mine["incidents"]["freeze"] >= 1  # the freeze above

    usage = report["usage"]
    assert usage["calls"] == mine["calls"]
    assert usage["billable"] == mine["billable"]
    assert usage["amount_fen"] == mine["amount_fen"]
    assert usage["refusals"] == mine["refusals"]
    assert sum(m["calls"] for m in usage["months"]) == mine["calls"]

    assert report["products"]["api_products"] == mine["api_products"]
    assert report["products"]["approved_versions"] == mine["approved"]
    assert report["partners_active"] == mine["partners"]
    # the manual indicators are listed as such, not computed
    assert {m["indicator"] for m in report["manual"]} >= {"user_satisfaction", "social_benefit"}
