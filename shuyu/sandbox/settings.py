"""Platform settings shared by the hub, the spawner, the firewall and `make up`.

Read from `SHUYU_*` environment variables so that docker-compose, the hub config and the
tests set them in one way; every setting has its default and its meaning here.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shuyu.errors import InputError

ENV_PREFIX = "SHUYU_"


class PlatformSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")] = "shuyu"
    """Prefix of every Docker object the platform creates (networks, volumes, containers)."""

    sandbox_subnet: str = "10.213.0.0/24"
    """Subnet of the internal sandbox network. The hub takes .2 and MLflow .3."""

    notebook_image: str = "shuyu/notebook:local"
    mem_limit: str = "2G"
    cpu_limit: float = Field(default=1.0, gt=0)
    pids_limit: int = Field(default=512, ge=32)
    tmp_size: str = "512m"
    """Size of the tmpfs at /tmp in a sandbox (its root filesystem is read-only)."""

    hub_api_port: int = 8081
    sandbox_port: int = 8888
    mlflow_port: int = 5000
    """MLflow's port on the sandbox network; sandboxes reach it by address (no DNS)."""

    idle_timeout: int = Field(default=3600, ge=60)
    """Seconds of inactivity after which a sandbox is culled."""

    cull_every: int = Field(default=600, ge=10)
    secrets_dir: Path = Path("/run/shuyu-secrets")
    """Where a service finds its secrets inside its container (the hub: the MLflow admin's
    password; MLflow: admin and gate passwords); never mounted into a sandbox."""

    ready_poll_interval: float = Field(default=0.1, gt=0)
    """How often the spawner polls a starting sandbox (the hub's own backoff reaches 5 s)."""

    @model_validator(mode="after")
    def _subnet_fits(self) -> PlatformSettings:
        net = ipaddress.ip_network(self.sandbox_subnet, strict=True)
        if net.version != 4 or net.num_addresses < 16:
            raise ValueError("sandbox_subnet must be an IPv4 network of at least /28")
        return self

    @property
    def sandbox_network(self) -> str:
        return f"{self.project}-sandbox"

    @property
    def sandbox_bridge(self) -> str:
        """Linux bridge name of the sandbox network (set by compose; ≤ 15 characters)."""
        return f"{self.project[:9]}-sbx0"

    @property
    def _hosts(self) -> list[str]:
        return [str(h) for h in ipaddress.ip_network(self.sandbox_subnet).hosts()]

    @property
    def sandbox_gateway(self) -> str:
        return self._hosts[0]

    @property
    def hub_ip(self) -> str:
        return self._hosts[1]

    @property
    def mlflow_ip(self) -> str:
        return self._hosts[2]

    @property
    def mlflow_url(self) -> str:
        # by address: sandboxes have no name service (their DNS is a sink)
        return f"http://{self.mlflow_ip}:{self.mlflow_port}"

    def view_volume(self, scenario_id: str) -> str:
        return f"{self.project}-view-{scenario_id.replace('_', '-')}"

    def home_volume_template(self) -> str:
        return f"{self.project}-home-{{username}}"

    def to_env(self) -> dict[str, str]:
        """The `SHUYU_*` variables that make `from_env` return these settings."""
        return {f"{ENV_PREFIX}{k.upper()}": str(v) for k, v in self.model_dump(mode="json").items()}

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> PlatformSettings:
        """Settings from `SHUYU_*` variables; a bad value names the variable."""
        source = os.environ if env is None else env
        values: dict[str, str] = {}
        for name in cls.model_fields:
            key = ENV_PREFIX + name.upper()
            if key in source:
                values[name] = source[key]
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]) if first["loc"] else "-"
            raise InputError(
                f"${ENV_PREFIX}{field.upper()}",
                first["msg"],
                value=values.get(field),
                hint="fix or unset the variable",
            ) from None
