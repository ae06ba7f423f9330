"""The running platform as the demo reaches it from the host: the addresses, the local
CA and the accounts `make up` left in the layout, read from its env file."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.platform.compose import compose
from shuyu.platform.hub_client import Account, HubSession
from shuyu.platform.layout import Layout
from shuyu.platform.up import hub_session, read_demo_accounts
from shuyu.policy import Policies, load_policies
from shuyu.settings import PlatformSettings


def read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        raise ShuyuError(f"{path} does not exist: bring the platform up first (`make up`)")
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[name.strip()] = value.strip()
    return values


@dataclass(frozen=True)
class Stack:
    layout: Layout
    settings: PlatformSettings
    url: str  # the hub, HTTPS
    products_url: str  # the product API
    policies_dir: Path
    policies: Policies
    accounts: dict[str, Account]

    @classmethod
    def of(cls, layout: Layout) -> Stack:
        env = read_env_file(layout.env_file)
        policies_dir = Path(env.get("SHUYU_POLICIES_DIR", "policies"))
        accounts = read_demo_accounts(layout)
        if not accounts:
            raise ShuyuError(f"no demo accounts in {layout.demo_accounts}: run `make up`")
        return cls(
            layout=layout,
            settings=PlatformSettings.from_env(env),
            url=f"https://127.0.0.1:{env.get('SHUYU_HTTPS_PORT', '8443')}",
            products_url=f"http://127.0.0.1:{env.get('SHUYU_PRODUCTS_PORT', '8700')}",
            policies_dir=policies_dir,
            policies=load_policies(policies_dir),
            accounts=accounts,
        )

    def login(self, username: str) -> HubSession:
        account = self.accounts.get(username)
        if account is None:
            raise ShuyuError(f"{username} is not in {self.layout.demo_accounts}")
        return hub_session(self.url, account, self.layout.tls.ca_cert)

    def host_db_url(self) -> str:
        """The platform database as the host reaches it: a PostgreSQL URL as given, the
        state folder's SQLite file otherwise (the containers mount that folder)."""
        if self.settings.db_url and not self.settings.db_url.startswith("sqlite"):
            return self.settings.db_url
        return f"sqlite:///{self.layout.state / 'shuyu.sqlite'}"

    def in_service(self, *args: str) -> str:
        """`shuyu …` in the service's container, as the staff run their commands."""
        done = compose(
            self.layout, self.settings, ["exec", "-T", "service", "shuyu", *args], capture=True
        )
        return str(done.stdout)

    def on_host(self, *args: str) -> str:
        """`shuyu …` on the host against this platform (the administrators' commands
        that read the host's layout, e.g. `shuyu products`)."""
        done = subprocess.run(
            [str(Path(sys.executable).with_name("shuyu")), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "SHUYU_VAR": str(self.layout.root)},
        )
        if done.returncode != 0:
            raise ShuyuError(f"shuyu {' '.join(args[:3])} …: {(done.stderr or done.stdout)[-600:]}")
        return done.stdout
