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

from shuyu.airlock.desk import AirlockDesk
from shuyu.airlock.place import WorkspacePlacer
from shuyu.audit.events import install_sink, log_to_stderr
from shuyu.governance.annual import AnnualEvaluation
from shuyu.governance.exit_store import ExitRegister
from shuyu.governance.filing_service import FilingService
from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.governance.lifecycle import Lifecycle
from shuyu.governance.production_gate import ProductionGate
from shuyu.packages.desk import PackageDesk
from shuyu.policy.cache import PolicyCache
from shuyu.production.packages import ApprovedWheels
from shuyu.production.scheduler import ProductionScheduler
from shuyu.production.service import NOTEBOOK_RUNNER, ProductionService
from shuyu.products.desk import ProductDesk, product_desk
from shuyu.products.policy import ProductsCache
from shuyu.products.published import Publisher
from shuyu.products.settings import ProductSettings
from shuyu.registry.approved import RegistryModels
from shuyu.registry.gate import GateRegistrar
from shuyu.review.service import ReviewService
from shuyu.runner.docker_executor import DockerExecutor
from shuyu.runner.job import Executor
from shuyu.runner.warm_pool import WarmPool
from shuyu.secrets import APPROVAL_KEY, MLFLOW_GATE_PASSWORD, SERVICE_HUB_TOKEN, read_secret
from shuyu.selfcheck.pipeline import SelfCheckPipeline
from shuyu.settings import PlatformSettings, ServiceSettings
from shuyu.store.database import Database
from shuyu.tracking.admin_client import GATE_USERNAME
from shuyu.tracking.store_client import MlflowStore
from shuyu.webhook import webhook

_log = logging.getLogger("shuyu.service")


@dataclass(frozen=True)
class Services:
    review: ReviewService
    production: ProductionService
    publish_products: Publisher
    product_desk: ProductDesk
    filings: FilingService
    freezes: FreezeDesk
    annual: AnnualEvaluation
    lifecycle: Lifecycle
    packages: PackageDesk
    airlock: AirlockDesk
    warm_runners: WarmPool | None


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
    runners = DockerExecutor(settings, service_settings.runner_image)
    warm = (
        WarmPool(runners, NOTEBOOK_RUNNER, size=service_settings.warm_runners)
        if service_settings.warm_runners
        else None
    )
    executor: Executor = warm or runners
    package_desk = PackageDesk(db, policies)
    approved_wheels = ApprovedWheels(package_desk, settings.packages_volume)
    pipeline = SelfCheckPipeline(
        store=gate,
        executor=executor,
        settings=settings,
        policies=policies,
        progress=_log.info,
        approved_modules=approved_wheels.modules,
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
        executor=executor,
        models=RegistryModels(gate, approval_key),
        volumes=settings,
        notify=notify,
        concurrency=service_settings.production_concurrency,
        governance=ProductionGate(db),
        packages=approved_wheels,
    )
    product_settings = ProductSettings.from_env()
    products = ProductsCache(policies)
    publisher = Publisher(gate, products, approval_key, product_settings.product_models)
    desk = product_desk(
        db,
        policies=policies,
        products=products,
        pepper_file=product_settings.pepper_file(settings),
        published=product_settings.product_models,
        notify=notify,
    )
    models = RegistryModels(gate, approval_key)
    return Services(
        review,
        production,
        publisher,
        desk,
        filings=FilingService(db, policies, products, models),
        freezes=FreezeDesk(db, policies, products),
        annual=AnnualEvaluation(db, products=products, clock=desk.clock),
        lifecycle=Lifecycle(
            db,
            policies=policies,
            products=products,
            accounts=desk.accounts,
            production=production,
            notify=notify,
            clock=desk.clock,
        ),
        packages=package_desk,
        airlock=AirlockDesk(
            db, policies, service_settings.service_files, WorkspacePlacer(settings)
        ),
        warm_runners=warm,
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


def work_forever(
    steps: tuple[Callable[[], object], ...], interval: float, stop: threading.Event
) -> None:
    while not stop.is_set():
        for step in steps:
            try:
                step()
            except Exception:
                _log.exception(
                    "worker step %s failed; trying again",
                    getattr(step, "__name__", type(step).__name__),
                )
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
            args=(
                # the sweep first: a job it pauses leaves the scheduler at once
                (
                    services.lifecycle.sweep,
                    scheduler.sync,
                    production.run_pending,
                    services.publish_products,
                ),
                interval,
                stop,
            ),
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
            products=services.product_desk,
            filings=services.filings,
            freezes=services.freezes,
            annual=services.annual,
            lifecycle=services.lifecycle,
            exits=ExitRegister(services.freezes.db),
            packages=services.packages,
            airlock=services.airlock,
        ),
        settings,
    )
    submissions = create_sandbox_app(services.review, identity)
    scheduler = ProductionScheduler(services.production, settings.db_url)
    scheduler.start()
    if services.warm_runners is not None:
        services.warm_runners.start()
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
        if services.warm_runners is not None:
            services.warm_runners.stop()
