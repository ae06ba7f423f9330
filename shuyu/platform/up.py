"""`shuyu platform up`: everything `make up` does, step by step, each step idempotent.

1. the Docker engine answers; 2. images (base, notebook, hub, mlflow) are built offline;
3. secrets exist; 4. demo data: generate → mask → authorised views; 5. views are
published into their volumes; 6. compose brings up the hub, MLflow and the firewall;
7. MLflow's experiments and accounts are bootstrapped; 8. demo accounts are signed up and
approved through the hub's pages; 9. the URL and the accounts file are printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from shuyu.data.masking.key import read_key
from shuyu.data.pipeline import build_demo_views
from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_text
from shuyu.platform.compose import compose, write_env_file
from shuyu.platform.layout import Layout, ensure_secret
from shuyu.policy import load_policies
from shuyu.policy.load import default_policies_dir
from shuyu.policy.models import Policies
from shuyu.sandbox.accounts import Account, HubSession, create_accounts, random_password
from shuyu.sandbox.settings import PlatformSettings

Say = Callable[[str], None]
STAFF_ROLES = {"admins": "admin", "reviewers": "reviewer", "operators": "operator"}


@dataclass(frozen=True)
class UpOptions:
    scale: int = 2000
    seed: int = 20261123
    http_port: int = 8000
    http_bind: str = "127.0.0.1"
    build_images: bool = True
    policies_dir: Path | None = None


def shuyu_cli(*args: str, env: dict[str, str] | None = None) -> None:
    """Run a `shuyu` sub-command in a child process, failing with its one-line error."""
    done = subprocess.run(
        [sys.executable, "-m", "shuyu.cli.main", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ShuyuError(f"shuyu {' '.join(args[:2])}: {last}")


def check_engine() -> None:
    done = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ShuyuError(
            "the Docker engine does not answer: start dockerd (or run "
            "`sudo systemctl start docker`) and make sure you may use it"
        )


def child_env(layout: Layout, settings: PlatformSettings) -> dict[str, str]:
    """What child `shuyu` commands need to act on this platform rather than the default."""
    return {**settings.to_env(), "SHUYU_MASKING_KEY_FILE": str(layout.masking_key)}


def ensure_secrets(layout: Layout, settings: PlatformSettings) -> None:
    layout.secret_dir(layout.secrets)
    layout.secret_dir(layout.hub_secrets)
    layout.secret_dir(layout.mlflow_secrets)
    if not layout.masking_key.exists():
        shuyu_cli(
            "data", "keygen", "--out", str(layout.masking_key), env=child_env(layout, settings)
        )
    admin = ensure_secret(layout.mlflow_secrets / "admin_password")
    ensure_secret(layout.mlflow_secrets / "gate_password")
    # the hub provisions partners' MLflow accounts with the MLflow admin's password
    hub_copy = layout.hub_secrets / "mlflow_admin_password"
    if not hub_copy.exists() or hub_copy.read_text(encoding="utf-8").strip() != admin:
        atomic_write_text(hub_copy, admin + "\n", mode=0o600)


def prepare_data(layout: Layout, options: UpOptions, policies: Policies, say: Say) -> None:
    """Demo data through the real pipeline; kept when already built for these policies."""
    if (layout.views / ".built").exists():
        say(f"demo data: kept ({layout.views})")
        return
    build_demo_views(
        layout.data,
        policies,
        key=read_key(layout.masking_key),
        scale=options.scale,
        seed=options.seed,
        say=say,
    )
    atomic_write_text(layout.views / ".built", f"scale={options.scale} seed={options.seed}\n")


def wait_for_hub(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/hub/api", timeout=3).status_code == 200:
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


def demo_accounts(layout: Layout, policies: Policies) -> tuple[Account, list[Account]]:
    """Every account the policies name, with passwords kept from an earlier run."""
    known = {name: a.password for name, a in read_demo_accounts(layout).items()}
    accounts = [
        Account(u.username, known.get(u.username) or random_password(), "partner")
        for p in policies.partners.values()
        for u in p.users
    ]
    for staff in policies.staff.values():
        role = next((role for group, role in STAFF_ROLES.items() if group in staff.groups), "staff")
        accounts.append(
            Account(staff.username, known.get(staff.username) or random_password(), role)
        )
    admin = next(a for a in accounts if a.role == "admin")
    others = [a for a in accounts if a is not admin]
    lines = ["# shuyu demo accounts: username role password (keep this file private)"]
    lines += [f"{a.username} {a.role} {a.password}" for a in [admin, *others]]
    atomic_write_text(layout.demo_accounts, "\n".join(lines) + "\n", mode=0o600)
    return admin, others


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
    check_engine()
    say("engine: ok")
    if options.build_images:
        say("images: building offline (cached by content hash) …")
        shuyu_cli("images", "build", env=settings.to_env())
    ensure_secrets(layout, settings)
    say(f"secrets: {layout.secrets} (0600)")
    env = child_env(layout, settings)
    prepare_data(layout, options, loaded, say)
    shuyu_cli("sandbox", "publish-views", "--views", str(layout.views), env=env)
    say("views: published into their volumes (train split only)")
    write_env_file(
        layout,
        settings,
        http_port=options.http_port,
        http_bind=options.http_bind,
        policies_dir=policies,
    )
    compose(layout, settings, ["up", "-d", "--remove-orphans"])
    url = f"http://127.0.0.1:{options.http_port}"
    wait_for_hub(url)
    say(f"hub: answering at {url}")
    compose(layout, settings, ["exec", "-T", "mlflow", "shuyu", "mlflow", "bootstrap"])
    say("mlflow: experiments, partner accounts and the registry gate bootstrapped")
    admin, others = demo_accounts(layout, loaded)
    create_accounts(url, admin, others)
    say(f"accounts: {len(others) + 1} demo accounts in {layout.demo_accounts}")
    return url


def hub_session(url: str, account: Account) -> HubSession:
    """A logged-in session, for the tests and for scripted demos."""
    session = HubSession(url)
    if not session.login(account.username, account.password):
        raise ShuyuError(f"cannot log in as {account.username} at {url}")
    return session


def down(
    layout: Layout | None = None, settings: PlatformSettings | None = None, *, volumes: bool = False
) -> None:
    """Stop the services (the firewall removes its rules) and the sandboxes."""
    layout = layout or Layout.default()
    settings = settings or PlatformSettings.from_env()
    sandboxes = _sandbox_containers(settings)
    if sandboxes:
        subprocess.run(["docker", "rm", "-f", *sandboxes], capture_output=True, check=False)
    if layout.env_file.exists():
        compose(layout, settings, ["down", "--remove-orphans", *(["--volumes"] if volumes else [])])


def _sandbox_containers(settings: PlatformSettings) -> list[str]:
    done = subprocess.run(
        [
            "docker",
            "ps",
            "-aq",
            "--filter",
            "label=org.shuyu.role=sandbox",
            "--filter",
            f"label=org.shuyu.project={settings.project}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.split()
