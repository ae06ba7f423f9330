"""The lockdown of every container that holds partner data or runs partner code.

One pure function of the settings, so that a partner's sandbox and the platform's
runners (training, self-check, production) are locked down by the same code: every
capability dropped, no new privileges, a read-only root with a small private /tmp,
pids/memory/CPU limits with no swap beyond the memory limit, a cap on the size of any
one file, no core dumps, IPv6 off, and a DNS resolver that is a sink. The result is in
the keyword form of Docker's `create_host_config`, which DockerSpawner's
`extra_host_config` and the runners' executor both take.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shuyu.settings import PlatformSettings

CONTAINER_USER = "1000:1000"
"""The images' unprivileged user (jovyan in the notebook and runner images)."""

CPU_PERIOD = 100_000  # Docker's default CFS period, in microseconds


@dataclass(frozen=True)
class Lockdown:
    user: str
    host_config: dict[str, Any]
    """Security keys (never overridden by a site's configuration) and resource limits."""

    @property
    def security(self) -> dict[str, Any]:
        """The keys a site's configuration may add to but never change."""
        return {k: v for k, v in self.host_config.items() if k not in RESOURCE_KEYS}


RESOURCE_KEYS = frozenset({"mem_limit", "memswap_limit", "cpu_period", "cpu_quota"})


def lockdown(
    settings: PlatformSettings,
    *,
    network: bool,
    mem_limit: str | None = None,
    cpu_limit: float | None = None,
) -> Lockdown:
    """The lockdown for a container on the sandbox network (`network=True`) or with no
    network at all (runners)."""
    memory = mem_limit or settings.mem_limit
    cpus = cpu_limit if cpu_limit is not None else settings.cpu_limit
    config: dict[str, Any] = {
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={settings.tmp_size}"},  # noqa: S108
        "pids_limit": settings.pids_limit,
        "mem_limit": memory,
        "memswap_limit": memory,  # no swap beyond the memory limit
        "cpu_period": CPU_PERIOD,
        "cpu_quota": int(cpus * CPU_PERIOD),
        "ulimits": [
            # a single file may not fill the disk; a crash leaves no core with data in it
            {"Name": "fsize", "Soft": settings.max_file_bytes, "Hard": settings.max_file_bytes},
            {"Name": "core", "Soft": 0, "Hard": 0},
        ],
        "sysctls": {
            "net.ipv6.conf.all.disable_ipv6": "1",
            "net.ipv6.conf.default.disable_ipv6": "1",
        },
    }
    if network:
        # the only upstream resolver is the gateway, whose DNS ports the firewall
        # rejects: outside names fail in about a second instead of leaking or hanging
        config["dns"] = [settings.sandbox_gateway]
        config["dns_opt"] = ["timeout:1", "attempts:1"]
    else:
        config["network_mode"] = "none"
    return Lockdown(user=CONTAINER_USER, host_config=config)
