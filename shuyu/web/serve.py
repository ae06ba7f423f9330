"""`shuyu service serve`: the shuyu service process (its own container).

One process: the pages and REST API (behind the hub's proxy, on the service's port), the
sandbox submission endpoint (bound to the service's address on the sandbox network
only), a worker thread that runs self-checks in runners, expires submissions whose
authorisation lapsed and retries registry writes, and a production worker with its
scheduler (APScheduler, its jobs in the service's database) that runs approved
notebooks in runners and checks their outputs before the outbox. It holds the
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
from shuyu.production.scheduler import ProductionScheduler
from shuyu.production.service import ProductionService
from shuyu.registry.approved import RegistryModels
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


@dataclass(frozen=True)
class Services:
    review: ReviewService
    production: ProductionService


def build_service(settings: PlatformSettings, service_settings: ServiceSettings) -> Services:
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
    approval_key = read_secret(settings.secrets_dir / APPROVAL_KEY).encode()
    registrar = GateRegistrar(gate, approval_key)
    notify = webhook(service_settings.notify_webhook)
    review = ReviewService(
        db,
        policies,
        service_settings.service_files,
        pipeline=pipeline,
        registrar=registrar,
        notify=notify,
    )
    production = ProductionService(
        db,
        policies,
        service_settings.service_files / "production",
        service_settings.outbox,
        executor=pipeline.executor,
        models=RegistryModels(gate, approval_key),
        volumes=settings,
        notify=notify,
        concurrency=service_settings.production_concurrency,
    )
    return Services(review, production)


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


def work_forever(
    steps: tuple[Callable[[], object], ...], interval: float, stop: threading.Event
) -> None:
    while not stop.is_set():
        for step in steps:
            try:
                step()
            except Exception:
                _log.exception("worker step %s failed; trying again", step.__name__)
        stop.wait(interval)


def start_workers(
    services: Services, scheduler: ProductionScheduler, interval: float, stop: threading.Event
) -> list[threading.Thread]:
    """Two threads, so that a long self-check does not hold up a scheduled production
    run (nor the other way round); each first finishes what a restart interrupted."""
    review, production = services.review, services.production
    resumed = review.resume_after_restart()
    if resumed:
        _log.info("resuming %s submission(s) whose check a restart interrupted", resumed)
    interrupted = production.resume_after_restart()
    if interrupted:
        _log.info("%s production run(s) interrupted by a restart: retried or failed", interrupted)
    workers = [
        threading.Thread(
            target=work_forever,
            args=(
                (review.expire_lapsed, review.run_pending, review.retry_pending_registrations),
                interval,
                stop,
            ),
            name="selfcheck-worker",
            daemon=True,
        ),
        threading.Thread(
            target=work_forever,
            args=((scheduler.sync, production.run_pending), interval, stop),
            name="production-worker",
            daemon=True,
        ),
    ]
    for worker in workers:
        worker.start()
    return workers


def serve() -> None:
    import uvicorn  # noqa: PLC0415

    from shuyu.web.app import create_app  # noqa: PLC0415
    from shuyu.web.auth import HubIdentity  # noqa: PLC0415
    from shuyu.web.sandbox_app import create_sandbox_app  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log_to_stderr()
    settings = PlatformSettings.from_env()
    service_settings = ServiceSettings.from_env()
    services = build_service(settings, service_settings)
    identity = HubIdentity.for_service(
        f"http://{settings.hub_ip}:{settings.hub_api_port}/hub/api",
        read_secret(settings.secrets_dir / SERVICE_HUB_TOKEN),
        service_settings.service_prefix,
    )
    pages = RefuseSandboxPeers(
        create_app(
            services.review,
            identity,
            prefix=service_settings.service_prefix,
            production=services.production,
        ),
        settings,
    )
    submissions = create_sandbox_app(services.review, identity)
    scheduler = ProductionScheduler(services.production, settings.db_url)
    scheduler.start()
    stop = threading.Event()
    workers = start_workers(services, scheduler, service_settings.worker_interval, stop)
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
        scheduler.shutdown()
        for worker in workers:
            worker.join(timeout=30)
