"""The exit desk where it can do everything: on the host, like `make up` — the Docker
engine, MLflow as its administrator (the host's `var/secrets/mlflow/admin_password`),
the MLflow container's database and artifact store (`docker compose exec`), the
services' state folder (outbox, production files) and the platform database."""

from __future__ import annotations

import os
from collections.abc import Callable

from shuyu.audit.events import install_sink
from shuyu.governance.exit import ExitDesk, ExitParts
from shuyu.governance.exit_docker import DockerWorkspaces
from shuyu.governance.exit_files import StateFiles
from shuyu.governance.exit_mlflow import MlflowAdmin, ServerArtifactStore, compose_python
from shuyu.governance.exit_store import ExitRegister
from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.platform.compose import CONTAINER_DB_URL
from shuyu.platform.layout import Layout
from shuyu.policy.models import Policies
from shuyu.products.accounts import ProductAccounts
from shuyu.products.keys import KEY_PEPPER, KeyHasher
from shuyu.products.policy import load_products_policy
from shuyu.secrets import MLFLOW_ADMIN_PASSWORD, read_secret
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database
from shuyu.tracking.admin_client import ADMIN_USERNAME


def host_settings(layout: Layout) -> PlatformSettings:
    """The settings `make up` wrote into the compose env file (project, subnet …), so
    that the exit finds the platform's own containers and volumes."""
    values = dict(os.environ)
    if layout.env_file.is_file():
        for line in layout.env_file.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep and name.startswith("SHUYU_") and name not in os.environ:
                values[name] = value
    fields = {f"SHUYU_{f.upper()}" for f in PlatformSettings.model_fields}
    return PlatformSettings.from_env({k: v for k, v in values.items() if k in fields})


class ComposeHubLogins:
    """The hub's logins, removed in the hub's container (`shuyu hub account delete`):
    a session already open still meets the freeze at its next spawn."""

    def __init__(self, layout: Layout, settings: PlatformSettings) -> None:
        self.layout = layout
        self.settings = settings

    def remove_login(self, username: str) -> bool:
        from shuyu.platform.compose import compose  # noqa: PLC0415

        done = compose(
            self.layout,
            self.settings,
            ["exec", "-T", "hub", "shuyu", "hub", "account", "delete", username],
            capture=True,
        )
        return "login removed" in done.stdout


def host_exit_desk(
    layout: Layout, settings: PlatformSettings, policies: Callable[[], Policies]
) -> ExitDesk:
    # the services' containers see the database at /srv/shuyu-state; the host, in var/state
    url = settings.db_url if settings.db_url not in {"", CONTAINER_DB_URL} else layout.db_url
    install_sink(url)
    db = Database(url)
    products = lambda: load_products_policy(policies())  # noqa: E731
    password = read_secret(layout.mlflow_secrets / MLFLOW_ADMIN_PASSWORD)
    parts = ExitParts(
        workspaces=DockerWorkspaces(settings),
        tracking=MlflowAdmin(settings.mlflow_url, ADMIN_USERNAME, password, timeout=120),
        artifacts=ServerArtifactStore(compose_python(layout, settings)),
        # the service keeps production files in <service_files>/production (serve.py)
        files=StateFiles(layout.state / "outbox", layout.state / "files" / "production"),
        logins=ComposeHubLogins(layout, settings),
    )
    accounts = ProductAccounts(
        db,
        policies=policies,
        products=products,
        hasher=KeyHasher.from_file(layout.service_secrets / KEY_PEPPER),
    )
    return ExitDesk(ExitRegister(db), FreezeDesk(db, policies, products), policies, parts, accounts)
