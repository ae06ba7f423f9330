"""One data product through the self-check and the three-level review, on the platform as
`make up` starts it: a partner trains with DP inside its sandbox, submits from there,
the self-check runs in runner containers, three levels approve through the service's
REST API (the expert committee twice), and the registry serves the checked model under
`approved`. Around it, the attacks the review must withstand.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By

from shuyu.platform.compose import compose
from shuyu.platform.hub_client import HubSession
from shuyu.registry.approved import load_approved
from shuyu.secrets import MLFLOW_GATE_PASSWORD, read_secret
from shuyu.tracking.admin_client import GATE_USERNAME
from shuyu.tracking.store_client import MlflowStore
from tests.integration.browser import chromium, sign_in, wait_for_text
from tests.integration.containers import python_in
from tests.integration.platform_fixture import RunningPlatform

pytestmark = pytest.mark.integration

PARTNER = "ordos-risk"  # bank_credit only
SERVICE = "/services/shuyu"

TRAIN_AND_SUBMIT = """
import json
import shuyu
from shuyu.train.run import train_and_log
result, logged = train_and_log("bank_credit", epochs=2)
made = shuyu.submit(logged.run_id, "bank_credit", note="DP MLP, 2 epochs")
print(json.dumps({"run_id": logged.run_id, "submission": made["id"]}))
"""


@dataclass
class Service:
    """A person's session with the service's REST API (cookie from the hub's OAuth)."""

    hub: HubSession

    def open(self, seconds: float = 60) -> None:
        """The service's landing page, through the hub's OAuth; the proxy answers 503
        while the service (re)starts."""
        deadline = time.monotonic() + seconds
        while True:
            landing = self.hub.http.get(f"{self.hub.base}{SERVICE}/", timeout=60)
            if landing.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert landing.status_code == 200, landing.text[:300]

    def get(self, path: str) -> requests.Response:
        return self.hub.http.get(f"{self.hub.base}{SERVICE}/api/v1{path}", timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.hub.http.post(f"{self.hub.base}{SERVICE}/api/v1{path}", json=body, timeout=300)


def _service(platform: RunningPlatform, username: str) -> Service:
    session = Service(platform.login(username))
    session.open()
    return session


def _until_state(
    service: Service, submission: str, states: set[str], seconds: float
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


def _until_run(service: Service, run_id: str, seconds: float) -> dict[str, Any]:
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
    """After the approval above: the operator registers a production job for the
    approved model, runs it now; the batch is built, the notebook runs with papermill in
    a runner, its outputs pass the output check and land in the outbox with an HTML
    report. Then the job's pinned notebook is changed on disk: the next run is refused."""
    job_request = {
        "scenario": "bank_credit",
        "model_name": "bank_credit.ordos_bank",
        "parameters": {"run_date": "2026-07-01", "period": "daily"},
    }
    partner = _service(platform, PARTNER)
    assert partner.post("/production/jobs", job_request).status_code == 403
    operator = _service(platform, "op-runner")
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
        "runner.start",
        "selfcheck.result",
        "review.vote",
        "registry.register",
        "mlflow.write",
        "production.job.create",
        "production.run.transition",
        "runner.end",
    } <= actions


AUDIT_ACTIONS = """
from shuyu.audit.log import AuditLog
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database
print(" ".join(sorted({e["action"] for e in AuditLog(Database(PlatformSettings.from_env().db_url)).events()})))
"""
