"""The spawner's settings, declared the JupyterHub way: a site's configuration wins over
shuyu's defaults, except that the sandbox lockdown is never weakened."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from traitlets.config import Config

from shuyu.hub.grants import grant_sandbox
from shuyu.hub.spawner import ShuyuSpawner
from shuyu.policy import load_policies
from shuyu.sandbox.hardening import lockdown
from shuyu.settings import PlatformSettings

POLICIES = load_policies()
SETTINGS = PlatformSettings(project="shuyu")
TODAY = dt.date(2026, 11, 23)


def _spawner(config: Config | None = None) -> ShuyuSpawner:
    user = SimpleNamespace(
        name="sz-credit", escaped_name="sz-credit", url="/user/sz-credit/", settings={}, id=1
    )
    return ShuyuSpawner(config=config or Config(), user=user, _deprecated_db_session=None)


def test_defaults_come_from_the_platform_settings() -> None:
    spawner = _spawner()
    assert spawner.image == SETTINGS.notebook_image
    assert spawner.network_name == SETTINGS.sandbox_network
    assert spawner.mem_limit == 2 * 1024**3
    assert spawner.pull_policy == "never"
    assert spawner.disable_user_config is True
    assert spawner.default_url == "/lab/tree/develop.ipynb"  # not the empty launcher


def test_a_sites_dockerspawner_setting_wins_over_the_default() -> None:
    config = Config()
    config.DockerSpawner.mem_limit = "3G"
    config.DockerSpawner.cpu_limit = 2.0
    config.DockerSpawner.image = "registry.site/shuyu/notebook:2026.12"
    spawner = _spawner(config)
    grant = grant_sandbox(POLICIES, SETTINGS, "sz-credit", TODAY, "bank_credit")
    spawner._configure(SETTINGS, grant)
    assert spawner.mem_limit == 3 * 1024**3
    assert spawner.cpu_limit == 2.0
    assert spawner.image == "registry.site/shuyu/notebook:2026.12"
    assert spawner.extra_host_config["memswap_limit"] == 3 * 1024**3  # no swap beyond it


def test_a_sites_extra_host_config_is_merged_but_cannot_weaken_the_lockdown() -> None:
    config = Config()
    config.DockerSpawner.extra_host_config = {
        "shm_size": "256m",
        "cap_drop": [],
        "read_only": False,
        "security_opt": [],
    }
    spawner = _spawner(config)
    grant = grant_sandbox(POLICIES, SETTINGS, "sz-credit", TODAY, "bank_credit")
    spawner._configure(SETTINGS, grant)
    spawner._configure(SETTINGS, grant)  # a second start merges the same way
    host = spawner.extra_host_config
    assert host["shm_size"] == "256m"
    assert host["cap_drop"] == ["ALL"]
    assert host["read_only"] is True
    assert host["security_opt"] == ["no-new-privileges:true"]


def test_sandboxes_and_runners_share_one_lockdown() -> None:
    sandbox = lockdown(SETTINGS, network=True)
    runner = lockdown(SETTINGS, network=False)
    shared = {k: v for k, v in sandbox.security.items() if k not in {"dns", "dns_opt"}}
    assert {k: runner.security[k] for k in shared} == shared
    assert runner.security["network_mode"] == "none"
    assert sandbox.user == runner.user == "1000:1000"


def test_each_spawn_gets_an_unguessable_container_name() -> None:
    spawner = _spawner()
    grant = grant_sandbox(POLICIES, SETTINGS, "sz-credit", TODAY, "bank_credit")
    spawner._configure(SETTINGS, grant)
    first = spawner.object_name
    spawner._configure(SETTINGS, grant)
    assert first != spawner.object_name
    assert first.startswith("shuyu-sbx-")
    assert "sz-credit" not in first
    assert spawner.extra_create_kwargs["labels"]["org.shuyu.user"] == "sz-credit"
