"""One data product through the self-check and the three-level review, on the platform as
`make up` starts it: a partner trains with DP inside its sandbox, submits from there,
the self-check runs in runner containers, three levels approve through the service's
REST API (the expert committee twice), and the registry serves the checked model under
`approved`. Around it, the attacks the review must withstand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import requests
from selenium.webdriver.common.by import By

from shuyu.platform.compose import compose
from shuyu.platform.service_client import SERVICE, ServiceSession, open_service
from shuyu.registry.approved import load_approved
from shuyu.secrets import MLFLOW_GATE_PASSWORD, read_secret
from shuyu.tracking.admin_client import GATE_USERNAME
from shuyu.tracking.store_client import MlflowStore
from tests.integration.browser import chromium, sign_in, wait_for_text
from tests.integration.containers import python_in
from tests.integration.platform_fixture import TEST_PRODUCTS_PORT, RunningPlatform

pytestmark = pytest.mark.integration

PARTNER = "ordos-risk"  # bank_credit only

TRAIN_AND_SUBMIT = """
import json
import shuyu
from shuyu.train.run import train_and_log
result, logged = train_and_log("bank_credit", epochs=2)
made = shuyu.submit(logged.run_id, "bank_credit", note="DP MLP, 2 epochs")
print(json.dumps({"run_id": logged.run_id, "submission": made["id"]}))
"""


def _service(platform: RunningPlatform, username: str) -> ServiceSession:
    return open_service(platform.login(username))


def _until_state(
    service: ServiceSession, submission: str, states: set[str], seconds: float
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        found = service.get(f"/submissions/{submission}").json()
        if found["state"] in states:
            return dict(found)
        assert time.monotonic() < deadline, f"still {found['state']}: {found['reason']}"
        time.sleep(3)


@pytest.fixture(scope="module")
def submitted(platform: RunningPlatform) -> dict[str, str]:
    with platform.running(PARTNER) as container:  # stopped again before the tests run
        done = python_in(container, TRAIN_AND_SUBMIT)
        assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_self_check_passes_a_dp_model_and_the_report_reaches_the_reviewers(
    platform: RunningPlatform, submitted: dict[str, str]
) -> None:
    provider = _service(platform, "rv-provider")
    found = _until_state(provider, submitted["submission"], {"in_review", "check_failed"}, 900)
    assert found["state"] == "in_review", found["reason"]
    assert found["privacy_kind"] == "claimed"
    assert found["report_sha256"]
    report = provider.get(f"/submissions/{submitted['submission']}/report.json").json()
    assert {r["factor"] for r in report["results"]} == {
        "scope",
        "direct_exposure",
        "indirect_exposure",
        "other",
    }
    page = provider.hub.http.get(
        f"{platform.url}{SERVICE}/submissions/{submitted['submission']}/report.html", timeout=60
    )
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"].startswith("sandbox")
    assert "安全自查报告" in page.text


def test_a_partner_cannot_vote_and_a_sandbox_reaches_only_the_submission_endpoint(
    platform: RunningPlatform, submitted: dict[str, str]
) -> None:
    partner = _service(platform, PARTNER)
    vote = {"decision": "approve", "comment": "mine is fine"}
    assert partner.post(f"/submissions/{submitted['submission']}/votes", vote).status_code == 403
    settings = platform.settings
    with platform.running("hi-underwriter") as container:
        code = (
            "import os, socket, urllib.request, urllib.error\n"
            f"s=socket.socket(); s.settimeout(2)\n"
            f"print(s.connect_ex(('{settings.service_ip}', {settings.service_port})))\n"
            "req=urllib.request.Request(os.environ['SHUYU_SUBMIT_URL']"
            " + '/api/v1/submissions', headers={'Authorization': 'token ' + "
            "os.environ['SHUYU_SUBMIT_TOKEN']})\n"
            "print(urllib.request.urlopen(req, timeout=10).status)\n"
            f"hub='http://{settings.hub_ip}:{settings.hub_api_port}/hub/api'\n"
            "auth={'Authorization': 'token ' + os.environ['SHUYU_SUBMIT_TOKEN']}\n"
            "for path, body in (('/users/hi-underwriter/tokens', b'{}'), ('/users', None),\n"
            "                   ('/users/hi-underwriter/server', b'{}')):\n"
            "  req=urllib.request.Request(hub + path, data=body, headers=auth)\n"
            "  try: print(urllib.request.urlopen(req, timeout=10).status)\n"
            "  except urllib.error.HTTPError as e: print(e.code)\n"
        )
        done = python_in(container, code)
    refused, submissions, *with_token = done.stdout.split()
    assert refused != "0"  # the pages' port is closed to sandboxes
    assert submissions == "200"  # its own submissions, with the sandbox's token
    # the token does nothing else: no new token, no user list, no server start
    assert with_token == ["403", "403", "403"], done.stderr


def test_three_levels_approve_in_the_browser_and_the_registry_serves_what_was_checked(
    platform: RunningPlatform, submitted: dict[str, str]
) -> None:
    """Each reviewer signs in to the hub in headless Chromium, lands on their queue (not
    the spawn page), opens the submission and approves it with a comment; the expert
    committee's second vote completes that level. Afterwards the partner's page says
    approved and the registry holds the version under `approved`."""
    sid = submitted["submission"]
    with chromium() as browser:
        for reviewer in ("rv-provider", "rv-expert", "rv-expert2", "rv-bureau"):
            sign_in(browser, platform.url, reviewer, platform.accounts[reviewer].password)
            assert f"{SERVICE}/" in browser.current_url, (reviewer, browser.current_url)
            wait_for_text(browser, "待我评审")
            browser.find_element(By.LINK_TEXT, sid).click()
            wait_for_text(browser, "安全自查")
            if reviewer == "rv-expert2":  # the committee's first vote is not shown yet
                assert "rv-expert: 同意" not in browser.page_source
            browser.find_element(By.NAME, "comment").send_keys(f"{reviewer}: 同意")
            browser.find_element(By.CSS_SELECTOR, "button[value=approve]").click()
            wait_for_text(browser, f"{reviewer}: 同意")
        sign_in(browser, platform.url, PARTNER, platform.accounts[PARTNER].password)
        browser.get(f"{platform.url}{SERVICE}/submissions/{sid}")
        wait_for_text(browser, "已批准")
    final = _until_state(_service(platform, PARTNER), sid, {"approved"}, 120)
    assert final["model_name"] == "bank_credit.ordos_bank"
    assert [v["level"] for v in final["votes"]] == [
        "data_provider", "expert_committee", "expert_committee", "data_bureau"
    ]  # fmt: skip
    gate = MlflowStore(
        platform.settings.mlflow_url,
        GATE_USERNAME,
        read_secret(platform.layout.service_secrets / MLFLOW_GATE_PASSWORD),
    )
    with gate:
        loaded = load_approved(gate, final["model_name"])
    assert loaded.version.version == final["model_version"]
    assert loaded.version.tags["shuyu.submission"] == sid
    assert "model.onnx" in loaded.files


def _until_run(service: ServiceSession, run_id: str, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        found = service.get(f"/production/runs/{run_id}").json()
        if found["state"] not in {"queued", "running", "checking"}:
            return dict(found)
        assert time.monotonic() < deadline, f"still {found['state']}: {found['reason']}"
        time.sleep(3)


def test_an_operator_runs_the_approved_model_and_only_checked_scores_reach_the_outbox(
    platform: RunningPlatform, submitted: dict[str, str]
) -> None:
    """After the approval above: a run of the approved model is refused until an
    administrator files the product (登记备案). Then the operator registers a production
    job for the approved model, runs it now; the batch is built, the notebook runs with papermill in
    a runner, its outputs pass the output check and land in the outbox with an HTML
    report. Then the job's pinned notebook is changed on disk: the next run is refused."""
    job_request = {
        "scenario": "bank_credit",
        "model_name": "bank_credit.ordos_bank",
        "parameters": {"run_date": "2026-07-01", "period": "daily"},
    }
    operator = _service(platform, "op-runner")
    unfiled = operator.post("/production/jobs", job_request)
    assert unfiled.status_code == 201, unfiled.text
    refused = _until_run(
        operator,
        operator.post(f"/production/jobs/{unfiled.json()['id']}/run", {}).json()["id"],
        120,
    )
    assert (refused["state"], refused["failure"]) == ("failed", "filing_stale")  # 未备案不得运行
    filed = compose(
        platform.layout, platform.settings,
        ["exec", "-T", "service", "shuyu", "filing", "create", "bank_credit.ordos_bank",
         "--as", "admin"],
        capture=True,
    )  # fmt: skip
    assert "bank_credit.ordos_bank" in filed.stdout
    partner = _service(platform, PARTNER)
    assert partner.post("/production/jobs", job_request).status_code == 403
    made = operator.post("/production/jobs", job_request)
    assert made.status_code == 201, made.text
    job = made.json()
    started = operator.post(f"/production/jobs/{job['id']}/run", {})
    assert started.status_code == 201, started.text
    done = _until_run(operator, started.json()["id"], 900)
    assert done["state"] == "released", (done["reason"], done["log_tail"][-3000:])
    assert {"scores.csv", "run.ipynb", "run.html"} <= set(done["files"])
    report = operator.get(f"/production/runs/{done['id']}/files/run.html")
    assert report.status_code == 200
    assert report.headers["Content-Security-Policy"].startswith("sandbox")
    published = platform.layout.state / "outbox" / "bank_credit" / done["id"]
    header = (published / "scores.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == [
        "entity_id", "score", "risk_grade", "factor_1", "factor_2", "factor_3"
    ]  # fmt: skip

    pinned = platform.layout.state / "files" / "production" / "jobs" / job["id"]
    notebook = pinned / "production.ipynb"
    notebook.write_bytes(notebook.read_bytes().replace(b"top=3", b"top=30"))
    again = operator.post(f"/production/jobs/{job['id']}/run", {}).json()
    refused = _until_run(operator, again["id"], 120)
    assert (refused["state"], refused["failure"]) == ("failed", "notebook_changed")
    assert refused["files"] == []


PRODUCT = "enterprise_credit"


def _products_cli(platform: RunningPlatform, *args: str) -> str:
    """`shuyu products …` on the host, as an administrator runs it against this platform."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("shuyu")), "products", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SHUYU_VAR": str(platform.layout.root)},
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def _until_served(api: str, product: str, seconds: float) -> None:
    """The service publishes the approved model within its interval; the product API
    reloads when the publication appears."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            health = requests.get(f"{api}/healthz", timeout=5).json()
            if health["products"].get(product):
                return
        except requests.RequestException:
            health = {}
        assert time.monotonic() < deadline, f"{product} not served: {health}"
        time.sleep(3)


def test_a_bank_scores_enterprises_by_api_and_a_burst_beyond_its_pattern_blocks_its_key(
    platform: RunningPlatform, submitted: dict[str, str]
) -> None:
    """After the approval: the service verifies the approved version and publishes it to
    the product API's own container. An administrator registers a bank, its agreement
    and a key. The bank scores an enterprise by its credit code and gets a grade and
    factor labels, never a raw value; each call is an audit event. Then the bank sends a
    burst of subjects beyond a fifth of its daily quota in minutes (事中检查): the key is
    blocked at once, a case is opened, and the next call is refused with the case number."""
    api = f"http://127.0.0.1:{TEST_PRODUCTS_PORT}"
    _until_served(api, PRODUCT, 240)
    enterprises = pl.read_parquet(platform.layout.raw / "enterprise_basic.parquet")
    codes = enterprises["uscc"].to_list()
    regions = sorted({code[2:6] + "00" for code in codes})
    db = ["--db", f"sqlite:///{platform.layout.state / 'shuyu.sqlite'}"]
    policies = ["--policies", str(platform.policies)]
    _products_cli(
        platform, "consumer", "create", "test_bank", "--name", "测试农商银行",
        "--name-en", "Test rural bank", "--kind", "bank", "--admin", "admin", *db, *policies,
    )  # fmt: skip
    _products_cli(
        platform, "agreement", "set", "test_bank", PRODUCT, "--admin", "admin",
        "--purpose", "pre_loan_review", "--from", "2026-01-01", "--until", "2028-12-31",
        "--daily", "200", "--monthly", "4000", "--price", "0.50",
        *(arg for region in regions for arg in ("--region", region)), *db, *policies,
    )  # fmt: skip
    issued = _products_cli(platform, "key", "issue", "test_bank", "--admin", "admin", *db)
    token = issued.strip().splitlines()[-1].split(": ")[-1]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{api}/api/v1/products/{PRODUCT}/score"

    assert requests.post(url, json={"subject": {"id": codes[0]}, "purpose": "pre_loan_review"},
                         timeout=30).status_code == 401  # fmt: skip
    scored = requests.post(
        url, json={"subject": {"id": codes[0]}, "purpose": "pre_loan_review"}, headers=headers,
        timeout=30,
    )  # fmt: skip
    assert scored.status_code == 200, scored.text
    result = scored.json()["results"][0]
    assert result["ok"]
    assert 0 <= result["score"] <= 1
    assert result["grade"] in "ABCDE"
    assert result["factors"]
    assert all(f["label"] and f["label_en"] for f in result["factors"])
    assert codes[0] not in scored.text  # the subject's own code is not echoed either

    # the call that trips the rule is answered; the block stops every call after it
    burst = [{"id": code} for code in codes[1:101]]
    blocked = None
    for start in range(0, len(burst), 20):
        answer = requests.post(
            url, json={"subjects": burst[start : start + 20], "purpose": "pre_loan_review"},
            headers=headers, timeout=60,
        )  # fmt: skip
        if answer.status_code == 403:
            blocked = answer.json()["error"]
            break
    assert blocked is not None, "a burst of 100 subjects against a daily quota of 200 passed"
    assert blocked["code"] == "key_blocked"
    assert blocked["case"]
    again = requests.post(
        url, json={"subject": {"id": codes[0]}, "purpose": "pre_loan_review"}, headers=headers,
        timeout=30,
    )  # fmt: skip
    assert again.status_code == 403
    assert again.json()["error"]["case"] == blocked["case"]
    page = _service(platform, "admin").hub.http.get(
        f"{platform.url}{SERVICE}/products/cases", timeout=60
    )
    assert page.status_code == 200
    assert blocked["case"] in page.text
    cases = _products_cli(platform, "case", "list", *db)
    assert blocked["case"] in cases
    assert "quota_burst" in cases

    events = compose(
        platform.layout, platform.settings,
        ["exec", "-T", "service", "python", "-c", SCORE_EVENTS], capture=True,
    )  # fmt: skip
    counted = json.loads(events.stdout)
    assert counted["publish"] >= 1
    assert counted["score_allowed"] >= 1
    assert counted["block"] == 1


SCORE_EVENTS = """
import json
from shuyu.audit.log import AuditLog
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database
events = list(AuditLog(Database(PlatformSettings.from_env().db_url)).events())
print(json.dumps({
    "publish": sum(e["action"] == "product.model.publish" for e in events),
    "score_allowed": sum(e["action"] == "product.score" and e["outcome"] == "allowed" for e in events),
    "block": sum(e["action"] == "product.block" for e in events),
}))
"""


def test_a_frozen_product_is_refused_within_seconds_and_served_again_once_lifted(
    platform: RunningPlatform, submitted: dict[str, str]
) -> None:
    """应急处置 on the product: an administrator freezes enterprise_credit with one
    command; within seconds the product API refuses the next call `frozen` with the
    freeze's number; once the freeze is lifted the calls are served again. (A bank of its
    own: the burst above blocked test_bank's key.)"""
    api = f"http://127.0.0.1:{TEST_PRODUCTS_PORT}"
    _until_served(api, PRODUCT, 240)
    code = pl.read_parquet(platform.layout.raw / "enterprise_basic.parquet")["uscc"][0]
    db = ["--db", f"sqlite:///{platform.layout.state / 'shuyu.sqlite'}"]
    policies = ["--policies", str(platform.policies)]
    _products_cli(
        platform, "consumer", "create", "freeze_bank", "--name", "冻结测试银行",
        "--name-en", "Freeze test bank", "--kind", "bank", "--admin", "admin", *db, *policies,
    )  # fmt: skip
    _products_cli(
        platform, "agreement", "set", "freeze_bank", PRODUCT, "--admin", "admin",
        "--purpose", "pre_loan_review", "--from", "2026-01-01", "--until", "2028-12-31",
        "--daily", "200", "--monthly", "4000", "--price", "0.50",
        "--region", code[2:6] + "00", *db, *policies,
    )  # fmt: skip
    issued = _products_cli(platform, "key", "issue", "freeze_bank", "--admin", "admin", *db)
    headers = {"Authorization": f"Bearer {issued.strip().splitlines()[-1].split(': ')[-1]}"}
    url = f"{api}/api/v1/products/{PRODUCT}/score"

    def answer() -> tuple[str, str]:
        got = requests.post(
            url, json={"subject": {"id": code}, "purpose": "pre_loan_review"}, headers=headers,
            timeout=30,
        )  # fmt: skip
        if got.status_code == 200:
            return "200", ""
        error = got.json()["error"]
        return f"{got.status_code} {error['code']}", str(error["message_en"])

    def within(seconds: float, wanted: str) -> tuple[str, str]:
        deadline = time.monotonic() + seconds
        while (got := answer())[0] != wanted and time.monotonic() < deadline:
            time.sleep(0.5)
        return got

    assert answer()[0] == "200"
    with platform.frozen(f"product:{PRODUCT}", "集成测试：产品应急冻结") as freeze_id:
        status, message = within(5, "403 frozen")
        assert status == "403 frozen", (status, message)
        assert freeze_id in message
    assert within(5, "200")[0] == "200"


def test_a_restart_of_the_service_in_the_middle_of_a_check_loses_nothing(
    platform: RunningPlatform,
) -> None:
    with platform.running(PARTNER) as container:
        done = python_in(container, TRAIN_AND_SUBMIT)
        assert done.returncode == 0, done.stderr[-3000:]
        sid = json.loads(done.stdout.strip().splitlines()[-1])["submission"]
    partner = _service(platform, PARTNER)
    _until_state(partner, sid, {"checking"}, 120)
    compose(platform.layout, platform.settings, ["restart", "service"], capture=True)
    partner = _service(platform, PARTNER)
    found = _until_state(partner, sid, {"in_review", "check_failed"}, 900)
    assert found["state"] == "in_review", found["reason"]
    assert any("restart" in e["reason"] for e in found["history"])


def test_every_step_is_in_the_verifiable_audit_log(
    platform: RunningPlatform, submitted: dict[str, str]
) -> None:
    done = compose(
        platform.layout,
        platform.settings,
        ["exec", "-T", "service", "shuyu", "audit", "verify"],
        capture=True,
    )
    assert done.stdout.startswith("OK: ")
    exported = compose(
        platform.layout,
        platform.settings,
        ["exec", "-T", "service", "python", "-c", AUDIT_ACTIONS],
        capture=True,
    )
    actions = set(exported.stdout.split())
    assert {
        "hub.login",
        "sandbox.spawn",
        "mlflow.credentials",
        "submission.create",
        "runner.warm",  # the service keeps a production runner started ahead
        "runner.start",
        "selfcheck.result",
        "review.vote",
        "registry.register",
        "mlflow.write",
        "production.job.create",
        "production.run.transition",
        "runner.end",
        "product.model.publish",
        "product.score",
    } <= actions


AUDIT_ACTIONS = """
from shuyu.audit.log import AuditLog
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database
print(" ".join(sorted({e["action"] for e in AuditLog(Database(PlatformSettings.from_env().db_url)).events()})))
"""
