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

from shuyu import docker_engine
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
TEST_EGRESS_BYTES_PER_HOUR = 8 << 20
TEST_WORKSPACE_QUOTA = 64 << 20


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
        found = docker_engine.client().containers.list(
            filters={
                "label": [
                    "org.shuyu.role=sandbox",
                    f"org.shuyu.project={self.settings.project}",
                    f"org.shuyu.user={username}",
                ]
            }
        )
        return str(found[0].name) if found else ""

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


def _remove_volumes(project: str) -> None:
    names = subprocess.run(
        ["docker", "volume", "ls", "-q"], capture_output=True, text=True, check=False
    ).stdout.split()
    mine = [
        n
        for n in names
        if n.startswith((f"{project}-view-", f"{project}-home-", f"{project}-holdout-"))
    ]
    if mine:
        subprocess.run(["docker", "volume", "rm", "-f", *mine], capture_output=True, check=False)


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
    partners.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    root = Path(tmp_path_factory.mktemp("platform"))
    layout = Layout(root / "var")
    settings = TEST_SETTINGS
    policies = _test_policies(root)
    down(layout, settings, volumes=True)
    _remove_volumes(settings.project)
    options = UpOptions(
        scale=400,
        seed=7,
        http_port=TEST_HTTP_PORT,
        https_port=TEST_HTTPS_PORT,
        build_images=False,
        policies_dir=policies,
    )
    try:
        url = up(
            options, say=lambda line: print(f"[platform] {line}"), layout=layout, settings=settings
        )
        yield RunningPlatform(url, settings, layout, read_demo_accounts(layout), policies)
    finally:
        down(layout, settings, volumes=True)
        _remove_volumes(settings.project)
