"""`shuyu service serve`: the shuyu service process (its own container).

One process, three parts: the pages and REST API (behind the hub's proxy, on the
service's port), the sandbox submission endpoint (bound to the service's address on the
sandbox network only), and the worker thread that runs self-checks in runners, expires
submissions whose authorisation lapsed and retries registry writes. It holds the
registry gate's password and the approval key (from its secrets directory) and the
Docker socket for the runners; no partner code ever runs in it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from shuyu.audit.events import install_sink, log_to_stderr
from shuyu.policy import load_policies
from shuyu.policy.models import Policies
from shuyu.registry.gate import GateRegistrar
from shuyu.review.service import ReviewService
from shuyu.runner.docker_executor import DockerExecutor
from shuyu.secrets import APPROVAL_KEY, MLFLOW_GATE_PASSWORD, SERVICE_HUB_TOKEN, read_secret
from shuyu.selfcheck.pipeline import SelfCheckPipeline
from shuyu.settings import PlatformSettings, ServiceSettings
from shuyu.store.database import Database
from shuyu.tracking.admin_client import GATE_USERNAME
from shuyu.tracking.store_client import MlflowStore

_log = logging.getLogger("shuyu.service")


@dataclass
class PolicyCache:
    """The policies, read again when a file under the folder changes (grants renewed or
    ended take effect without a restart)."""

    loaded: Policies | None = None
    stamp: float = 0.0

    def __call__(self) -> Policies:
        from shuyu.policy.load import default_policies_dir  # noqa: PLC0415

        root = default_policies_dir()
        newest = max((p.stat().st_mtime for p in root.rglob("*.yaml")), default=0.0)
        if self.loaded is None or newest != self.stamp:
            self.loaded, self.stamp = load_policies(root), newest
        return self.loaded


def webhook(url: str) -> Callable[[dict[str, Any]], None]:
    def post(notice: dict[str, Any]) -> None:
        if not url:
            return
        try:
            requests.post(url, json=notice, timeout=5)
        except requests.RequestException as exc:  # a notice never blocks a decision
            _log.warning("notice webhook %s: %s", url, exc)

    return post


def build_service(settings: PlatformSettings, service_settings: ServiceSettings) -> ReviewService:
    db = Database(settings.db_url)
    db.upgrade()
    install_sink(settings.db_url)
    gate = MlflowStore(
        settings.mlflow_url,
        GATE_USERNAME,
        read_secret(settings.secrets_dir / MLFLOW_GATE_PASSWORD),
        timeout=120,
    )
    policies = PolicyCache()
    pipeline = SelfCheckPipeline(
        store=gate,
        executor=DockerExecutor(settings, service_settings.runner_image),
        settings=settings,
        policies=policies,
        progress=_log.info,
    )
    registrar = GateRegistrar(gate, read_secret(settings.secrets_dir / APPROVAL_KEY).encode())
    return ReviewService(
        db,
        policies,
        service_settings.service_files,
        pipeline=pipeline,
        registrar=registrar,
        notify=webhook(service_settings.notify_webhook),
    )


class RefuseSandboxPeers:
    """The pages are for people through the hub's proxy: a sandbox's address gets 404
    even if a firewall rule were missing (the submission endpoint has its own port)."""

    def __init__(self, app: Any, settings: PlatformSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        client = scope.get("client") or ("", 0)
        if scope["type"] == "http" and self.settings.is_sandbox_address(str(client[0])):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def work_forever(service: ReviewService, interval: float, stop: threading.Event) -> None:
    resumed = service.resume_after_restart()
    if resumed:
        _log.info("resuming %s submission(s) whose check a restart interrupted", resumed)
    while not stop.is_set():
        for step in (
            service.expire_lapsed,
            service.run_pending,
            service.retry_pending_registrations,
        ):
            try:
                step()
            except Exception:
                _log.exception("worker step %s failed; trying again", step.__name__)
        stop.wait(interval)


def serve() -> None:
    import uvicorn  # noqa: PLC0415

    from shuyu.web.app import create_app  # noqa: PLC0415
    from shuyu.web.auth import HubIdentity  # noqa: PLC0415
    from shuyu.web.sandbox_app import create_sandbox_app  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log_to_stderr()
    settings = PlatformSettings.from_env()
    service_settings = ServiceSettings.from_env()
    service = build_service(settings, service_settings)
    identity = HubIdentity.for_service(
        f"http://{settings.hub_ip}:{settings.hub_api_port}/hub/api",
        read_secret(settings.secrets_dir / SERVICE_HUB_TOKEN),
        service_settings.service_prefix,
    )
    pages = RefuseSandboxPeers(
        create_app(service, identity, prefix=service_settings.service_prefix), settings
    )
    submissions = create_sandbox_app(service, identity)
    stop = threading.Event()
    worker = threading.Thread(
        target=work_forever,
        args=(service, service_settings.worker_interval, stop),
        name="selfcheck-worker",
        daemon=True,
    )
    worker.start()
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                pages,
                host="0.0.0.0",  # noqa: S104 - the service's own networks only
                port=settings.service_port,
                proxy_headers=True,
                forwarded_allow_ips=settings.hub_ip,
                log_level="info",
            )
        ),
        uvicorn.Server(
            uvicorn.Config(
                submissions,
                host=settings.service_ip,  # the sandbox network: nothing else listens there
                port=settings.service_submit_port,
                log_level="info",
            )
        ),
    ]

    async def both() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    try:
        asyncio.run(both())
    finally:
        stop.set()
        worker.join(timeout=30)
