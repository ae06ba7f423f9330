"""Which MLflow server endpoints need more than MLflow's own per-resource permissions.

MLflow's basic-auth app decides per experiment, run and registered model. On its own it
lets any account create a registered model (and so own it) and lets anyone with EDIT move
an alias. shuyu's rule is stricter and lives here, in one table:

- `REGISTRY`: every write to the model registry (registered models, versions, aliases,
  tags, stages, webhooks) — the `registry-gate` account and administrators only.
- `ADMIN`: accounts, permissions, roles, workspaces, experiment creation and renaming,
  and every write this table does not name (deny by default) — administrators only.
- `OPEN`: reads, and the tracking writes a partner needs (runs, metrics, params, logged
  models, traces, artifact upload) — left to MLflow's per-experiment permissions.
- `GRAPHQL`: decided from the GraphQL document (`graphql_access`).

Paths are matched after removing the `/api/<version>` or `/ajax-api/<version>` prefix, so
that the REST and the browser (ajax) spellings of one endpoint are one entry. Anything
under a registry prefix that is not a listed read is a registry write, including
endpoints a future MLflow adds; `tests/unit/test_tracking_endpoints.py` walks the real
MLflow 3.17.2 route table so that a new route fails the tests until it is classified.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    parse,
)


class Access(StrEnum):
    OPEN = "open"
    REGISTRY = "registry"
    ADMIN = "admin"
    GRAPHQL = "graphql"


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_VERSIONED = re.compile(r"^/(?:ajax-)?api/\d+\.\d+(?=/)")

# Anything under these is the model registry; only the reads below are open.
REGISTRY_PREFIXES = (
    "/mlflow/registered-models",
    "/mlflow/model-versions",
    "/mlflow/webhooks",
    "/mlflow/prompts",
    "/model-versions",  # the UI's model-version artifact download (un-versioned path)
)
REGISTRY_READS: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/mlflow/registered-models/get"),
        ("GET", "/mlflow/registered-models/search"),
        ("GET", "/mlflow/registered-models/alias"),
        ("GET", "/mlflow/registered-models/get-latest-versions"),
        ("POST", "/mlflow/registered-models/get-latest-versions"),
        ("GET", "/mlflow/model-versions/get"),
        ("GET", "/mlflow/model-versions/search"),
        ("GET", "/mlflow/model-versions/get-download-uri"),
        ("GET", "/model-versions/get-artifact"),
    }
)

# Families no partner has any business with, whatever the method: LLM gateway and its
# secrets, the server-side assistant, MCP server registry, server jobs, prompt
# optimisation (which writes prompt versions into the registry), webhooks' targets.
ADMIN_PREFIXES = (
    "/mlflow/assistant",
    "/mlflow/gateway",
    "/gateway",
    "/mlflow/mcp-servers",
    "/jobs",
    "/mlflow/jobs",
    "/mlflow/prompt-optimization",
    "/mlflow/demo",
    "/mlflow/roles",
    "/mlflow/users/permissions/grant",
    "/mlflow/users/permissions/revoke",
    "/mlflow/users/create",
    "/mlflow/users/update-password",
    "/mlflow/users/update-admin",
    "/mlflow/users/delete",
    "/mlflow/workspaces",
    "/signup",
)

_ID = r"[^/]+"
# The tracking writes a partner's notebook makes (MLflow's Python client for runs,
# `log_model` with logged models, tracing, proxied artifact upload). Each is then judged
# by MLflow's own permission on the experiment or run it touches.
OPEN_WRITES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (method, re.compile(pattern))
    for method, pattern in (
        (
            "POST",
            r"/mlflow/runs/(create|update|delete|restore|log-metric|log-parameter"
            r"|log-batch|log-model|log-inputs|outputs|set-tag|delete-tag|search)",
        ),
        ("POST", r"/mlflow/experiments/(search|search-datasets)"),
        ("POST", r"/mlflow/logged-models"),
        ("POST", r"/mlflow/logged-models/search"),
        ("POST", rf"/mlflow/logged-models/{_ID}/params"),
        ("PATCH", rf"/mlflow/logged-models/{_ID}"),
        ("PATCH", rf"/mlflow/logged-models/{_ID}/tags"),
        ("DELETE", rf"/mlflow/logged-models/{_ID}"),
        ("DELETE", rf"/mlflow/logged-models/{_ID}/tags/.+"),
        ("POST", r"/mlflow/traces"),
        (
            "POST",
            r"/mlflow/traces/(search|batchGetInfos|metrics|calculate-filter-correlation"
            r"|delete-traces|link-to-run|link-prompts)",
        ),
        ("PATCH", rf"/mlflow/traces/{_ID}"),
        ("PATCH", rf"/mlflow/traces/{_ID}/tags"),
        ("DELETE", rf"/mlflow/traces/{_ID}/tags"),
        ("POST", rf"/mlflow/traces/{_ID}/assessments"),
        ("PATCH", rf"/mlflow/traces/{_ID}/assessments/{_ID}"),
        ("DELETE", rf"/mlflow/traces/{_ID}/assessments/{_ID}"),
        ("PUT", r"/mlflow-artifacts/artifacts/.+"),
    )
)

GRAPHQL_PATH = "/graphql"
# GraphQL mutations that only read (MLflow exposes searches as mutations). Any other
# mutation field is treated as a registry write.
GRAPHQL_READ_MUTATIONS = frozenset({"mlflowSearchRuns", "mlflowSearchDatasets", "testMutation"})


def route_of(path: str) -> str:
    """`/ajax-api/2.0/mlflow/runs/create/` → `/mlflow/runs/create`.

    Repeated and trailing slashes are folded first: the router would redirect such a
    spelling to the canonical one, so it must be judged as that one.
    """
    folded = re.sub(r"/{2,}", "/", path)
    if len(folded) > 1:
        folded = folded.rstrip("/")
    return _VERSIONED.sub("", folded, count=1)


def _under(route: str, prefixes: tuple[str, ...]) -> bool:
    return any(route == p or route.startswith(p + "/") for p in prefixes)


def classify(method: str, path: str) -> Access:
    """The access an HTTP request needs, from its method and path alone."""
    method = method.upper()
    route = route_of(path)
    if route == GRAPHQL_PATH:
        return Access.GRAPHQL
    if _under(route, REGISTRY_PREFIXES):
        return Access.OPEN if (method, route) in REGISTRY_READS else Access.REGISTRY
    if _under(route, ADMIN_PREFIXES):
        return Access.ADMIN
    if method in READ_METHODS:
        return Access.OPEN
    if any(m == method and p.fullmatch(route) for m, p in OPEN_WRITES):
        return Access.OPEN
    return Access.ADMIN


def _top_level_fields(
    selections: Iterable[SelectionNode], fragments: dict[str, FragmentDefinitionNode]
) -> set[str] | None:
    """The field names a selection set selects at its own level, through named and
    inline fragments; None when it spreads a fragment the document does not define."""
    names: set[str] = set()
    pending = list(selections)
    seen: set[str] = set()
    while pending:
        selection = pending.pop()
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)  # the field, not its alias
        elif isinstance(selection, InlineFragmentNode):
            pending.extend(selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in fragments:
                return None
            if name not in seen:
                seen.add(name)
                pending.extend(fragments[name].selection_set.selections)
    return names


def graphql_access(document: str | None) -> Access:
    """Queries are open (MLflow's GraphQL middleware filters them per resource); a
    mutation selecting any field that is not a known search — directly or through a
    fragment — is a registry write; a document that does not parse, or spreads a
    fragment it does not define, is refused as an administrator-only request rather
    than guessed at."""
    if not document:
        return Access.ADMIN
    try:
        parsed = parse(document)
    except GraphQLError:
        return Access.ADMIN
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }
    access = Access.OPEN
    for definition in parsed.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if definition.operation is OperationType.SUBSCRIPTION:
            return Access.ADMIN
        if definition.operation is OperationType.MUTATION:
            fields = _top_level_fields(definition.selection_set.selections, fragments)
            if fields is None:
                return Access.ADMIN
            if not fields <= GRAPHQL_READ_MUTATIONS:
                access = Access.REGISTRY
    return access
