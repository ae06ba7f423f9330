"""The whole platform, brought up for tests exactly as `make up` does, under its own
project name, subnet and port so that it never touches a running demo."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shuyu.platform.layout import Layout
from shuyu.platform.up import UpOptions, down, hub_session, read_demo_accounts, up
from shuyu.sandbox.accounts import Account, HubSession
from shuyu.sandbox.settings import PlatformSettings

TEST_SETTINGS = PlatformSettings(
    project="shuyutest", sandbox_subnet="10.214.0.0/24", mem_limit="1G", idle_timeout=3600
)
TEST_PORT = 18000


@dataclass
class RunningPlatform:
    url: str
    settings: PlatformSettings
    layout: Layout
    accounts: dict[str, Account]

    def login(self, username: str) -> HubSession:
        return hub_session(self.url, self.accounts[username])

    def container(self, username: str) -> str:
        return f"{self.settings.project}-sbx-{username}"

    @contextlib.contextmanager
    def running(self, username: str) -> Iterator[str]:
        """`username` logs in and starts a sandbox; its container name while it runs."""
        session = self.login(username)
        session.start_server(username, timeout=120)
        try:
            yield self.container(username)
        finally:
            session.stop_server(username)


def _remove_volumes(project: str) -> None:
    names = subprocess.run(
        ["docker", "volume", "ls", "-q"], capture_output=True, text=True, check=False
    ).stdout.split()
    mine = [n for n in names if n.startswith((f"{project}-view-", f"{project}-home-"))]
    if mine:
        subprocess.run(["docker", "volume", "rm", "-f", *mine], capture_output=True, check=False)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    layout = Layout(Path(tmp_path_factory.mktemp("platform")))
    settings = TEST_SETTINGS
    down(layout, settings, volumes=True)
    _remove_volumes(settings.project)
    options = UpOptions(scale=400, seed=7, http_port=TEST_PORT, build_images=False)
    try:
        url = up(
            options, say=lambda line: print(f"[platform] {line}"), layout=layout, settings=settings
        )
        yield RunningPlatform(url, settings, layout, read_demo_accounts(layout))
    finally:
        down(layout, settings, volumes=True)
        _remove_volumes(settings.project)
