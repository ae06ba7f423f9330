"""`shuyu platform up`: everything `make up` does, step by step, each step idempotent.

1. the Docker engine answers; 2. images (base, builder, notebook, hub, mlflow) are built
offline; 3. secrets and the hub's TLS certificate exist; 4. demo data: generate → mask →
authorised views; 5. views are published into their volumes; 6. compose brings up the
hub, MLflow and the firewall; 7. MLflow's experiments and accounts are bootstrapped;
8. staff accounts are set in the hub's database, partner accounts signed up and approved
through the hub's pages; 9. the URL and the accounts file are printed.

Every step runs in this process (the pipeline, the builds and the publishing are
functions); only the steps that belong in a service's container (its own bootstrap, its
own database) are run there with `docker-compose exec`.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from shuyu import docker_engine
from shuyu.data.masking.key import generate_key_file, read_key
from shuyu.data.pipeline import build_demo_views, fingerprint_tables
from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_text
from shuyu.hub.roles import staff_role
from shuyu.images import build as images
from shuyu.platform import host_worker
from shuyu.platform.compose import compose, write_env_file
from shuyu.platform.hub_client import Account, HubSession, approve_partners
from shuyu.platform.layout import Layout
from shuyu.platform.tls import ensure_server_cert
from shuyu.policy import load_policies
from shuyu.policy.load import default_policies_dir
from shuyu.policy.models import Policies
from shuyu.production.zone import build_production_inputs
from shuyu.products.keys import KEY_PEPPER
from shuyu.products.policy import load_products_policy
from shuyu.sandbox.volumes import publish_fingerprints, publish_production_inputs, publish_views
from shuyu.secrets import (
    APPROVAL_KEY,
    HUB_MLFLOW_ADMIN_PASSWORD,
    HUB_SERVICE_TOKEN,
    MASKING_KEY,
    MLFLOW_ADMIN_PASSWORD,
    MLFLOW_GATE_PASSWORD,
    SERVICE_HUB_TOKEN,
    ensure_secret,
    random_password,
    read_secret,
    secret_dir,
    write_secret,
)
from shuyu.selfcheck.fingerprints import FINGERPRINT_MANIFEST
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database

Say = Callable[[str], None]


@dataclass(frozen=True)
class UpOptions:
    scale: int = 2000
    seed: int = 20261123
    http_port: int = 8000
    """Plain HTTP: redirects to HTTPS."""
    https_port: int = 8443
    http_bind: str = "127.0.0.1"
    products_port: int = 8700
    """The product API for consumers (plain HTTP on `http_bind`: terminate TLS in front)."""
    build_images: bool = True
    policies_dir: Path | None = None
    host_worker: bool = True
    """Start the host worker (`shuyu.platform.host_worker`) in the background; tests that
    drive the host's steps themselves leave it off."""


def _copy_secret(source: Path, target: Path) -> None:
    """Another service's copy of a secret, refreshed when the original changed."""
    value = read_secret(source)
    if not target.exists() or read_secret(target) != value:
        write_secret(target, value)


def ensure_secrets(layout: Layout, hostnames: list[str]) -> None:
    for directory in (
        layout.secrets,
        layout.hub_secrets,
        layout.mlflow_secrets,
        layout.service_secrets,
        layout.products_secrets,
    ):
        secret_dir(directory)
    if not layout.masking_key.exists():
        generate_key_file(layout.masking_key)
    ensure_secret(layout.mlflow_secrets / MLFLOW_ADMIN_PASSWORD)
    ensure_secret(layout.mlflow_secrets / MLFLOW_GATE_PASSWORD)
    ensure_secret(layout.mlflow_secrets / APPROVAL_KEY, nbytes=32)
    # the hub provisions partners' MLflow accounts with the MLflow admin's password
    _copy_secret(
        layout.mlflow_secrets / MLFLOW_ADMIN_PASSWORD,
        layout.hub_secrets / HUB_MLFLOW_ADMIN_PASSWORD,
    )
    # the service is the registry gate (its password, the approval key) and a hub service
    _copy_secret(
        layout.mlflow_secrets / MLFLOW_GATE_PASSWORD, layout.service_secrets / MLFLOW_GATE_PASSWORD
    )
    _copy_secret(layout.mlflow_secrets / APPROVAL_KEY, layout.service_secrets / APPROVAL_KEY)
    ensure_secret(layout.service_secrets / SERVICE_HUB_TOKEN, nbytes=32)
    _copy_secret(layout.service_secrets / SERVICE_HUB_TOKEN, layout.hub_secrets / HUB_SERVICE_TOKEN)
    # the product API pseudonymises consumers' identifiers with the masking key and
    # checks their keys with the pepper administrators issue them with (on the service)
    _copy_secret(layout.masking_key, layout.products_secrets / MASKING_KEY)
    ensure_secret(layout.service_secrets / KEY_PEPPER, nbytes=32)
    _copy_secret(layout.service_secrets / KEY_PEPPER, layout.products_secrets / KEY_PEPPER)
    ensure_server_cert(layout.tls, hostnames)


SQLITE_SIDES = ("-wal", "-shm")


def ensure_state(layout: Layout, settings: PlatformSettings) -> None:
    """The shared state folder and the platform database, migrated; writable by the
    state group only (MLflow's guard joins it to append to the audit log)."""
    layout.state.mkdir(parents=True, exist_ok=True)
    os.chown(layout.state, 0, settings.state_gid)
    layout.state.chmod(0o2770)
    if not settings.db_url:  # SQLite in the state folder: migrated here, before anyone
        database = layout.state / "shuyu.sqlite"
        # the state group writes the file *and* its WAL and shared-memory files (SQLite
        # gives those the database file's mode): group-writable before the first write
        database.touch()
        os.chown(database, 0, settings.state_gid)
        database.chmod(0o660)
        migrated = Database(layout.db_url)
        migrated.upgrade()
        migrated.dispose()
        sides = [database.with_name(database.name + side) for side in SQLITE_SIDES]
        for path in (database, *sides):
            if path.exists():
                os.chown(path, 0, settings.state_gid)
                path.chmod(0o660)


def prepare_data(layout: Layout, options: UpOptions, policies: Policies, say: Say) -> None:
    """Demo data through the real pipeline, then its row fingerprints; each kept when
    already built."""
    if (layout.views / ".built").exists():
        say(f"demo data: kept ({layout.views})")
    else:
        build_demo_views(
            layout.data,
            policies,
            key=read_key(layout.masking_key),
            scale=options.scale,
            seed=options.seed,
            say=say,
        )
        (layout.data / "fingerprints" / FINGERPRINT_MANIFEST).unlink(missing_ok=True)
        atomic_write_text(layout.views / ".built", f"scale={options.scale} seed={options.seed}\n")
    if not (layout.data / "fingerprints" / FINGERPRINT_MANIFEST).is_file():
        say("demo data: row fingerprints for the self-check …")
        manifest = fingerprint_tables(layout.data, policies)
        records = sum(t.fingerprinted for t in manifest.tables.values())
        say(f"demo data: {records} records fingerprinted")


def prepare_product_tables(
    layout: Layout, policies: Policies, policies_dir: Path, say: Say
) -> None:
    """The products' feature tables from the masked zone, rebuilt when it is newer."""
    from shuyu.products.feature_table import (  # noqa: PLC0415 - polars only here
        build_feature_table,
        table_path,
        write_feature_table,
    )

    built = (layout.views / ".built").stat().st_mtime
    for product in load_products_policy(policies, policies_dir).products:
        target = table_path(layout.product_tables, product.id)
        if target.exists() and target.stat().st_mtime >= built:
            continue
        table, manifest = build_feature_table(layout.masked, policies, product)
        write_feature_table(layout.product_tables, table, manifest)
        say(f"products: {product.id} {manifest.rows} subjects -> {target} (product API only)")


def wait_for_hub(url: str, ca: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/hub/api", timeout=3, verify=str(ca)).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise ShuyuError(
        f"the hub did not answer at {url} within {timeout:.0f}s: see `docker-compose logs hub`"
    )


def read_demo_accounts(layout: Layout) -> dict[str, Account]:
    """The accounts file `up` wrote: `username role password` per line."""
    accounts: dict[str, Account] = {}
    if layout.demo_accounts.exists():
        for line in layout.demo_accounts.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 3 and not line.startswith("#"):
                accounts[parts[0]] = Account(parts[0], parts[2], parts[1])
    return accounts


def demo_accounts(layout: Layout, policies: Policies) -> list[Account]:
    """Every account the policies name, with passwords kept from an earlier run."""
    known = {name: a.password for name, a in read_demo_accounts(layout).items()}
    accounts = [
        Account(
            staff.username, known.get(staff.username) or random_password(), staff_role(staff.groups)
        )
        for staff in policies.staff.values()
    ]
    accounts += [
        Account(u.username, known.get(u.username) or random_password(), "partner")
        for p in policies.partners.values()
        for u in p.users
    ]
    lines = ["# shuyu demo accounts: username role password (keep this file private)"]
    lines += [f"{a.username} {a.role} {a.password}" for a in accounts]
    atomic_write_text(layout.demo_accounts, "\n".join(lines) + "\n", mode=0o600)
    return accounts


def set_staff_accounts(layout: Layout, settings: PlatformSettings, staff: list[Account]) -> None:
    """Staff logins are set in the hub's database, approved: never through sign-up."""
    for account in staff:
        compose(
            layout,
            settings,
            ["exec", "-T", "hub", "shuyu", "hub", "account", "set-password", account.username],
            stdin=account.password + "\n",
            capture=True,
        )


def public_url(options: UpOptions) -> str:
    return f"https://127.0.0.1:{options.https_port}"


def up(
    options: UpOptions,
    say: Say,
    layout: Layout | None = None,
    settings: PlatformSettings | None = None,
) -> str:
    layout = layout or Layout.default()
    settings = settings or PlatformSettings.from_env()
    policies = options.policies_dir or default_policies_dir()
    loaded = load_policies(policies)  # refuse to start on broken policies
    docker_engine.client()
    say("engine: ok")
    if options.build_images:
        say("images: building offline (cached by content hash) …")
        for result in images.build(say=say):
            say(f"images: {result.name} {'kept' if result.skipped else 'built'}")
    ensure_secrets(layout, ["localhost", "127.0.0.1", socket.gethostname()])
    ensure_state(layout, settings)
    say(f"secrets: {layout.secrets} (0600); CA for HTTPS: {layout.tls.ca_cert}")
    prepare_data(layout, options, loaded, say)
    prepare_product_tables(layout, loaded, policies, say)
    for view in publish_views(layout.views, settings):
        say(f"views: {view.scenario} {view.train_rows} rows -> {view.volume} (train only)")
    placed = publish_fingerprints(layout.data / "fingerprints", settings)
    say(f"fingerprints: {placed} files -> {settings.fingerprints_volume} (check runners only)")
    built = build_production_inputs(layout.data, loaded, key=read_key(layout.masking_key))
    for volume in publish_production_inputs(built, settings):
        say(f"production zone: {volume} (read by the production service only)")
    # the approved wheels: the host's `shuyu packages fetch` fills it, the index serves it
    docker_engine.client().volumes.create(
        name=settings.packages_volume, labels={"org.shuyu.project": settings.project}
    )
    write_env_file(
        layout,
        settings,
        http_port=options.http_port,
        https_port=options.https_port,
        http_bind=options.http_bind,
        policies_dir=policies,
        products_port=options.products_port,
    )
    compose(layout, settings, ["up", "-d", "--remove-orphans"])
    url = public_url(options)
    wait_for_hub(url, layout.tls.ca_cert)
    say(f"hub: answering at {url}")
    compose(layout, settings, ["exec", "-T", "mlflow", "shuyu", "mlflow", "bootstrap"])
    say("mlflow: experiments, partner accounts and the registry gate bootstrapped")
    accounts = demo_accounts(layout, loaded)
    staff = [a for a in accounts if a.role != "partner"]
    set_staff_accounts(layout, settings, staff)
    admin = next(a for a in staff if a.role == "admin")
    partners = [a for a in accounts if a.role == "partner"]
    approve_partners(url, admin, partners, ca=layout.tls.ca_cert)
    say(f"accounts: {len(accounts)} demo accounts in {layout.demo_accounts}")
    if options.host_worker:
        pid, started = host_worker.start(layout)
        state = "started" if started else "kept"
        say(f"host worker: {state} (pid {pid}; log {layout.state / 'host-worker.log'})")
    return url


def hub_session(url: str, account: Account, ca: Path) -> HubSession:
    """A logged-in session, for the tests and for scripted demos."""
    session = HubSession(url, ca=ca)
    if not session.login(account.username, account.password):
        raise ShuyuError(f"cannot log in as {account.username} at {url}")
    return session


def down(
    layout: Layout | None = None, settings: PlatformSettings | None = None, *, volumes: bool = False
) -> None:
    """Stop the sandboxes, any runner and the services (the firewall leaves its deny-all
    behind)."""
    layout = layout or Layout.default()
    settings = settings or PlatformSettings.from_env()
    host_worker.stop(layout)  # first: a pass in progress finishes before its engine goes
    client = docker_engine.client()
    # everything the platform started outside compose carries its project label: the
    # sandboxes, and runners, volume fillers or readers a stopped service left behind
    # (they would keep their volumes in use)
    for container in client.containers.list(
        all=True, filters={"label": [f"org.shuyu.project={settings.project}"]}
    ):
        container.remove(force=True)
    if layout.env_file.exists():
        compose(layout, settings, ["down", "--remove-orphans", *(["--volumes"] if volumes else [])])
    if volumes:
        remove_platform_volumes(settings)


def remove_platform_volumes(settings: PlatformSettings) -> list[str]:
    """The volumes the platform made outside compose (views, holdouts, production
    inputs, fingerprints, the partners' workspaces: `<project>-…`); their names."""
    client = docker_engine.client()
    removed = []
    for volume in client.volumes.list():
        if str(volume.name).startswith(f"{settings.project}-"):
            volume.remove(force=True)
            removed.append(str(volume.name))
    return removed
