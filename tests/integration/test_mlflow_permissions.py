"""MLflow's permissions as partners, the review gate and the administrator meet them.

Against a real `mlflow server --app-name shuyu-auth` (see `mlflow_server.py`): partner
accounts are provisioned the way the hub does it at spawn, log runs with MLflow's own
client, and are refused every registry write and every other partner's data.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
import requests

from shuyu.hub.mlflow_credentials import partner_mlflow_env
from shuyu.policy import default_policies_dir
from shuyu.settings import PlatformSettings
from shuyu.tracking.admin_client import GATE_USERNAME
from shuyu.tracking.artifact_store import usage_for
from tests.integration.mlflow_server import MlflowServer

pytestmark = [pytest.mark.integration, pytest.mark.host]


PREFIXES = ["/api/2.0", "/ajax-api/2.0"]


@dataclass(frozen=True)
class Partner:
    env: dict[str, str]

    @property
    def auth(self) -> tuple[str, str]:
        return (self.env["MLFLOW_TRACKING_USERNAME"], self.env["MLFLOW_TRACKING_PASSWORD"])


@dataclass(frozen=True)
class LoggedRun:
    experiment_id: str
    run_id: str
    artifact_path: str  # under the mlflow-artifacts proxy


def _hub_settings(server: MlflowServer) -> PlatformSettings:
    return server.settings.model_copy(update={"secrets_dir": server.secrets_dir})


@pytest.fixture(scope="module")
def sz(mlflow_server: MlflowServer) -> Partner:
    env = partner_mlflow_env(_hub_settings(mlflow_server), "sz-credit", "bank_credit", "suzhou_rcb")
    return Partner(env)


@pytest.fixture(scope="module")
def ordos(mlflow_server: MlflowServer) -> Partner:
    env = partner_mlflow_env(
        _hub_settings(mlflow_server), "ordos-risk", "bank_credit", "ordos_bank"
    )
    return Partner(env)


@pytest.fixture
def as_partner(monkeypatch: pytest.MonkeyPatch) -> Callable[[Partner], None]:
    """MLflow's client reads the sandbox's environment: set it as the hub would."""

    def use(partner: Partner) -> None:
        for key, value in partner.env.items():
            monkeypatch.setenv(key, value)

    return use


@pytest.fixture(scope="module")
def sz_run(
    mlflow_server: MlflowServer, sz: Partner, tmp_path_factory: pytest.TempPathFactory
) -> LoggedRun:
    saved = {k: os.environ.get(k) for k in sz.env}
    os.environ.update(sz.env)
    try:
        client = mlflow.MlflowClient(tracking_uri=mlflow_server.url)
        experiment = client.get_experiment_by_name(sz.env["MLFLOW_EXPERIMENT_NAME"])
        assert experiment is not None
        run = client.create_run(experiment.experiment_id, run_name="dp-mlp")
        client.log_param(run.info.run_id, "noise_multiplier", 1.1)
        for epoch, auc in enumerate([0.61, 0.68, 0.71]):
            client.log_metric(run.info.run_id, "auc", auc, step=epoch)
        report = tmp_path_factory.mktemp("art") / "report.json"
        report.write_text(json.dumps({"epsilon": 2.9}), encoding="utf-8")
        client.log_artifact(run.info.run_id, str(report))
        client.set_terminated(run.info.run_id)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return LoggedRun(
        experiment.experiment_id,
        run.info.run_id,
        f"{experiment.experiment_id}/{run.info.run_id}/artifacts/report.json",
    )


def _call(
    server: MlflowServer, method: str, path: str, auth: tuple[str, str] | None, **kw: object
) -> requests.Response:
    return requests.request(method, f"{server.url}{path}", auth=auth, timeout=60, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- provisioning


def test_the_hub_provisions_a_working_account_for_the_partner_only(
    mlflow_server: MlflowServer, sz: Partner
) -> None:
    env = sz.env
    assert (
        env["MLFLOW_TRACKING_URI"]
        == mlflow_server.url
        == f"http://127.0.0.3:{mlflow_server.settings.mlflow_port}"
    )
    assert env["MLFLOW_EXPERIMENT_NAME"] == "shuyu/bank_credit/suzhou_rcb"
    got = _call(
        mlflow_server,
        "GET",
        "/api/2.0/mlflow/experiments/get-by-name",
        sz.auth,
        params={"experiment_name": env["MLFLOW_EXPERIMENT_NAME"]},
    )
    assert got.status_code == 200, got.text


def _create_run(server: MlflowServer, auth: tuple[str, str], experiment: str) -> int:
    found = _call(
        server,
        "GET",
        "/api/2.0/mlflow/experiments/get-by-name",
        ("admin", server.admin_password),
        params={"experiment_name": experiment},
    ).json()["experiment"]["experiment_id"]
    body = {"experiment_id": found, "run_name": "probe"}
    return _call(server, "POST", "/api/2.0/mlflow/runs/create", auth, json=body).status_code


def test_a_sandbox_writes_its_own_scenario_and_no_other(
    mlflow_server: MlflowServer, sz: Partner
) -> None:
    # sz-credit holds bank_credit and bid_loan; a sandbox serves one: its spawn grants
    # EDIT on that scenario's experiment and revokes the other
    settings = _hub_settings(mlflow_server)
    bid = partner_mlflow_env(settings, "sz-credit", "bid_loan", "suzhou_rcb")
    auth = (bid["MLFLOW_TRACKING_USERNAME"], bid["MLFLOW_TRACKING_PASSWORD"])
    try:
        assert _create_run(mlflow_server, auth, "shuyu/bid_loan/suzhou_rcb") == 200
        assert _create_run(mlflow_server, auth, "shuyu/bank_credit/suzhou_rcb") == 403
    finally:
        # the module's other tests use sz-credit's bank_credit sandbox credentials
        sz.env.update(partner_mlflow_env(settings, "sz-credit", "bank_credit", "suzhou_rcb"))


def test_each_spawn_rotates_the_password_so_old_credentials_die(
    mlflow_server: MlflowServer,
) -> None:
    """The old password was in use (each of the server's two workers has verified and
    remembered it) when the next spawn rotates it: no worker accepts it any more."""
    settings = _hub_settings(mlflow_server)
    first = partner_mlflow_env(settings, "hi-underwriter", "health_underwriting", "health_insurer")
    path = "/api/2.0/mlflow/experiments/get-by-name"
    params = {"experiment_name": first["MLFLOW_EXPERIMENT_NAME"]}
    old = ("hi-underwriter", first["MLFLOW_TRACKING_PASSWORD"])
    # fresh connections: the kernel spreads them over both workers
    assert {
        _call(mlflow_server, "GET", path, old, params=params).status_code for _ in range(12)
    } == {200}
    second = partner_mlflow_env(settings, "hi-underwriter", "health_underwriting", "health_insurer")
    assert first["MLFLOW_TRACKING_PASSWORD"] != second["MLFLOW_TRACKING_PASSWORD"]
    new = ("hi-underwriter", second["MLFLOW_TRACKING_PASSWORD"])
    assert {
        _call(mlflow_server, "GET", path, old, params=params).status_code for _ in range(12)
    } == {401}
    assert _call(mlflow_server, "GET", path, new, params=params).status_code == 200


# ---------------------------------------------------------------- tracking


def test_a_partner_logs_runs_params_metrics_and_artifacts(
    mlflow_server: MlflowServer,
    sz: Partner,
    sz_run: LoggedRun,
    as_partner: Callable[[Partner], None],
    tmp_path: Path,
) -> None:
    as_partner(sz)
    client = mlflow.MlflowClient(tracking_uri=mlflow_server.url)
    run = client.get_run(sz_run.run_id)
    assert run.data.params == {"noise_multiplier": "1.1"}
    assert [m.value for m in client.get_metric_history(sz_run.run_id, "auc")] == [0.61, 0.68, 0.71]
    local = client.download_artifacts(sz_run.run_id, "report.json", str(tmp_path))
    assert json.loads(Path(local).read_text()) == {"epsilon": 2.9}


def test_a_partner_cannot_see_another_partners_experiment(
    mlflow_server: MlflowServer, ordos: Partner, sz_run: LoggedRun
) -> None:
    for prefix in PREFIXES:
        for path, params in (
            (f"{prefix}/mlflow/experiments/get", {"experiment_id": sz_run.experiment_id}),
            (f"{prefix}/mlflow/runs/get", {"run_id": sz_run.run_id}),
            (
                f"{prefix}/mlflow/metrics/get-history",
                {"run_id": sz_run.run_id, "metric_key": "auc"},
            ),
            (f"{prefix}/mlflow/artifacts/list", {"run_id": sz_run.run_id}),
        ):
            got = _call(mlflow_server, "GET", path, ordos.auth, params=params)
            assert got.status_code == 403, (path, got.status_code, got.text[:200])
        searched = _call(
            mlflow_server,
            "POST",
            f"{prefix}/mlflow/runs/search",
            ordos.auth,
            json={"experiment_ids": [sz_run.experiment_id]},
        )
        assert searched.status_code == 403 or not searched.json().get("runs"), searched.text[:300]
        listed = _call(
            mlflow_server,
            "POST",
            f"{prefix}/mlflow/experiments/search",
            ordos.auth,
            json={"max_results": 100},
        )
        names = {e["name"] for e in listed.json().get("experiments", [])}
        assert "shuyu/bank_credit/suzhou_rcb" not in names
        assert "shuyu/bank_credit/ordos_bank" in names


def test_a_partner_cannot_download_another_partners_artifacts(
    mlflow_server: MlflowServer, sz: Partner, ordos: Partner, sz_run: LoggedRun
) -> None:
    for prefix in PREFIXES:
        path = f"{prefix}/mlflow-artifacts/artifacts/{sz_run.artifact_path}"
        assert _call(mlflow_server, "GET", path, sz.auth).status_code == 200
        got = _call(mlflow_server, "GET", path, ordos.auth)
        assert got.status_code == 403, (path, got.status_code)
        listing = _call(
            mlflow_server,
            "GET",
            f"{prefix}/mlflow-artifacts/artifacts",
            ordos.auth,
            params={"path": f"{sz_run.experiment_id}/{sz_run.run_id}"},
        )
        assert listing.status_code == 403, listing.text[:200]
        upload = _call(
            mlflow_server,
            "PUT",
            f"{prefix}/mlflow-artifacts/artifacts/{sz_run.experiment_id}/{sz_run.run_id}/artifacts/planted.txt",
            ordos.auth,
            data=b"x",
        )
        assert upload.status_code == 403


# ---------------------------------------------------------------- the registry


def _registry_writes(model: str, run: LoggedRun) -> list[tuple[str, str, dict[str, object]]]:
    source = f"mlflow-artifacts:/{run.experiment_id}/{run.run_id}/artifacts"
    return [
        ("POST", "/mlflow/registered-models/create", {"name": model}),
        (
            "POST",
            "/mlflow/model-versions/create",
            {"name": model, "source": source, "run_id": run.run_id},
        ),
        (
            "POST",
            "/mlflow/registered-models/alias",
            {"name": model, "alias": "candidate", "version": "1"},
        ),
        ("DELETE", "/mlflow/registered-models/alias", {"name": model, "alias": "candidate"}),
        ("POST", "/mlflow/registered-models/rename", {"name": model, "new_name": model + "-x"}),
        ("PATCH", "/mlflow/registered-models/update", {"name": model, "description": "mine"}),
        ("POST", "/mlflow/registered-models/set-tag", {"name": model, "key": "k", "value": "v"}),
        (
            "POST",
            "/mlflow/model-versions/set-tag",
            {"name": model, "version": "1", "key": "k", "value": "v"},
        ),
        (
            "POST",
            "/mlflow/model-versions/transition-stage",
            {
                "name": model,
                "version": "1",
                "stage": "Production",
                "archive_existing_versions": False,
            },
        ),
        ("DELETE", "/mlflow/model-versions/delete", {"name": model, "version": "1"}),
        ("DELETE", "/mlflow/registered-models/delete", {"name": model}),
        (
            "POST",
            "/mlflow/webhooks",
            {
                "name": "hook",
                "url": "http://127.0.0.1:9/",
                "events": [{"entity": "model_version", "action": "created"}],
            },
        ),
    ]


def test_the_gate_registers_a_model_version_and_sets_an_alias(
    mlflow_server: MlflowServer, sz_run: LoggedRun
) -> None:
    # `approved` itself needs a signed approval record (test_registry_copy.py)
    gate = (GATE_USERNAME, mlflow_server.gate_password)
    writes = {
        path: body
        for method, path, body in _registry_writes("bank-credit-gate", sz_run)
        if method == "POST"
    }
    for path in (
        "/mlflow/registered-models/create",
        "/mlflow/model-versions/create",
        "/mlflow/registered-models/alias",
    ):
        got = _call(mlflow_server, "POST", "/api/2.0" + path, gate, json=writes[path])
        assert got.status_code == 200, (path, got.text[:300])
    got = _call(
        mlflow_server,
        "GET",
        "/api/2.0/mlflow/registered-models/alias",
        gate,
        params={"name": "bank-credit-gate", "alias": "candidate"},
    )
    assert got.json()["model_version"]["run_id"] == sz_run.run_id


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_partner_gets_403_on_every_registry_write(
    mlflow_server: MlflowServer, sz: Partner, sz_run: LoggedRun, prefix: str
) -> None:
    model = f"partner-model-{prefix.strip('/').replace('/', '-')}"
    for method, path, body in _registry_writes(model, sz_run):
        got = _call(mlflow_server, method, prefix + path, sz.auth, json=body)
        assert got.status_code == 403, (method, path, got.status_code, got.text[:200])
    # …and on the gate's model too: a partner never moves an alias
    for method, path, body in _registry_writes("bank-credit-gate", sz_run)[2:]:
        got = _call(mlflow_server, method, prefix + path, sz.auth, json=body)
        assert got.status_code == 403, (method, path, got.status_code)
    admin = ("admin", mlflow_server.admin_password)
    got = _call(
        mlflow_server, "GET", "/api/2.0/mlflow/registered-models/get", admin, params={"name": model}
    )
    assert got.status_code == 404  # nothing was created


def test_graphql_mutations_other_than_searches_are_registry_writes(
    mlflow_server: MlflowServer, sz: Partner, sz_run: LoggedRun
) -> None:
    mutation = (
        'mutation { mlflowCreateRegisteredModel(input: {name: "g"}) { registeredModel { name } } }'
    )
    got = _call(mlflow_server, "POST", "/graphql", sz.auth, json={"query": mutation})
    assert got.status_code == 403
    query = 'query { mlflowGetRun(input: {runId: "RUN"}) { run { info { runId } } } }'.replace(
        "RUN", sz_run.run_id
    )
    got = _call(mlflow_server, "POST", "/graphql", sz.auth, json={"query": query})
    assert got.status_code == 200
    assert got.json()["data"]["mlflowGetRun"]["run"]["info"]["runId"] == sz_run.run_id


def test_graphql_is_judged_by_the_body_mlflow_runs_not_the_query_string(
    mlflow_server: MlflowServer, sz: Partner
) -> None:
    # MLflow executes the JSON body of a GET too: a harmless query string must not let
    # a write mutation in the body through
    harmless = "query { __typename }"
    write = 'mutation { mlflowCreateRegisteredModel(input: {name: "via-get"}) { registeredModel { name } } }'
    got = _call(
        mlflow_server, "GET", "/graphql", sz.auth, params={"query": harmless}, json={"query": write}
    )
    assert got.status_code == 403
    hidden = (
        "mutation { ...w } fragment w on Mutation { "
        'mlflowCreateRegisteredModel(input: {name: "via-fragment"}) { registeredModel { name } } }'
    )
    got = _call(mlflow_server, "POST", "/graphql", sz.auth, json={"query": hidden})
    assert got.status_code == 403
    admin = ("admin", mlflow_server.admin_password)
    for name in ("via-get", "via-fragment"):
        found = _call(
            mlflow_server,
            "GET",
            "/api/2.0/mlflow/registered-models/get",
            admin,
            params={"name": name},
        )
        assert found.status_code == 404


def test_an_artifact_upload_must_state_its_size_within_the_limits(
    mlflow_server: MlflowServer, sz: Partner
) -> None:
    import http.client  # noqa: PLC0415 - to send headers requests would correct

    experiment = _call(
        mlflow_server,
        "GET",
        "/api/2.0/mlflow/experiments/get-by-name",
        sz.auth,
        params={"experiment_name": sz.env["MLFLOW_EXPERIMENT_NAME"]},
    ).json()["experiment"]["experiment_id"]
    run = _call(
        mlflow_server,
        "POST",
        "/api/2.0/mlflow/runs/create",
        sz.auth,
        json={"experiment_id": experiment},
    ).json()["run"]["info"]["run_id"]
    path = f"/api/2.0/mlflow-artifacts/artifacts/{experiment}/{run}/artifacts/big.bin"
    token = base64.b64encode(f"{sz.auth[0]}:{sz.auth[1]}".encode()).decode()
    host, port = mlflow_server.url.removeprefix("http://").split(":")

    def put(headers: dict[str, str], body: bytes) -> int:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            conn.putrequest("PUT", path)
            conn.putheader("Authorization", f"Basic {token}")
            for key, value in headers.items():
                conn.putheader(key, value)
            conn.endheaders()
            if body:
                conn.send(body)
            return conn.getresponse().status
        finally:
            conn.close()

    assert put({"Transfer-Encoding": "chunked"}, b"3\r\nabc\r\n0\r\n\r\n") == 411
    assert put({"Content-Length": str(600 << 20)}, b"") == 413  # over the 512 MiB limit
    assert put({"Content-Length": "3"}, b"abc") == 200


def test_the_server_runs_no_server_side_jobs(mlflow_server: MlflowServer) -> None:
    """MLflow's job runner (GenAI judges, prompt optimisation: huey consumers beside the
    server) is off; nothing in the domain runs server-side jobs."""
    running = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:  # gone meanwhile
            continue
        if any(b"huey_consumer" in w for w in words):
            running.append(b" ".join(words).decode(errors="replace")[:200])
    assert requests.get(f"{mlflow_server.url}/health", timeout=10).status_code == 200
    assert running == []


def test_the_quota_is_measured_where_the_artifacts_are_stored(
    mlflow_server: MlflowServer, sz_run: LoggedRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a partner stored counts against its experiment's quota wherever the store is:
    the local folder, or the S3 bucket (before, an S3 store measured 0 bytes and the
    quota never applied)."""
    for key, value in mlflow_server.store_env.items():
        monkeypatch.setenv(key, value)
    usage = usage_for(mlflow_server.artifacts)
    assert usage(sz_run.experiment_id) >= len(json.dumps({"epsilon": 2.9}))
    assert usage("999999") == 0
    if mlflow_server.artifacts.startswith("s3://"):  # in the bucket, not on local disk
        assert not (mlflow_server.state_dir / "artifacts" / sz_run.experiment_id).exists()


def test_the_administrator_can_write_the_registry(
    mlflow_server: MlflowServer, sz_run: LoggedRun
) -> None:
    admin = ("admin", mlflow_server.admin_password)
    for method, path, body in _registry_writes("admin-model", sz_run)[:3]:
        got = _call(mlflow_server, method, "/ajax-api/2.0" + path, admin, json=body)
        assert got.status_code == 200, (path, got.text[:300])


# ---------------------------------------------------------------- administration


def test_a_partner_cannot_create_experiments_users_or_grant_itself_access(
    mlflow_server: MlflowServer, sz: Partner, ordos: Partner
) -> None:
    other = _call(
        mlflow_server,
        "GET",
        "/api/2.0/mlflow/experiments/get-by-name",
        ("admin", mlflow_server.admin_password),
        params={"experiment_name": "shuyu/bank_credit/ordos_bank"},
    ).json()["experiment"]["experiment_id"]
    for method, path, body in (
        ("POST", "/api/2.0/mlflow/experiments/create", {"name": "shuyu/bank_credit/mine"}),
        ("POST", "/api/2.0/mlflow/experiments/update", {"experiment_id": other, "new_name": "x"}),
        ("POST", "/api/2.0/mlflow/users/create", {"username": "sock-puppet", "password": "p" * 16}),
        (
            "PATCH",
            "/api/2.0/mlflow/users/update-admin",
            {"username": "sz-credit", "is_admin": True},
        ),
        (
            "POST",
            "/api/3.0/mlflow/users/permissions/grant",
            {
                "username": "sz-credit",
                "resource_type": "experiment",
                "resource_id": other,
                "permission": "MANAGE",
            },
        ),
        (
            "POST",
            "/ajax-api/3.0/mlflow/users/permissions/grant",
            {
                "username": "sz-credit",
                "resource_type": "experiment",
                "resource_id": other,
                "permission": "READ",
            },
        ),
        ("POST", "/api/3.0/mlflow/roles/create", {"name": "r", "workspace": "default"}),
    ):
        got = _call(mlflow_server, method, path, sz.auth, json=body)
        assert got.status_code == 403, (path, got.status_code, got.text[:200])
    gate = (GATE_USERNAME, mlflow_server.gate_password)
    got = _call(
        mlflow_server, "POST", "/api/2.0/mlflow/experiments/create", gate, json={"name": "gate-exp"}
    )
    assert got.status_code == 403  # the gate writes the registry and nothing else


def test_unauthenticated_requests_get_401(mlflow_server: MlflowServer) -> None:
    for method, path in (
        ("GET", "/api/2.0/mlflow/experiments/search"),
        ("POST", "/api/2.0/mlflow/registered-models/create"),
        ("POST", "/api/2.0/mlflow/experiments/create"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/1/x"),
    ):
        assert _call(mlflow_server, method, path, None, json={"name": "x"}).status_code == 401, path
        wrong = _call(mlflow_server, method, path, (GATE_USERNAME, "wrong"), json={"name": "x"})
        assert wrong.status_code == 401, path


def test_refusals_and_privileged_writes_are_audited(
    mlflow_server: MlflowServer, sz: Partner, ordos: Partner, sz_run: LoggedRun
) -> None:
    """The partner's registry write is refused by shuyu's guard (MLflow alone would have
    created the model); reading another partner's run is refused by MLflow's own
    permissions; both, and the gate's write, are audit events."""
    create = "/api/2.0/mlflow/registered-models/create"
    _call(mlflow_server, "POST", create, sz.auth, json={"name": "audit-me"})
    peek = "/api/2.0/mlflow/runs/get"
    _call(mlflow_server, "GET", peek, ordos.auth, params={"run_id": sz_run.run_id})
    gate = (GATE_USERNAME, mlflow_server.gate_password)
    made = _call(mlflow_server, "POST", create, gate, json={"name": "audited"})
    assert made.status_code == 200
    events = [json.loads(line.split(" ", 1)[1]) for line in mlflow_server.audit_lines()]

    def logged(**fields: object) -> bool:
        return any(all(e.get(k) == v for k, v in fields.items()) for e in events)

    assert logged(actor="sz-credit", outcome="denied", path=create, status=403, by="shuyu-guard")
    assert logged(
        actor="ordos-risk", outcome="denied", path=peek, status=403, by="mlflow-basic-auth"
    )
    assert logged(actor=GATE_USERNAME, outcome="allowed", path=create, access="registry")


# ---------------------------------------------------------------- bootstrap


def _bootstrap(server: MlflowServer, policies: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SHUYU_SECRETS_DIR": str(server.secrets_dir)}
    return subprocess.run(
        [
            *(sys.executable, "-m", "shuyu.cli.main", "mlflow", "bootstrap"),
            *("--url", server.url, "--policies", str(policies)),
            *("--state-dir", str(server.secrets_dir / "none")),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_bootstrap_is_idempotent_and_revokes_lapsed_authorisations(
    mlflow_server: MlflowServer, sz: Partner, tmp_path: Path
) -> None:
    """Run last: it takes sz-credit's bank_credit grant away, then gives it back."""
    own = "/api/2.0/mlflow/experiments/get-by-name"
    params = {"experiment_name": "shuyu/bank_credit/suzhou_rcb"}
    again = _bootstrap(mlflow_server, default_policies_dir())
    assert again.returncode == 0, again.stderr
    assert _call(mlflow_server, "GET", own, sz.auth, params=params).status_code == 200

    lapsed = tmp_path / "policies"
    shutil.copytree(default_policies_dir(), lapsed)
    scenario = lapsed / "scenarios" / "bank_credit.yaml"
    text = scenario.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^granted_on: .*$", "granted_on: 2020-01-01\nvalid_until: 2021-01-01", text)
    scenario.write_text(text, encoding="utf-8")
    try:
        done = _bootstrap(mlflow_server, lapsed)
        assert done.returncode == 0, done.stderr
        assert "revocations" in done.stdout
        assert _call(mlflow_server, "GET", own, sz.auth, params=params).status_code == 403
    finally:
        restored = _bootstrap(mlflow_server, default_policies_dir())
        assert restored.returncode == 0, restored.stderr
    assert _call(mlflow_server, "GET", own, sz.auth, params=params).status_code == 200
