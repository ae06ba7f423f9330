"""Governance's services where the shuyu service keeps their parts: the platform
database (`SHUYU_DB_URL`), the policies, and, for filing, the registry through the
gate's account with the approval key (the service's secrets directory)."""

from __future__ import annotations

from collections.abc import Callable

from shuyu.audit.events import install_sink
from shuyu.governance.filing_service import FilingService
from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.policy.models import Policies, ProductsPolicy
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database


def _products(policies: Callable[[], Policies]) -> Callable[[], ProductsPolicy]:
    from shuyu.products.policy import load_products_policy  # noqa: PLC0415

    return lambda: load_products_policy(policies())


def freeze_desk(
    settings: PlatformSettings, policies: Callable[[], Policies], db: Database | None = None
) -> FreezeDesk:
    install_sink(settings.db_url)  # its acts are audit events in the platform's log
    return FreezeDesk(db or Database(settings.db_url), policies, _products(policies))


def filing_service(
    settings: PlatformSettings, policies: Callable[[], Policies], db: Database | None = None
) -> FilingService:
    from shuyu.registry.approved import RegistryModels  # noqa: PLC0415
    from shuyu.secrets import APPROVAL_KEY, MLFLOW_GATE_PASSWORD, read_secret  # noqa: PLC0415
    from shuyu.tracking.admin_client import GATE_USERNAME  # noqa: PLC0415
    from shuyu.tracking.store_client import MlflowStore  # noqa: PLC0415

    gate = MlflowStore(
        settings.mlflow_url,
        GATE_USERNAME,
        read_secret(settings.secrets_dir / MLFLOW_GATE_PASSWORD),
        timeout=120,
    )
    approval_key = read_secret(settings.secrets_dir / APPROVAL_KEY).encode()
    install_sink(settings.db_url)
    return FilingService(
        db or Database(settings.db_url),
        policies,
        _products(policies),
        RegistryModels(gate, approval_key),
    )
