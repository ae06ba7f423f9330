"""The registry guard's endpoint table, checked against MLflow 3.17.2's real routes.

`test_every_route_is_classified` lists every route of the server app (Flask url_map and
FastAPI's native routes) in a fresh interpreter and compares the writes, and everything
the guard restricts, with the snapshot below: a route a new MLflow adds fails the test
until someone decides which list it belongs to.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shuyu.tracking.admin_client import GATE_USERNAME
from shuyu.tracking.auth_app import basic_credentials
from shuyu.tracking.endpoints import (
    READ_METHODS,
    Access,
    classify,
    graphql_access,
    route_of,
)
from shuyu.tracking.guard import Principal, decide

# (method, route) -> what the guard does; reads left to MLflow are not listed.
EXPECTED_REGISTRY = {
    ("DELETE", "/mlflow/model-versions/delete"),
    ("DELETE", "/mlflow/model-versions/delete-tag"),
    ("DELETE", "/mlflow/registered-models/alias"),
    ("DELETE", "/mlflow/registered-models/delete"),
    ("DELETE", "/mlflow/registered-models/delete-tag"),
    ("DELETE", "/mlflow/webhooks/{webhook_id}"),
    ("GET", "/mlflow/webhooks"),
    ("GET", "/mlflow/webhooks/{webhook_id}"),
    ("PATCH", "/mlflow/model-versions/update"),
    ("PATCH", "/mlflow/registered-models/update"),
    ("PATCH", "/mlflow/webhooks/{webhook_id}"),
    ("POST", "/mlflow/model-versions/create"),
    ("POST", "/mlflow/model-versions/set-tag"),
    ("POST", "/mlflow/model-versions/transition-stage"),
    ("POST", "/mlflow/registered-models/alias"),
    ("POST", "/mlflow/registered-models/create"),
    ("POST", "/mlflow/registered-models/rename"),
    ("POST", "/mlflow/registered-models/set-tag"),
    ("POST", "/mlflow/webhooks"),
    ("POST", "/mlflow/webhooks/{webhook_id}/test"),
}
EXPECTED_ADMIN = {
    ("DELETE", "/mlflow-artifacts/artifacts/{artifact_path}"),
    ("DELETE", "/mlflow/datasets/{dataset_id}"),
    ("DELETE", "/mlflow/datasets/{dataset_id}/records"),
    ("DELETE", "/mlflow/datasets/{dataset_id}/tags/{key}"),
    ("DELETE", "/mlflow/gateway/budgets/delete"),
    ("DELETE", "/mlflow/gateway/endpoints/bindings/delete"),
    ("DELETE", "/mlflow/gateway/endpoints/delete"),
    ("DELETE", "/mlflow/gateway/endpoints/delete-tag"),
    ("DELETE", "/mlflow/gateway/guardrails/delete"),
    ("DELETE", "/mlflow/gateway/guardrails/remove-from-endpoint"),
    ("DELETE", "/mlflow/gateway/model-definitions/delete"),
    ("DELETE", "/mlflow/gateway/secrets/delete"),
    ("DELETE", "/mlflow/label-schemas/delete"),
    ("DELETE", "/mlflow/mcp-servers/{name}"),
    ("DELETE", "/mlflow/mcp-servers/{name}/aliases/{alias}"),
    ("DELETE", "/mlflow/mcp-servers/{name}/endpoints/{endpoint_id}"),
    ("DELETE", "/mlflow/mcp-servers/{name}/tags/{key}"),
    ("DELETE", "/mlflow/mcp-servers/{name}/versions/{version}"),
    ("DELETE", "/mlflow/mcp-servers/{name}/versions/{version}/tags/{key}"),
    ("DELETE", "/mlflow/prompt-optimization/jobs/{job_id}"),
    ("DELETE", "/mlflow/roles/delete"),
    ("DELETE", "/mlflow/roles/permissions/remove"),
    ("DELETE", "/mlflow/roles/unassign"),
    ("DELETE", "/mlflow/scorers/delete"),
    ("DELETE", "/mlflow/users/delete"),
    ("DELETE", "/mlflow/workspaces/{workspace_name}"),
    ("GET", "/gateway/mlflow/v1/models"),
    ("GET", "/jobs/{job_id}"),
    ("GET", "/mlflow/assistant/config"),
    ("GET", "/mlflow/assistant/providers"),
    ("GET", "/mlflow/assistant/providers/{provider}/health"),
    ("GET", "/mlflow/assistant/providers/{provider}/models"),
    ("GET", "/mlflow/assistant/sessions/{session_id}/stream"),
    ("GET", "/mlflow/gateway/budgets/get"),
    ("GET", "/mlflow/gateway/budgets/list"),
    ("GET", "/mlflow/gateway/budgets/windows"),
    ("GET", "/mlflow/gateway/endpoints/bindings/list"),
    ("GET", "/mlflow/gateway/endpoints/get"),
    ("GET", "/mlflow/gateway/endpoints/list"),
    ("GET", "/mlflow/gateway/guardrails/get"),
    ("GET", "/mlflow/gateway/guardrails/list"),
    ("GET", "/mlflow/gateway/guardrails/list-for-endpoint"),
    ("GET", "/mlflow/gateway/model-definitions/get"),
    ("GET", "/mlflow/gateway/model-definitions/list"),
    ("GET", "/mlflow/gateway/provider-config"),
    ("GET", "/mlflow/gateway/secrets/config"),
    ("GET", "/mlflow/gateway/secrets/get"),
    ("GET", "/mlflow/gateway/secrets/list"),
    ("GET", "/mlflow/gateway/supported-models"),
    ("GET", "/mlflow/gateway/supported-providers"),
    ("GET", "/mlflow/jobs/{job_id}"),
    ("GET", "/mlflow/mcp-servers"),
    ("GET", "/mlflow/mcp-servers/endpoints"),
    ("GET", "/mlflow/mcp-servers/{name}"),
    ("GET", "/mlflow/mcp-servers/{name}/aliases/{alias}"),
    ("GET", "/mlflow/mcp-servers/{name}/endpoints"),
    ("GET", "/mlflow/mcp-servers/{name}/endpoints/{endpoint_id}"),
    ("GET", "/mlflow/mcp-servers/{name}/versions"),
    ("GET", "/mlflow/mcp-servers/{name}/versions/{version}"),
    ("GET", "/mlflow/prompt-optimization/jobs/search"),
    ("GET", "/mlflow/prompt-optimization/jobs/{job_id}"),
    ("GET", "/mlflow/roles/get"),
    ("GET", "/mlflow/roles/list"),
    ("GET", "/mlflow/roles/permissions/list"),
    ("GET", "/mlflow/roles/users/list"),
    ("GET", "/mlflow/workspaces"),
    ("GET", "/mlflow/workspaces/{workspace_name}"),
    ("GET", "/signup"),
    ("PATCH", "/jobs/cancel/{job_id}"),
    ("PATCH", "/mlflow/assistant/sessions/{session_id}"),
    ("PATCH", "/mlflow/datasets/{dataset_id}/tags"),
    ("PATCH", "/mlflow/gateway/guardrails/update-config"),
    ("PATCH", "/mlflow/issues/{issue_id}"),
    ("PATCH", "/mlflow/jobs/cancel/{job_id}"),
    ("PATCH", "/mlflow/label-schemas/update"),
    ("PATCH", "/mlflow/mcp-servers/{name}"),
    ("PATCH", "/mlflow/mcp-servers/{name}/endpoints/{endpoint_id}"),
    ("PATCH", "/mlflow/mcp-servers/{name}/versions/{version}"),
    ("PATCH", "/mlflow/roles/permissions/update"),
    ("PATCH", "/mlflow/roles/update"),
    ("PATCH", "/mlflow/users/update-admin"),
    ("PATCH", "/mlflow/users/update-password"),
    ("PATCH", "/mlflow/workspaces/{workspace_name}"),
    ("POST", "/ajax-api/2.0mlflow/experiments/search-datasets"),
    ("POST", "/api/2.0mlflow/experiments/search-datasets"),
    ("POST", "/gateway/anthropic/v1/messages"),
    ("POST", "/gateway/gemini/v1beta/models/{endpoint_name}:generateContent"),
    ("POST", "/gateway/gemini/v1beta/models/{endpoint_name}:streamGenerateContent"),
    ("POST", "/gateway/mlflow/v1/chat/completions"),
    ("POST", "/gateway/openai/v1/chat/completions"),
    ("POST", "/gateway/openai/v1/embeddings"),
    ("POST", "/gateway/openai/v1/responses"),
    ("POST", "/gateway/openai/v1/responses/compact"),
    ("POST", "/gateway/proxy/{endpoint_name}/{path}"),
    ("POST", "/gateway/typesafe/v1/systemone"),
    ("POST", "/gateway/{endpoint_name}/mlflow/invocations"),
    ("POST", "/jobs"),
    ("POST", "/jobs/search"),
    ("POST", "/mlflow-artifacts/mpu/abort/{artifact_path}"),
    ("POST", "/mlflow-artifacts/mpu/complete/{artifact_path}"),
    ("POST", "/mlflow-artifacts/mpu/create/{artifact_path}"),
    ("POST", "/mlflow/artifacts/presigned-download-url"),
    ("POST", "/mlflow/artifacts/presigned-upload-url"),
    ("POST", "/mlflow/assistant/message"),
    ("POST", "/mlflow/assistant/sessions/{session_id}/permission"),
    ("POST", "/mlflow/assistant/sessions/{session_id}/tool-result"),
    ("POST", "/mlflow/assistant/skills/install"),
    ("POST", "/mlflow/datasets/create"),
    ("POST", "/mlflow/datasets/search"),
    ("POST", "/mlflow/datasets/{dataset_id}/add-experiments"),
    ("POST", "/mlflow/datasets/{dataset_id}/records"),
    ("POST", "/mlflow/datasets/{dataset_id}/remove-experiments"),
    ("POST", "/mlflow/demo/delete"),
    ("POST", "/mlflow/demo/generate"),
    ("POST", "/mlflow/experiments/create"),
    ("POST", "/mlflow/experiments/delete"),
    ("POST", "/mlflow/experiments/delete-experiment-tag"),
    ("POST", "/mlflow/experiments/restore"),
    ("POST", "/mlflow/experiments/set-experiment-tag"),
    ("POST", "/mlflow/experiments/update"),
    ("POST", "/mlflow/gateway-proxy"),
    ("POST", "/mlflow/gateway/budgets/create"),
    ("POST", "/mlflow/gateway/budgets/update"),
    ("POST", "/mlflow/gateway/endpoints/bindings/create"),
    ("POST", "/mlflow/gateway/endpoints/create"),
    ("POST", "/mlflow/gateway/endpoints/models/attach"),
    ("POST", "/mlflow/gateway/endpoints/models/detach"),
    ("POST", "/mlflow/gateway/endpoints/set-tag"),
    ("POST", "/mlflow/gateway/endpoints/update"),
    ("POST", "/mlflow/gateway/guardrails/add-to-endpoint"),
    ("POST", "/mlflow/gateway/guardrails/create"),
    ("POST", "/mlflow/gateway/model-definitions/create"),
    ("POST", "/mlflow/gateway/model-definitions/update"),
    ("POST", "/mlflow/gateway/secrets/create"),
    ("POST", "/mlflow/gateway/secrets/update"),
    ("POST", "/mlflow/genai/evaluate/invoke"),
    ("POST", "/mlflow/issues"),
    ("POST", "/mlflow/issues/invoke"),
    ("POST", "/mlflow/issues/search"),
    ("POST", "/mlflow/label-schemas/create"),
    ("POST", "/mlflow/mcp-servers"),
    ("POST", "/mlflow/mcp-servers/{name}/aliases"),
    ("POST", "/mlflow/mcp-servers/{name}/endpoints"),
    ("POST", "/mlflow/mcp-servers/{name}/tags"),
    ("POST", "/mlflow/mcp-servers/{name}/versions"),
    ("POST", "/mlflow/mcp-servers/{name}/versions/{version}/tags"),
    ("POST", "/mlflow/prompt-optimization/jobs"),
    ("POST", "/mlflow/prompt-optimization/jobs/search"),
    ("POST", "/mlflow/prompt-optimization/jobs/{job_id}/cancel"),
    ("POST", "/mlflow/review-queues/create"),
    ("POST", "/mlflow/review-queues/delete"),
    ("POST", "/mlflow/review-queues/get-or-create-user"),
    ("POST", "/mlflow/review-queues/items/add"),
    ("POST", "/mlflow/review-queues/items/remove"),
    ("POST", "/mlflow/review-queues/items/set-status"),
    ("POST", "/mlflow/review-queues/update"),
    ("POST", "/mlflow/roles/assign"),
    ("POST", "/mlflow/roles/create"),
    ("POST", "/mlflow/roles/permissions/add"),
    ("POST", "/mlflow/runs/create-promptlab-run"),
    ("POST", "/mlflow/scorer/invoke"),
    ("POST", "/mlflow/scorers/register"),
    ("POST", "/mlflow/ui-telemetry"),
    ("POST", "/mlflow/upload-artifact"),
    ("POST", "/mlflow/users/create"),
    ("POST", "/mlflow/users/create-ui"),
    ("POST", "/mlflow/users/permissions/grant"),
    ("POST", "/mlflow/users/permissions/revoke"),
    ("POST", "/mlflow/workspaces"),
    ("POST", "/v1/traces"),
    ("PUT", "/mlflow/assistant/config"),
    ("PUT", "/mlflow/scorers/online-config"),
}
EXPECTED_OPEN_WRITES = {
    ("DELETE", "/mlflow/logged-models/{model_id}"),
    ("DELETE", "/mlflow/logged-models/{model_id}/tags/{tag_key}"),
    ("DELETE", "/mlflow/traces/{request_id}/tags"),
    ("DELETE", "/mlflow/traces/{trace_id}/assessments/{assessment_id}"),
    ("DELETE", "/mlflow/traces/{trace_id}/tags"),
    ("PATCH", "/mlflow/logged-models/{model_id}"),
    ("PATCH", "/mlflow/logged-models/{model_id}/tags"),
    ("PATCH", "/mlflow/traces/{request_id}"),
    ("PATCH", "/mlflow/traces/{request_id}/tags"),
    ("PATCH", "/mlflow/traces/{trace_id}/assessments/{assessment_id}"),
    ("PATCH", "/mlflow/traces/{trace_id}/tags"),
    ("POST", "/mlflow/experiments/search"),
    ("POST", "/mlflow/experiments/search-datasets"),
    ("POST", "/mlflow/logged-models"),
    ("POST", "/mlflow/logged-models/search"),
    ("POST", "/mlflow/logged-models/{model_id}/params"),
    ("POST", "/mlflow/registered-models/get-latest-versions"),
    ("POST", "/mlflow/runs/create"),
    ("POST", "/mlflow/runs/delete"),
    ("POST", "/mlflow/runs/delete-tag"),
    ("POST", "/mlflow/runs/log-batch"),
    ("POST", "/mlflow/runs/log-inputs"),
    ("POST", "/mlflow/runs/log-metric"),
    ("POST", "/mlflow/runs/log-model"),
    ("POST", "/mlflow/runs/log-parameter"),
    ("POST", "/mlflow/runs/outputs"),
    ("POST", "/mlflow/runs/restore"),
    ("POST", "/mlflow/runs/search"),
    ("POST", "/mlflow/runs/set-tag"),
    ("POST", "/mlflow/runs/update"),
    ("POST", "/mlflow/traces"),
    ("POST", "/mlflow/traces/batchGetInfos"),
    ("POST", "/mlflow/traces/calculate-filter-correlation"),
    ("POST", "/mlflow/traces/delete-traces"),
    ("POST", "/mlflow/traces/link-prompts"),
    ("POST", "/mlflow/traces/link-to-run"),
    ("POST", "/mlflow/traces/metrics"),
    ("POST", "/mlflow/traces/search"),
    ("POST", "/mlflow/traces/{trace_id}/assessments"),
    ("PUT", "/mlflow-artifacts/artifacts/{artifact_path}"),
}
EXPECTED_GRAPHQL = {
    ("GET", "/graphql"),
    ("POST", "/graphql"),
}


SNAPSHOT = {
    **{k: Access.REGISTRY for k in EXPECTED_REGISTRY},
    **{k: Access.ADMIN for k in EXPECTED_ADMIN},
    **{k: Access.OPEN for k in EXPECTED_OPEN_WRITES},
    **{k: Access.GRAPHQL for k in EXPECTED_GRAPHQL},
}


def _normalise(path: str) -> str:
    path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", path)
    return re.sub(r"\{([a-z_]+):path\}", r"{\1}", path)


@pytest.fixture(scope="module")
def mlflow_routes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    workdir = tmp_path_factory.mktemp("routes")
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("mlflow_routes.py")), str(workdir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    middleware = next(r["middleware"] for r in rows if "middleware" in r)
    assert middleware[0] == "RegistryGuard", f"the guard must be outermost: {middleware}"
    return [(r["server"], r["method"], _normalise(r["path"])) for r in rows if "method" in r]


def test_every_route_is_classified(mlflow_routes: list[tuple[str, str, str]]) -> None:
    seen: dict[tuple[str, str], Access] = {}
    for _server, method, path in mlflow_routes:
        access = classify(method, path)
        if method not in READ_METHODS or access is not Access.OPEN:
            seen[(method, route_of(path))] = access
    unclassified = sorted(set(seen) - set(SNAPSHOT))
    assert not unclassified, f"routes MLflow added: classify them in endpoints.py {unclassified}"
    changed = {k: (SNAPSHOT[k], v) for k, v in seen.items() if SNAPSHOT[k] is not v}
    assert not changed, f"classification changed (expected, got): {changed}"
    gone = sorted(set(SNAPSHOT) - set(seen))
    assert not gone, f"routes no longer served by MLflow: {gone}"


def test_every_registry_write_route_is_guarded(mlflow_routes: list[tuple[str, str, str]]) -> None:
    registry = [
        (m, p)
        for _s, m, p in mlflow_routes
        if re.search(r"/(registered-models|model-versions|webhooks)(/|$)", p)
    ]
    assert len(registry) >= 40  # both prefixes of every registry endpoint
    for method, path in registry:
        access = classify(method, path)
        if method in READ_METHODS or path.endswith("get-latest-versions"):
            continue
        assert access is Access.REGISTRY, (method, path)


@pytest.mark.parametrize("prefix", ["/api/2.0", "/ajax-api/2.0", "/api/3.0", "/ajax-api/3.0"])
@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("POST", "/mlflow/registered-models/create"),
        ("POST", "/mlflow/model-versions/create"),
        ("POST", "/mlflow/registered-models/alias"),
        ("DELETE", "/mlflow/registered-models/alias"),
        ("POST", "/mlflow/registered-models/rename"),
        ("PATCH", "/mlflow/registered-models/update"),
        ("DELETE", "/mlflow/registered-models/delete"),
        ("POST", "/mlflow/model-versions/transition-stage"),
        ("POST", "/mlflow/model-versions/copy"),  # not in 3.17.2: still a registry write
        ("PUT", "/mlflow/registered-models/brand-new-endpoint"),
        ("GET", "/mlflow/model-versions/brand-new-read"),  # unknown reads refused too
        ("GET", "/mlflow/webhooks"),
    ],
)
def test_registry_writes_need_the_gate(prefix: str, method: str, route: str) -> None:
    assert classify(method, prefix + route) is Access.REGISTRY


@pytest.mark.parametrize(
    "path",
    [
        "/api/2.0/mlflow//registered-models/create",
        "/api/2.0/mlflow/registered-models/create/",
        "/ajax-api/2.0/mlflow/registered-models//create//",
    ],
)
def test_odd_spellings_of_a_registry_write_are_still_registry_writes(path: str) -> None:
    assert classify("POST", path) is Access.REGISTRY


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/2.0/mlflow/registered-models/get", Access.OPEN),
        ("GET", "/api/2.0/mlflow/model-versions/search", Access.OPEN),
        ("POST", "/api/2.0/mlflow/runs/log-batch", Access.OPEN),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.onnx", Access.OPEN),
        ("POST", "/api/2.0/mlflow/experiments/create", Access.ADMIN),
        ("POST", "/api/2.0/mlflow/experiments/update", Access.ADMIN),
        ("POST", "/api/2.0/mlflow/users/create", Access.ADMIN),
        ("POST", "/api/3.0/mlflow/users/permissions/grant", Access.ADMIN),
        ("POST", "/api/2.0/mlflow/some-future-write", Access.ADMIN),
        ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/1/abc", Access.ADMIN),
        ("GET", "/api/2.0/mlflow/experiments/get", Access.OPEN),
        ("POST", "/graphql", Access.GRAPHQL),
    ],
)
def test_tracking_and_administration(method: str, path: str, expected: Access) -> None:
    assert classify(method, path) is expected


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            'query { mlflowGetExperiment(input: {experimentId: "1"}) { experiment { name } } }',
            Access.OPEN,
        ),
        (
            'mutation { mlflowSearchRuns(input: {experimentIds: ["1"]}) { runs { info { runId } } } }',
            Access.OPEN,
        ),
        (
            'mutation { mlflowCreateRegisteredModel(input: {name: "m"}) { registeredModel { name } } }',
            Access.REGISTRY,
        ),
        # fragments are judged by what they select, as MLflow will run them
        ("mutation { ...f } fragment f on Mutation { testMutation { output } }", Access.OPEN),
        (
            "mutation { ...f } fragment f on Mutation { "
            'mlflowCreateRegisteredModel(input: {name: "m"}) { registeredModel { name } } }',
            Access.REGISTRY,
        ),
        (
            "mutation { ... on Mutation { "
            'mlflowCreateRegisteredModel(input: {name: "m"}) { registeredModel { name } } } }',
            Access.REGISTRY,
        ),
        (
            "mutation { ...a } fragment a on Mutation { ...b } fragment b on Mutation { "
            'renamed: mlflowCreateRegisteredModel(input: {name: "m"}) { registeredModel { name } } }',
            Access.REGISTRY,
        ),
        ("mutation { ...undefined }", Access.ADMIN),
        ("subscription { anything }", Access.ADMIN),
        ("this is not graphql", Access.ADMIN),
        (None, Access.ADMIN),
    ],
)
def test_graphql_documents(document: str | None, expected: Access) -> None:
    assert graphql_access(document) is expected


PARTNER = Principal("sz-credit", is_admin=False)
GATE = Principal(GATE_USERNAME, is_admin=False)
ADMIN = Principal("admin", is_admin=True)


@pytest.mark.parametrize(
    ("access", "principal", "allowed", "status"),
    [
        (Access.OPEN, None, True, 200),
        (Access.REGISTRY, None, False, 401),
        (Access.REGISTRY, PARTNER, False, 403),
        (Access.REGISTRY, GATE, True, 200),
        (Access.REGISTRY, ADMIN, True, 200),
        (Access.ADMIN, PARTNER, False, 403),
        (Access.ADMIN, GATE, False, 403),
        (Access.ADMIN, ADMIN, True, 200),
    ],
)
def test_who_passes(
    access: Access, principal: Principal | None, allowed: bool, status: int
) -> None:
    decision = decide(access, principal)
    assert (decision.allowed, decision.status) == (allowed, status)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic c3otY3JlZGl0OnA6dw==", ("sz-credit", "p:w")),  # a colon in the password
        ("basic c3otY3JlZGl0OnB3", ("sz-credit", "pw")),
        ("Bearer abc", None),
        ("Basic not-base64!", None),
        ("Basic OnB3", None),  # empty username
        (None, None),
    ],
)
def test_basic_credentials(header: str | None, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(header) == expected
