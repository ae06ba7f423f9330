"""The product API's parts put together: what the shuyu service mounts and runs.

`build_product_service` takes its parts (tests, the benchmark);
`product_service_from_settings` reads them where the product API's container keeps them:
the database (`SHUYU_DB_URL`), the masking key (`SHUYU_MASKING_KEY_FILE`), the API keys'
pepper (its secrets directory), the feature tables (`SHUYU_PRODUCT_TABLES`) and the
approved models the shuyu service published (`SHUYU_PRODUCT_MODELS`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.policy.models import ApiProduct, Policies, ProductsPolicy
from shuyu.products.accounts import ProductAccounts
from shuyu.products.approved_model import ApprovedModel
from shuyu.products.audit_watch import AuditWatch, lookback_seconds
from shuyu.products.cases import CaseDesk, Notify
from shuyu.products.clock import Clock
from shuyu.products.feature_table import FeatureTable, table_path
from shuyu.products.gateway import CallGate, ProductGateway, ServedProduct
from shuyu.products.keys import KeyHasher
from shuyu.products.monitor import Monitor
from shuyu.products.policy import load_products_policy
from shuyu.products.scoring import ProductScorer
from shuyu.products.settings import ProductSettings
from shuyu.products.subjects import SubjectKeys
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database

_log = logging.getLogger("shuyu.products")

ModelSource = Callable[[ApiProduct], ApprovedModel]
"""The approved, verified model of a product (raises `ShuyuError` when there is none)."""


def serve_products(
    products: ProductsPolicy,
    policies: Policies,
    *,
    masking_key: bytes,
    tables: Path,
    models: ModelSource,
) -> dict[str, ServedProduct]:
    """Every product with its model and feature table, or the reason it is unavailable."""
    served: dict[str, ServedProduct] = {}
    for product in products.products:
        subjects = SubjectKeys.for_product(masking_key, policies, product)
        try:
            model = models(product)
            table = FeatureTable.load(table_path(tables, product.id), product)
            scorer: ProductScorer | None = ProductScorer(product, model, table)
            reason = ""
        except ShuyuError as exc:
            scorer, reason = None, str(exc)
            _log.warning("product %s is unavailable: %s", product.id, reason)
        served[product.id] = ServedProduct(product, subjects, scorer, reason)
    return served


@dataclass
class ProductService:
    accounts: ProductAccounts
    cases: CaseDesk
    monitor: Monitor
    gateway: ProductGateway
    watch: AuditWatch
    reload: Callable[[], dict[str, ServedProduct]]

    def refresh(self) -> None:
        """Load the products' models and tables again (a new version approved, a table
        rebuilt): calls in flight finish with what they started with."""
        self.gateway.served = self.reload()

    def watch_forever(self, interval: float, stop: threading.Event) -> None:
        """Scan the audit log for sandbox events every `interval` seconds until `stop`."""
        while not stop.is_set():
            try:
                self.watch.scan()
            except Exception:
                _log.exception("audit watch failed; trying again")
            stop.wait(interval)


def build_product_service(
    db: Database,
    *,
    policies: Callable[[], Policies],
    products: ProductsPolicy,
    hasher: KeyHasher,
    masking_key: bytes,
    tables: Path,
    models: ModelSource,
    notify: Notify = lambda _notice: None,
    clock: Clock | None = None,
    governance: CallGate | None = None,
) -> ProductService:
    clock = clock or Clock(products.monitoring.timezone)
    accounts = ProductAccounts(
        db, policies=policies, products=lambda: products, hasher=hasher, clock=clock
    )
    cases = CaseDesk(db, notify=notify, clock=clock)
    monitor = Monitor(products.monitoring, cases, clock=clock)

    def reload() -> dict[str, ServedProduct]:
        return serve_products(
            products, policies(), masking_key=masking_key, tables=tables, models=models
        )

    gateway = ProductGateway(
        db,
        served=reload(),
        hasher=hasher,
        accounts=accounts,
        monitor=monitor,
        clock=clock,
        governance=governance,
    )
    watch = AuditWatch(db, monitor, lookback_seconds=lookback_seconds(products.monitoring))
    return ProductService(accounts, cases, monitor, gateway, watch, reload)


def product_service_from_settings(
    platform: PlatformSettings,
    settings: ProductSettings,
    *,
    models: ModelSource,
    policies: Callable[[], Policies],
    notify: Notify = lambda _notice: None,
) -> ProductService:
    """The product API as its container runs it: `models` are the approved versions the
    shuyu service published (`PublishedModels`); the database is expected migrated."""
    from shuyu.data.masking.key import read_key  # noqa: PLC0415
    from shuyu.governance.product_gate import ProductGovernance  # noqa: PLC0415

    products = load_products_policy(policies())
    db = Database(platform.db_url)
    return build_product_service(
        db,
        policies=policies,
        products=products,
        hasher=KeyHasher.from_file(settings.pepper_file(platform)),
        masking_key=read_key(),
        tables=settings.product_tables,
        models=models,
        notify=notify,
        # a product is served only while its filing (登记备案) is in force and no freeze
        # (应急处置) covers the call
        governance=ProductGovernance(db, policies),
    )
