"""`shuyu products serve`: the product API in its own container.

It faces consumers (banks, insurers) outside the domain, so it holds only what scoring
needs: the masking key (to pseudonymise a consumer's identifier in the domain), the API
keys' pepper, the products' masked feature tables (read-only) and the approved models
the shuyu service published (read-only). No Docker socket, no MLflow credential, no
approval key, no partner code. Beside the API: a thread that reloads the models and
tables when a publication, a table or a policy file changes, and one that runs the
事中检查 rules over sandbox events in the audit log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable

from fastapi import FastAPI

from shuyu.audit.events import install_sink, log_to_stderr
from shuyu.policy.cache import PolicyCache, policies_stamp
from shuyu.products.api import products_router
from shuyu.products.published import PublishedModels
from shuyu.products.service import ProductService, product_service_from_settings
from shuyu.products.settings import ProductSettings
from shuyu.settings import PlatformSettings, ServiceSettings
from shuyu.store.database import Database
from shuyu.webhook import webhook

_log = logging.getLogger("shuyu.products.serve")


def create_product_app(service: ProductService) -> FastAPI:
    app = FastAPI(
        title="数域 数据产品接口 / shuyu data product API",
        description=(
            "以 API 接口形式提供的数据产品：评分、风险等级与解释标签，按使用协议、授权与配额调用，"
            "每次调用均记入可验证的审计日志。 / Data products by API: scores, grades and factor "
            "labels within the consumer's agreement, consent and quota; every call audited."
        ),
    )
    app.include_router(products_router(service.gateway))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, object]:
        served = service.gateway.served
        return {
            "ok": True,
            "products": {p: s.scorer is not None for p, s in sorted(served.items())},
            # which approved version each serves: a client waiting for a new approval
            "versions": {p: s.scorer.model.version for p, s in sorted(served.items()) if s.scorer},
        }

    return app


def reload_on_change(
    service: ProductService,
    stamp: Callable[[], Hashable],
    interval: float,
    stop: threading.Event,
) -> None:
    """Reload the products whenever `stamp()` changes (a model published or withdrawn,
    a feature table rebuilt); calls in flight finish on what they started with."""
    seen = stamp()
    while not stop.wait(interval):
        try:
            now = stamp()
            if now != seen:
                service.refresh()
                seen = now
                served = service.gateway.served
                _log.info(
                    "products reloaded: %s",
                    ", ".join(
                        f"{p}={'up' if s.scorer else s.unavailable}" for p, s in served.items()
                    ),
                )
        except Exception:
            _log.exception("reloading the products failed; trying again")


def _tables_stamp(settings: ProductSettings) -> tuple[tuple[str, int], ...]:
    return tuple(
        (path.name, path.stat().st_mtime_ns)
        for path in sorted(settings.product_tables.glob("*.parquet"))
    )


def serve() -> None:
    import uvicorn  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    log_to_stderr()
    platform = PlatformSettings.from_env()
    settings = ProductSettings.from_env()
    Database(platform.db_url).upgrade()
    install_sink(platform.db_url)
    models = PublishedModels(settings.product_models)
    service = product_service_from_settings(
        platform,
        settings,
        models=models,
        policies=PolicyCache(),
        notify=webhook(ServiceSettings.from_env().notify_webhook),
    )
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=reload_on_change,
            # a policy edit reloads too: a filed field changed makes the filing stale
            args=(
                service,
                lambda: (models.stamp(), _tables_stamp(settings), policies_stamp()),
                5.0,
                stop,
            ),
            name="product-reload",
            daemon=True,
        ),
        threading.Thread(
            target=service.watch_forever,
            args=(settings.product_watch_interval, stop),
            name="audit-watch",
            daemon=True,
        ),
    ]
    for thread in threads:
        thread.start()
    try:
        uvicorn.run(
            create_product_app(service),
            host="0.0.0.0",  # noqa: S104 - the container's own network; the host publishes it
            port=settings.product_port,
            log_level="warning",  # every call is in the audit log already
        )
    finally:
        stop.set()
