"""The whole platform, brought up for tests exactly as `make up` does, under its own
project name, subnet and ports so that it never touches a running demo.

It runs on a copy of the repository's policies (tests may change a grant's dates in the
copy to watch the hub react, and must put it back), with a small hourly egress budget
so that a test can exceed it quickly, and the hub's periodic check every few seconds.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from shuyu.demo.in_sandbox import sandbox_container
from shuyu.errors import ShuyuError
from shuyu.platform.compose import compose
from shuyu.platform.hub_client import Account, HubSession
from shuyu.platform.layout import Layout
from shuyu.platform.up import UpOptions, down, hub_session, read_demo_accounts, up
from shuyu.policy.load import default_policies_dir
from shuyu.settings import PlatformSettings

TEST_SETTINGS = PlatformSettings(
    project="shuyutest",
    sandbox_subnet="10.214.0.0/24",
    mem_limit="1G",
    idle_timeout=3600,
    watch_interval=3,
)
TEST_HTTP_PORT = 18000
TEST_HTTPS_PORT = 18443
TEST_PRODUCTS_PORT = 18700
TEST_EGRESS_BYTES_PER_HOUR = 8 << 20
TEST_WORKSPACE_QUOTA = 64 << 20
EXIT_PARTNER = "exit_bank"
EXIT_USER = "ex-leaver"


@dataclass
class RunningPlatform:
    url: str
    settings: PlatformSettings
    layout: Layout
    accounts: dict[str, Account]
    policies: Path

    @property
    def ca(self) -> Path:
        return self.layout.tls.ca_cert

    def session(self) -> HubSession:
        """A browser that is not logged in."""
        return HubSession(self.url, ca=self.ca)

    def login(self, username: str) -> HubSession:
        return hub_session(self.url, self.accounts[username], self.ca)

    def container(self, username: str) -> str:
        """The name of `username`'s running sandbox ("" when none runs)."""
        try:
            return str(sandbox_container(self.settings, username).name)
        except ShuyuError:
            return ""

    @contextlib.contextmanager
    def running(self, username: str, scenario: str | None = None) -> Iterator[str]:
        """`username` logs in and starts a sandbox; its container name while it runs."""
        session = self.login(username)
        session.start_server(username, scenario, timeout=120)
        try:
            yield self.container(username)
        finally:
            session.stop_server(username)

    @contextlib.contextmanager
    def scenario_changed(self, scenario_id: str, **changes: object) -> Iterator[None]:
        """Change a scenario's policy file (e.g. its `valid_until`) for the duration."""
        path = self.policies / "scenarios" / f"{scenario_id}.yaml"
        saved = path.read_text(encoding="utf-8")
        data = yaml.safe_load(saved)
        data.update(changes)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        try:
            yield
        finally:
            path.write_text(saved, encoding="utf-8")

    @contextlib.contextmanager
    def packages_changed(self, **changes: object) -> Iterator[None]:
        """Change the sandbox policy's `packages` (e.g. `per_scenario`) for the duration:
        the hub reads it at every spawn."""
        path = self.policies / "sandbox.yaml"
        saved = path.read_text(encoding="utf-8")
        data = yaml.safe_load(saved)
        data["packages"].update(changes)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        try:
            yield
        finally:
            path.write_text(saved, encoding="utf-8")

    def in_service(self, *args: str) -> str:
        """A command in the service's container (compose raises if it fails)."""
        done = compose(self.layout, self.settings, ["exec", "-T", "service", *args], capture=True)
        return done.stdout

    @contextlib.contextmanager
    def frozen(self, scope: str, reason: str) -> Iterator[str]:
        """`scope` frozen (应急处置) by the administrator for the duration, then lifted;
        the freeze's number."""
        applied = self.in_service(
            "shuyu", "freeze", "apply", "--scope", scope, "--reason", reason, "--as", "admin"
        )
        try:
            yield next(line for line in applied.splitlines() if scope in line).split()[0]
        finally:
            self.in_service(
                "shuyu", "freeze", "lift", "--scope", scope,
                "--reason", "测试结束，解除冻结", "--as", "admin",
            )  # fmt: skip


def _remove_leftovers(project: str) -> None:
    """A platform an interrupted run left behind (its env file gone with its temporary
    folder, so `down` cannot reach it): its containers, volumes and networks, found by
    compose's project label. Its MLflow volume would keep an admin password this run
    does not know."""
    label = f"com.docker.compose.project={project}"
    for kind, listed in (
        ("container", ["docker", "ps", "-aq", "--filter", f"label={label}"]),
        ("volume", ["docker", "volume", "ls", "-q", "--filter", f"label={label}"]),
        ("network", ["docker", "network", "ls", "-q", "--filter", f"label={label}"]),
    ):
        found = subprocess.run(listed, capture_output=True, text=True, check=False).stdout.split()
        if found:
            remove = ["docker", kind, "rm", *(["-f"] if kind != "network" else []), *found]
            subprocess.run(remove, capture_output=True, check=False)


def _test_policies(root: Path) -> Path:
    target = root / "policies"
    shutil.copytree(default_policies_dir(), target)
    sandbox = target / "sandbox.yaml"
    data = yaml.safe_load(sandbox.read_text(encoding="utf-8"))
    data["egress_bytes_per_hour"] = TEST_EGRESS_BYTES_PER_HOUR
    data["workspace_quota_bytes"] = TEST_WORKSPACE_QUOTA
    sandbox.write_text(yaml.safe_dump(data), encoding="utf-8")
    # a second administrator, for the test that tries to claim its name at sign-up
    partners = target / "partners.yaml"
    data = yaml.safe_load(partners.read_text(encoding="utf-8"))
    data["staff"].append({"username": "admin-spare", "name": "备用管理员", "groups": ["admins"]})
    # a reviewer for the lock-out test: locking a reviewer the review tests sign in as
    # would lock them out for the next ten minutes
    data["staff"].append(
        {"username": "rv-lockout", "name": "锁定测试评审员", "groups": ["reviewers"]}
    )
    # a partner of its own for the exit test (test_zz_exit.py), which deletes everything
    # of it: no other test may need it afterwards
    data["partners"].append(
        {
            "id": EXIT_PARTNER,
            "name": "退出测试银行（演示）",
            "name_en": "Exit test bank (demo)",
            "kind": "bank",
            "users": [{"username": EXIT_USER, "name": "退出测试分析师"}],
        }
    )
    partners.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    credit = target / "scenarios" / "bank_credit.yaml"
    data = yaml.safe_load(credit.read_text(encoding="utf-8"))
    data["partners"].append(EXIT_PARTNER)
    credit.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    # the credit product serves the model the review tests approve (ordos_bank's)
    products = target / "products.yaml"
    data = yaml.safe_load(products.read_text(encoding="utf-8"))
    credit = next(p for p in data["products"] if p["id"] == "enterprise_credit")
    credit["model"] = "bank_credit.ordos_bank"
    products.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    root = Path(tmp_path_factory.mktemp("platform"))
    layout = Layout(root / "var")
    settings = TEST_SETTINGS
    policies = _test_policies(root)
    _remove_leftovers(settings.project)  # first: their containers would hold volumes
    down(layout, settings, volumes=True)
    options = UpOptions(
        scale=400,
        seed=7,
        http_port=TEST_HTTP_PORT,
        https_port=TEST_HTTPS_PORT,
        products_port=TEST_PRODUCTS_PORT,
        build_images=False,
        policies_dir=policies,
        host_worker=False,  # the tests drive the host's steps themselves
    )
    try:
        url = up(
            options, say=lambda line: print(f"[platform] {line}"), layout=layout, settings=settings
        )
        yield RunningPlatform(url, settings, layout, read_demo_accounts(layout), policies)
    finally:
        down(layout, settings, volumes=True)
