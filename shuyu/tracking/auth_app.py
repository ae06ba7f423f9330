"""`mlflow server --app-name shuyu-auth`: MLflow's basic-auth app plus the registry guard.

MLflow's basic-auth app authenticates every request and checks per-resource permissions.
In front of it (outermost, so that it sees every request whether Flask or FastAPI serves
it) sits the guard: requests that `shuyu.tracking.endpoints` classifies as registry or
administrator writes are authenticated here and refused unless the caller is the
`registry-gate` account or an administrator. Every refusal — the guard's or MLflow's own
401/403 — and every successful write by an administrator or the gate is an audit event.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from flask import Flask
from starlette.concurrency import run_in_threadpool

from shuyu.audit.events import audit_event, install_sink, log_to_stderr
from shuyu.policy import load_policies
from shuyu.registry.approval import APPROVAL_TAG, SIGNATURE_TAG
from shuyu.registry.approval import verify as verify_approval
from shuyu.registry.approved import APPROVED_ALIAS
from shuyu.secrets import read_secret
from shuyu.settings import MlflowServerSettings, PlatformSettings
from shuyu.tracking.admin_client import GATE_USERNAME
from shuyu.tracking.artifact_store import usage_for
from shuyu.tracking.credentials import server_check
from shuyu.tracking.endpoints import READ_METHODS, Access, classify, graphql_access, route_of
from shuyu.tracking.guard import Decision, Principal, decide, decide_write
from shuyu.tracking.write_rules import (
    Limits,
    Refusal,
    TrackingState,
    artifact_write_refusal,
    logged_model_refusal,
    mlflow_state,
    run_update_refusal,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_GRAPHQL_BODY = 1 << 20
"""A GraphQL document is read whole to be judged; larger bodies are refused."""

_ADMIN_CACHE_SECONDS = 30.0

_MESSAGES = {
    401: "需要登录 MLflow / authentication required",
    403: "无权执行此操作 / permission denied",
    411: "需要给出上传大小 / Content-Length required",
    413: "超出大小限制 / over the size limit",
}


def create_app(app: Flask | None = None) -> Any:
    """The entry point `mlflow.app: shuyu-auth`; uvicorn calls it with no argument."""
    from mlflow.server import app as mlflow_app  # noqa: PLC0415 - server-only dependency
    from mlflow.server import auth as basic_auth  # noqa: PLC0415

    log_to_stderr()
    install_sink(PlatformSettings.from_env().db_url)
    served = basic_auth.create_app(app if app is not None else mlflow_app)
    if isinstance(served, Flask):
        # gunicorn / waitress serve Flask alone: FastAPI's native routes would be
        # unguarded, so refuse to start rather than run half-protected
        raise RuntimeError(
            "the shuyu-auth app runs under uvicorn only (mlflow server's default); "
            "do not pass --gunicorn-opts or --waitress-opts"
        )
    served.add_middleware(RegistryGuard)
    return served


# ---------------------------------------------------------------- identity


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an `Authorization: Basic …` header, or None."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = raw.partition(":")
    return (username, password) if sep and username else None


def authenticate(header: str | None) -> Principal | None:
    """Check the credentials against MLflow's own user store (blocking: may hash)."""
    creds = basic_credentials(header)
    user = server_check().user(*creds) if creds is not None else None
    if user is None:
        return None
    return Principal(username=user.username, is_admin=bool(user.is_admin))


class _AdminFlags:
    """is_admin by username, briefly cached: consulted after every successful write to
    decide whether it is an administrator's write to audit (no password hashing)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, bool]] = {}

    def is_admin(self, username: str) -> bool:
        from mlflow.server.auth import store  # noqa: PLC0415

        now = time.monotonic()
        with self._lock:
            hit = self._seen.get(username)
        if hit is not None and now - hit[0] < _ADMIN_CACHE_SECONDS:
            return hit[1]
        try:
            flag = bool(store.get_user(username).is_admin)
        except Exception:  # an unknown user is simply not an administrator
            flag = False
        with self._lock:
            self._seen[username] = (now, flag)
        return flag


_admin_flags = _AdminFlags()


# ---------------------------------------------------------------- audit


def _audit_guard(method: str, path: str, access: Access, claimed: str, decision: Decision) -> None:
    audit_event(
        "mlflow.request",
        claimed or "-",
        "allowed" if decision.allowed else "denied",
        method=method,
        path=path,
        access=access.value,
        status=decision.status,
        reason=decision.reason,
        by="shuyu-guard",
    )


def _audit_response(method: str, path: str, claimed: str, status: int) -> None:
    """MLflow's own refusals, and privileged accounts' successful writes."""
    if status in (401, 403):
        audit_event(
            "mlflow.request",
            claimed or "-",
            "denied",
            method=method,
            path=path,
            status=status,
            by="mlflow-basic-auth",
        )
    elif (
        status < 400
        and method not in READ_METHODS
        and claimed
        and (claimed == GATE_USERNAME or _admin_flags.is_admin(claimed))
    ):
        audit_event(
            "mlflow.write", claimed, "allowed", method=method, path=path, route=route_of(path)
        )


def _claimed(header: str | None) -> str:
    creds = basic_credentials(header)
    return creds[0] if creds else ""


# ---------------------------------------------------------------- the middleware


class RegistryGuard:
    """Pure ASGI middleware (bodies stream through untouched, except GraphQL's and the
    small body of a run update)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._state: TrackingState | None = None
        self._limits: Limits | None = None

    def _rules(self) -> tuple[TrackingState, Limits]:
        if self._state is None or self._limits is None:
            settings = MlflowServerSettings.from_env()
            self._state = mlflow_state(usage_for(settings.mlflow_artifacts_destination))
            policy = load_policies().sandbox
            self._limits = Limits(
                policy.mlflow_artifact_max_bytes, policy.mlflow_experiment_quota_bytes
            )
        return self._state, self._limits

    async def _write_refusal(
        self, method: str, path: str, scope: Scope, receive: Receive
    ) -> tuple[Refusal | None, Receive]:
        state, limits = self._rules()
        length = _header(scope, b"content-length")
        size = int(length) if length is not None and length.isdigit() else None
        refusal = await run_in_threadpool(artifact_write_refusal, method, path, size, state, limits)
        if refusal is None:
            refusal = await run_in_threadpool(logged_model_refusal, method, path, state)
        if refusal is None and route_of(path) == "/mlflow/runs/update":
            body, receive = await _buffer(receive)
            try:
                parsed = json.loads(body or b"{}")
            except ValueError:
                parsed = {}
            payload = parsed if isinstance(parsed, dict) else {}
            refusal = await run_in_threadpool(
                run_update_refusal, "/mlflow/runs/update", payload, state
            )
        return refusal, receive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"].upper()
        path: str = scope["path"]
        header = _header(scope, b"authorization")
        claimed = _claimed(header)
        access = classify(method, path)
        if access is Access.GRAPHQL:
            body, receive = await _buffer(receive)
            if body is None:
                await _refuse(send, 413)
                return
            # MLflow runs the JSON body's document whatever the method: judge that one
            access = graphql_access(graphql_document(body))
        if access is not Access.OPEN:
            principal = await run_in_threadpool(authenticate, header)
            decision = decide(access, principal)
            if decision.allowed and is_alias_write(method, path):
                body, receive = await _buffer(receive)
                refused = await run_in_threadpool(approved_alias_refusal, body)
                if refused is not None:
                    decision = Decision(False, 403, refused)
            _audit_guard(method, path, access, claimed, decision)
            if not decision.allowed:
                await _refuse(send, decision.status, decision.reason)
                return
        elif method not in READ_METHODS:
            refusal, receive = await self._write_refusal(method, path, scope, receive)
            if refusal is not None:
                principal = await run_in_threadpool(authenticate, header)
                decision = decide_write(refusal, principal)
                _audit_guard(method, path, Access.OPEN, claimed, decision)
                if not decision.allowed:
                    await _refuse(send, decision.status, decision.reason)
                    return

        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if access is Access.OPEN and status:
            await run_in_threadpool(_audit_response, method, path, claimed, status)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole body (None if over the limit) and a `receive` that replays it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_GRAPHQL_BODY:
            return None, receive
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def is_alias_write(method: str, path: str) -> bool:
    return method == "POST" and route_of(path) == "/mlflow/registered-models/alias"


def approved_alias_refusal(body: bytes | None) -> str | None:
    """Why `approved` may not point at the version this alias request names (None: it
    may, or the request sets another alias). Reads the version's tags from MLflow's own
    registry store and verifies the approval record's signature."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return "the alias request is not JSON"
    if not isinstance(payload, dict) or payload.get("alias") != APPROVED_ALIAS:
        return None
    from mlflow.server.handlers import _get_model_registry_store  # noqa: PLC0415

    try:
        store: Any = _get_model_registry_store()
        version = store.get_model_version(
            str(payload.get("name", "")), str(payload.get("version", ""))
        )
    except Exception:
        return "no such model version"
    tags = dict(version.tags or {})
    key_file = MlflowServerSettings.from_env().mlflow_approval_key_file
    if key_file is None:
        return "this server has no approval key: nothing can be approved"
    key = read_secret(key_file)
    return verify_approval(tags.get(APPROVAL_TAG), tags.get(SIGNATURE_TAG), key.encode())


def graphql_document(body: bytes) -> str | None:
    """The document MLflow will execute: the `query` of the JSON body (MLflow's handler
    reads the body for GET as for POST; the query string is never run)."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return None
    document = payload.get("query") if isinstance(payload, dict) else None
    return document if isinstance(document, str) else None


async def _refuse(send: Send, status: int, reason: str = "") -> None:
    message = _MESSAGES.get(status, "refused")
    body = json.dumps(
        {
            "error_code": "UNAUTHENTICATED" if status == 401 else "PERMISSION_DENIED",
            "message": f"{message}: {reason}" if reason else message,
        },
        ensure_ascii=False,
    ).encode("utf-8")
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Basic realm="mlflow"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
