"""The three walks of `shuyu demo` against the running platform.

* product: one bank-credit data product from the partner's sandbox to a bank's API call —
  develop.ipynb in the partner's own container, DP training, submission with a training
  spec, the self-check with a certified ε, three review levels (two expert votes), the
  registry's `approved` alias, the filing, a production run whose checked outputs reach
  the outbox, a consumer key scoring an enterprise, and the audit chain verified;
* leaky: a model trained without DP that memorises its rows, stopped by the self-check
  with the report's reasons;
* monitoring: a bank's burst beyond its pattern (事中检查) blocks its key and opens a case.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass
from typing import Any

import polars as pl
import requests

from shuyu.demo.in_sandbox import MARK, run_develop_notebook, run_snippet, sandbox_container
from shuyu.demo.stack import Stack
from shuyu.demo.steps import Say, Walk, expect
from shuyu.errors import ShuyuError
from shuyu.platform.service_client import open_service
from shuyu.policy.models import ApiProduct
from shuyu.products.policy import load_products_policy
from shuyu.registry.approved import load_approved
from shuyu.secrets import MLFLOW_GATE_PASSWORD, read_secret
from shuyu.tracking.admin_client import GATE_USERNAME
from shuyu.tracking.store_client import MlflowStore

CHECKED = {"in_review", "check_failed"}
RUN_FINAL = {"released", "quarantined", "discarded", "failed", "cancelled"}

_REPORT_CELL = (
    "import json\n"
    f"print({MARK!r} + json.dumps({{'run_id': logged.run_id, 'submission': submission['id'],"
    " 'epsilon': privacy.epsilon, 'delta': privacy.delta}))"
)

# a partner's notebook cell that a self-check must stop: no DP, trained far past
# convergence, logged and submitted as if it were fine
_LEAKY = f"""
import json
import shuyu
from shuyu.train.run import train_and_log
result, logged = train_and_log("{{scenario}}", private=False, epochs=60, batch_size=32,
                               learning_rate=0.5)
made = shuyu.submit(logged.run_id, "{{scenario}}", note="演示：未做差分隐私的过拟合模型")
print({MARK!r} + json.dumps({{"submission": made["id"]}}))
"""


@dataclass(frozen=True)
class DemoOptions:
    partner: str = "sz-credit"
    scenario: str = "bank_credit"
    epochs: int = 2
    check_seconds: float = 1800
    run_seconds: float = 900


@dataclass(frozen=True)
class Served:
    """What the product walk leaves for the monitoring walk."""

    product: ApiProduct
    subjects: list[str]


def _product_of(stack: Stack, options: DemoOptions) -> tuple[str, ApiProduct]:
    partner = stack.policies.partner_of(options.partner)
    if partner is None:
        raise ShuyuError(f"--partner {options.partner}: not a partner in policies/partners.yaml")
    model = f"{options.scenario}.{partner.id}"
    products = load_products_policy(stack.policies, stack.policies_dir).products
    product = next((p for p in products if p.model == model), None)
    if product is None:
        served = ", ".join(f"{p.id} → {p.model}" for p in products) or "none"
        raise ShuyuError(
            f"no product in products.yaml serves {model} (served: {served}): choose the "
            "partner whose model a product serves with --partner"
        )
    return model, product


def _reviewers(stack: Stack, scenario: str) -> list[tuple[str, str]]:
    """(level name, reviewer) for each vote the chain needs, in order."""
    votes = []
    for level in stack.policies.review_levels(stack.policies.scenario(scenario)):
        members = sorted(
            name
            for name, staff in stack.policies.staff.items()
            if level.group in staff.groups and name in stack.accounts
        )
        if len(members) < level.min_approvals:
            raise ShuyuError(f"review level {level.id} needs {level.min_approvals} reviewers")
        votes += [(level.name, name) for name in members[: level.min_approvals]]
    return votes


def _subjects(stack: Stack, product: ApiProduct) -> list[str]:
    """Subjects a consumer would know (its own customers): enterprises' credit codes."""
    if product.identifier != "uscc":
        raise ShuyuError(f"{product.id}: the demo scores enterprises (uscc) only")
    frame = pl.read_parquet(stack.layout.raw / "enterprise_basic.parquet", columns=["uscc"])
    return [str(code) for code in frame["uscc"].to_list()]


def _until_served(stack: Stack, product: str, seconds: float, version: str = "") -> None:
    """Until `product` is served (at `version`, when given: an earlier approval may be
    served still until the service has published the new one)."""
    deadline = time.monotonic() + seconds
    health: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            health = requests.get(f"{stack.products_url}/healthz", timeout=5).json()
            served = health.get("products", {}).get(product)
            if served and version in ("", str(health.get("versions", {}).get(product))):
                return
        except requests.RequestException:
            pass
        time.sleep(3)
    raise ShuyuError(f"{product} is not served after {seconds:.0f} s: {health}")


def _consumer(stack: Stack, product: ApiProduct, subjects: list[str], daily: int) -> str:
    """A bank registered by the administrator with its agreement and a key (the token)."""
    consumer = f"demo_bank_{secrets.token_hex(3)}"
    db = ["--db", stack.host_db_url()]
    policies = ["--policies", str(stack.policies_dir)]
    stack.on_host(
        "products", "consumer", "create", consumer, "--name", "演示农商银行",
        "--name-en", "Demo rural bank", "--kind", "bank", "--admin", "admin", *db, *policies,
    )  # fmt: skip
    today = dt.date.today()
    regions = sorted({code[2:6] + "00" for code in subjects})
    stack.on_host(
        "products", "agreement", "set", consumer, product.id, "--admin", "admin",
        "--purpose", product.purposes[0].id, "--from", today.isoformat(),
        "--until", today.replace(year=today.year + 1).isoformat(),
        "--daily", str(daily), "--monthly", str(daily * 20), "--price", "0.50",
        *(arg for region in regions for arg in ("--region", region)), *db, *policies,
    )  # fmt: skip
    issued = stack.on_host("products", "key", "issue", consumer, "--admin", "admin", *db)
    return issued.strip().splitlines()[-1].split(": ")[-1]


def product_walk(stack: Stack, say: Say, options: DemoOptions) -> Served:
    walk = Walk("product", say)
    model, product = _product_of(stack, options)
    sid = _develop_and_submit(walk, stack, options)
    version = _check_and_review(walk, stack, options, sid)
    _registered_and_filed(walk, stack, model, sid, version)
    _production_run(walk, stack, options, model)
    subjects = _subjects(stack, product)
    with walk.step(
        "使用单位以 API 密钥为一家企业评分", "a consumer's key scores an enterprise"
    ) as ev:
        _until_served(stack, product.id, 300, version)
        token = _consumer(stack, product, subjects, daily=1000)
        answer = requests.post(
            f"{stack.products_url}/api/v1/products/{product.id}/score",
            json={"subject": {"id": subjects[0]}, "purpose": product.purposes[0].id},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        expect(answer.status_code == 200, f"score: {answer.status_code} {answer.text[:300]}")
        scored = answer.json()["results"][0]
        factors = "；".join(f["label"] for f in scored["factors"])
        ev(f"score {scored['score']:.3f}, grade {scored['grade']}; 因子 {factors}")
    with walk.step("审计哈希链校验", "shuyu audit verify") as ev:
        verified = stack.in_service("audit", "verify").strip()
        expect(verified.startswith("OK"), verified)
        ev(verified)
    return Served(product=product, subjects=subjects)


def _develop_and_submit(walk: Walk, stack: Stack, options: DemoOptions) -> str:
    partner = options.partner
    with walk.step("合作方登录并启动沙箱", "the partner signs in and starts its sandbox") as ev:
        hub = stack.login(partner)
        hub.start_server(partner, options.scenario, timeout=180)
        container = sandbox_container(stack.settings, partner)
        ev(f"{partner}: container {container.name} ({container.image.tags[0]})")
    try:
        with walk.step(
            "在合作方自己的容器内运行 develop.ipynb，以差分隐私训练并附训练规格提交",
            "develop.ipynb runs in the partner's own container, trains with DP and "
            "submits with its training spec",
        ) as ev:
            made = run_develop_notebook(
                container,
                {"epochs": options.epochs, "note": "shuyu demo: DP MLP", "submit": True},
                _REPORT_CELL,
            )
            ev(f"MLflow run {made['run_id']}; ε spent {made['epsilon']:.3f} (δ {made['delta']})")
            ev(f"submission {made['submission']}")
    finally:
        hub.stop_server(partner)
    return str(made["submission"])


def _check_and_review(walk: Walk, stack: Stack, options: DemoOptions, sid: str) -> str:
    """The self-check and the votes; the approved model version."""
    provider = open_service(stack.login("rv-provider"))
    with walk.step("安全自查通过，ε 经平台认证", "the self-check passes with a certified ε") as ev:
        found = provider.until(f"/submissions/{sid}", CHECKED, options.check_seconds)
        expect(found["state"] == "in_review", f"self-check: {found['reason']}")
        expect(found["privacy_kind"] == "certified", f"privacy {found['privacy_kind']}")
        report = provider.get(f"/submissions/{sid}/report.json").json()
        for result in report["results"]:
            ev(f"{result['id']}: {result['status']}")
        ev(f"certified ε = {found['epsilon']}")
    with walk.step("三级审批（专委会两票）", "three levels approve (two expert votes)") as ev:
        for level, reviewer in _reviewers(stack, options.scenario):
            session = open_service(stack.login(reviewer))
            vote = session.post(
                f"/submissions/{sid}/votes",
                {"decision": "approve", "comment": f"{reviewer}: 同意（演示）"},
            )
            expect(vote.status_code in {200, 201}, f"{reviewer}: {vote.status_code} {vote.text}")
            ev(f"{level}: {reviewer} 同意 approve")
        final = provider.until(f"/submissions/{sid}", {"approved"}, 120)
    return str(final["model_version"])


def _registered_and_filed(walk: Walk, stack: Stack, model: str, sid: str, version: str) -> None:
    with walk.step(
        "注册表以别名 approved 提供所审版本", "the registry serves the checked version as approved"
    ) as ev:
        gate = MlflowStore(
            stack.settings.mlflow_url,
            GATE_USERNAME,
            read_secret(stack.layout.service_secrets / MLFLOW_GATE_PASSWORD),
        )
        with gate:
            loaded = load_approved(gate, model)
        expect(loaded.version.version == version, "another version is approved")
        expect(loaded.version.tags.get("shuyu.submission") == sid, "not this submission's")
        ev(f"{model} version {loaded.version.version} @approved, files: {sorted(loaded.files)}")
    with walk.step("管理员登记备案", "the administrator files the product (登记备案)") as ev:
        filed = stack.in_service("filing", "create", model, "--as", "admin")
        ev(filed.strip().splitlines()[-1] if filed.strip() else "filed")


def _production_run(walk: Walk, stack: Stack, options: DemoOptions, model: str) -> None:
    operator = open_service(stack.login("op-runner"))
    with walk.step("运营人员登记并运行生产作业", "the operator registers and runs the job") as ev:
        job = operator.post(
            "/production/jobs",
            {
                "scenario": options.scenario,
                "model_name": model,
                "parameters": {"run_date": dt.date.today().isoformat(), "period": "daily"},
            },
        )
        expect(job.status_code == 201, f"job: {job.status_code} {job.text}")
        started = operator.post(f"/production/jobs/{job.json()['id']}/run", {})
        expect(started.status_code == 201, f"run: {started.status_code} {started.text}")
        run = operator.until(
            f"/production/runs/{started.json()['id']}", RUN_FINAL, options.run_seconds
        )
        expect(run["state"] == "released", f"run {run['state']}: {run['reason']}")
        ev(f"job {job.json()['id']}, run {run['id']}: {run['state']}")
    with walk.step(
        "输出检查通过，评分与报告进入发件箱", "checked scores and report in the outbox"
    ) as ev:
        outbox = stack.layout.state / "outbox" / options.scenario / run["id"]
        expect((outbox / "run.html").exists(), f"no run.html in {outbox}")
        rows = (outbox / "scores.csv").read_text(encoding="utf-8").count("\n") - 1
        expect(rows > 0, "scores.csv is empty")
        ev(f"{outbox}: scores.csv ({rows} rows), run.html")


def leaky_walk(stack: Stack, say: Say, options: DemoOptions) -> None:
    walk = Walk("leaky", say)
    partner = options.partner
    with walk.step(
        "合作方在沙箱内训练未做差分隐私、记住训练行的模型并提交",
        "the partner trains a non-DP model that memorises its rows and submits it",
    ) as ev:
        hub = stack.login(partner)
        hub.start_server(partner, options.scenario, timeout=180)
        try:
            container = sandbox_container(stack.settings, partner)
            made = run_snippet(container, _LEAKY.replace("{scenario}", options.scenario))
        finally:
            hub.stop_server(partner)
        ev(f"submission {made['submission']}")
    sid = str(made["submission"])
    with walk.step(
        "安全自查拦截，报告写明原因", "the self-check stops it, with the report's reason"
    ) as ev:
        provider = open_service(stack.login("rv-provider"))
        found = provider.until(f"/submissions/{sid}", CHECKED, options.check_seconds)
        expect(found["state"] == "check_failed", f"the leaky model reached {found['state']}")
        report = provider.get(f"/submissions/{sid}/report.json").json()
        failed = [r for r in report["results"] if r["status"] in {"fail", "error"}]
        expect(bool(failed), "no failed check in the report")
        for result in failed:
            ev(f"{result['id']}: {result['summary_zh']}")
        vote = provider.post(f"/submissions/{sid}/votes", {"decision": "approve", "comment": ""})
        expect(vote.status_code in {403, 409}, f"a failed check was approvable: {vote.status_code}")
        ev(f"approving it is refused ({vote.status_code})")


def monitoring_walk(stack: Stack, say: Say, served: Served) -> None:
    walk = Walk("monitoring", say)
    product, subjects = served.product, served.subjects
    url = f"{stack.products_url}/api/v1/products/{product.id}/score"
    purpose = product.purposes[0].id
    with walk.step(
        "一家银行在数分钟内查询超出其日配额五分之一的企业",
        "a bank sends a burst beyond its pattern",
    ) as ev:
        _until_served(stack, product.id, 300)
        daily = 200
        token = _consumer(stack, product, subjects, daily=daily)
        headers = {"Authorization": f"Bearer {token}"}
        blocked: dict[str, Any] | None = None
        sent = 0
        batch = min(20, product.batch_limit)
        for start in range(1, min(len(subjects), daily), batch):
            chunk = [{"id": code} for code in subjects[start : start + batch]]
            answer = requests.post(
                url, json={"subjects": chunk, "purpose": purpose}, headers=headers, timeout=60
            )
            if answer.status_code == 403:
                blocked = answer.json()["error"]
                break
            expect(answer.status_code == 200, f"{answer.status_code} {answer.text[:300]}")
            sent += len(chunk)
        expect(blocked is not None, f"{sent} subjects against a daily quota of {daily} passed")
        assert blocked is not None
        expect(
            blocked["code"] == "key_blocked",
            f"refused as {blocked['code']}, not blocked: {blocked.get('message', '')}",
        )
        ev(f"after {sent} subjects: 403 {blocked['code']}, case {blocked['case']}")
    with walk.step("密钥被封禁，核查案件已开立", "the key is blocked and the case is open") as ev:
        again = requests.post(
            url, json={"subject": {"id": subjects[0]}, "purpose": purpose}, headers=headers,
            timeout=30,
        )  # fmt: skip
        expect(again.status_code == 403, f"the next call got {again.status_code}")
        expect(again.json()["error"]["case"] == blocked["case"], "another case")
        cases = stack.on_host("products", "case", "list", "--db", stack.host_db_url())
        line = next((row for row in cases.splitlines() if blocked["case"] in row), "")
        expect(bool(line), f"case {blocked['case']} is not listed")
        ev(line.strip())


def run_walks(stack: Stack, say: Say, options: DemoOptions, walks: list[str]) -> None:
    served: Served | None = None
    for name in walks:
        say(f"== {name}")
        if name == "product":
            served = product_walk(stack, say, options)
        elif name == "leaky":
            leaky_walk(stack, say, options)
        elif name == "monitoring":
            if served is None:
                _, product = _product_of(stack, options)
                served = Served(product=product, subjects=_subjects(stack, product))
            monitoring_walk(stack, say, served)
        else:
            raise ShuyuError(f"--walk {name}: not one of product, leaky, monitoring")
