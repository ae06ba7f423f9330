"""Settings, declared once per process with their defaults and meanings.

Every setting is read from a `SHUYU_*` environment variable, so that docker-compose, the
hub config, the tests and `make up` set them in one way:

- `PlatformSettings`: what every part agrees on (names, addresses, limits, ports);
- `HostSettings`: where the host keeps state, keys, policies and caches;
- `HubSettings`: what only the hub process reads;
- `MlflowServerSettings`: what only the MLflow server reads.

A bad value is refused with the variable's name and what to do.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shuyu.errors import InputError

ENV_PREFIX = "SHUYU_"


class EnvSettings(BaseModel):
    """A settings model read from `SHUYU_<FIELD>` variables (unset: the default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_env(self) -> dict[str, str]:
        """The `SHUYU_*` variables that make `from_env` return these settings."""
        return {
            f"{ENV_PREFIX}{k.upper()}": "" if v is None else str(v)
            for k, v in self.model_dump(mode="json").items()
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Settings from `SHUYU_*` variables; a bad value names the variable."""
        source = os.environ if env is None else env
        values: dict[str, str] = {}
        for name in cls.model_fields:
            key = ENV_PREFIX + name.upper()
            if source.get(key, "") != "":
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


class PlatformSettings(EnvSettings):
    """What the hub, the spawner, the firewall, the services and `make up` agree on."""

    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")] = "shuyu"
    """Prefix of every Docker object the platform creates (networks, volumes, containers)."""

    sandbox_subnet: str = "10.213.0.0/24"
    """Subnet of the internal sandbox network. Platform services have fixed addresses in
    its lower half (the hub .2, MLflow .3); sandboxes are given addresses from its upper
    half only (`sandbox_range`), so that an address alone says whether a peer is one."""

    notebook_image: str = "shuyu/notebook:local"
    mem_limit: str = "2G"
    cpu_limit: float = Field(default=1.0, gt=0)
    pids_limit: int = Field(default=512, ge=32)
    tmp_size: str = "512m"
    """Size of the tmpfs at /tmp in a sandbox (its root filesystem is read-only)."""

    max_file_bytes: int = Field(default=2 << 30, ge=1 << 20)
    """Largest file a process in a sandbox or runner may write (RLIMIT_FSIZE)."""

    hub_api_port: int = 8081
    sandbox_port: int = 8888
    service_port: int = 8090
    """The shuyu service's pages and REST API (reached through the hub's proxy)."""
    service_submit_port: int = 8092
    """The service's one endpoint for sandboxes: submitting a run for review."""
    mlflow_port: int = 5000
    """MLflow's port on the sandbox network; sandboxes reach it by address (no DNS)."""
    index_port: int = 8093
    """The in-domain package index's port on the sandbox network (approved wheels only)."""

    package_source: str = ""
    """Where the host fetches approved packages from (a PEP 503 index URL: the registry
    or mirror the site allows); empty: pip's own configuration on the host."""

    idle_timeout: int = Field(default=3600, ge=60)
    """Seconds of inactivity after which a sandbox is culled."""

    cull_every: int = Field(default=600, ge=10)
    watch_interval: float = Field(default=30.0, ge=1)
    """Seconds between the hub's checks of running sandboxes (grant lapsed, approval
    withdrawn, workspace over quota)."""

    secrets_dir: Path = Path("/run/shuyu-secrets")
    """Where a service finds its secrets inside its container (the hub: the MLflow admin's
    password; MLflow: admin and gate passwords); never mounted into a sandbox."""

    db_url: str = ""
    """The platform's database (submissions, reviews, schedules, the audit log …):
    `sqlite:////srv/shuyu-state/shuyu.sqlite` in the services' containers (set by
    docker-compose), or `postgresql+psycopg://user@host/db`. Empty: this process keeps
    no state and logs its audit events only."""

    state_gid: int = Field(default=1900, ge=1)
    """The group that may write the shared state folder (the SQLite database): the
    services that append to the audit log and drop root join it."""

    firewall_status_dir: Path = Path("/run/shuyu-firewall")
    """Where the firewall service records each verification of its rules (a volume: the
    firewall writes it, the hub and the service read it)."""

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
    def sandbox_range(self) -> str:
        """The upper half of the subnet: Docker gives sandboxes addresses from here."""
        net = ipaddress.ip_network(self.sandbox_subnet)
        return str(list(net.subnets(prefixlen_diff=1))[1])

    def is_sandbox_address(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return ip in ipaddress.ip_network(self.sandbox_range)

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
    def service_ip(self) -> str:
        return self._hosts[3]

    @property
    def index_ip(self) -> str:
        return self._hosts[4]

    def index_url(self, path: str = "simple/") -> str:
        """The index at `path` (`shuyu.packages.sets.index_path`: a scenario's own set)."""
        return f"http://{self.index_ip}:{self.index_port}/{path}"

    @property
    def packages_volume(self) -> str:
        """The approved wheels: written by the host's fetch, served read-only by the index."""
        return f"{self.project}-packages"

    @property
    def service_url(self) -> str:
        return f"http://{self.service_ip}:{self.service_port}"

    @property
    def submit_url(self) -> str:
        return f"http://{self.service_ip}:{self.service_submit_port}"

    @property
    def mlflow_url(self) -> str:
        # by address: sandboxes have no name service (their DNS is a sink)
        return f"http://{self.mlflow_ip}:{self.mlflow_port}"

    def view_volume(self, scenario_id: str) -> str:
        return f"{self.project}-view-{scenario_id.replace('_', '-')}"

    def holdout_volume(self, scenario_id: str) -> str:
        """The scenario's holdout split: mounted only into check runners (and read by the
        production service for a run's batch), never a sandbox."""
        return f"{self.project}-holdout-{scenario_id.replace('_', '-')}"

    def production_input_volume(self, scenario_id: str) -> str:
        """A report product's masked input (the production zone): the production service
        reads it to build a run's batch; no container runs with it."""
        return f"{self.project}-production-{scenario_id.replace('_', '-')}"

    @property
    def fingerprints_volume(self) -> str:
        """Row fingerprints of the raw and masked tables: mounted only into check runners."""
        return f"{self.project}-fingerprints"

    def workspace_volume(self, username: str, scenario_id: str) -> str:
        """A partner's workspace for one scenario: what was copied from one scenario's view
        never appears under another grant, and goes when that authorisation ends."""
        return f"{self.project}-home-{username}--{scenario_id.replace('_', '-')}"


class HostSettings(EnvSettings):
    """Where the host keeps the platform's state (`make up`, the CLI, the tests)."""

    var: Path | None = None
    """Run-time state: env file, secrets, demo data (default: ./var of the checkout)."""

    masking_key_file: Path | None = None
    """The masking key (default: <var>/secrets/masking.key)."""

    policies: Path | None = None
    """Policy directory (default: policies/ of the checkout, else /etc/shuyu/policies)."""

    cache: Path | None = None
    """Build caches: base rootfs, wheelhouses, npm (default: $XDG_CACHE_HOME/shuyu or
    ~/.cache/shuyu)."""

    debian_mirror: str = "http://deb.debian.org/debian"
    """Where debootstrap fetches the base image's packages."""

    host_interval: float = Field(default=30.0, gt=0)
    """Seconds between the host worker's passes (approved packages fetched, approved
    table imports placed)."""


class HubSettings(EnvSettings):
    """What only the hub process reads."""

    hub_db_url: str = "sqlite:////srv/jupyterhub/state/jupyterhub.sqlite"
    """The hub's own database (users, tokens, servers)."""

    authenticator: str = "shuyu.hub.authenticator.ShuyuNativeAuthenticator"
    """Authenticator class; e.g. `oauthenticator.generic.GenericOAuthenticator` at a site
    with an identity provider."""


class MlflowServerSettings(EnvSettings):
    """What only the MLflow server (and `shuyu mlflow bootstrap` beside it) reads."""

    mlflow_backend_uri: str = ""
    """Tracking database URL (default: SQLite under the server's state directory), e.g.
    postgresql://mlflow@db/mlflow."""

    mlflow_artifacts_destination: str = ""
    """Artifact store (default: <state>/artifacts), e.g. s3://bucket/mlflow."""

    mlflow_approval_key_file: Path | None = None
    """The key that verifies approval records (set by `shuyu mlflow serve` to its private
    copy, readable by the server's own user)."""

    mlflow_bootstrap_url: str = "http://127.0.0.1:5000"
    """The server `shuyu mlflow bootstrap` talks to (it runs beside the server)."""

    mlflow_config_dir: Path = Path("/etc/shuyu/mlflow")
    """The server's configuration (the repository's mlflow/ folder; the image carries it
    here)."""


class ServiceSettings(EnvSettings):
    """What only the shuyu service (review, self-check orchestration, registry gate) reads."""

    service_files: Path = Path("/srv/shuyu-state/files")
    """Submissions' snapshots and reports (never mounted into a sandbox)."""

    outbox: Path = Path("/srv/shuyu-state/outbox")
    """Released production outputs, one folder per scenario and run (发布区)."""

    production_concurrency: int = Field(default=1, ge=1, le=16)
    """Production runs at once (each a runner container)."""

    warm_runners: int = Field(default=1, ge=0, le=8)
    """Production runners kept started ahead of their runs (papermill imported, the
    kernel booted, nothing of a run in them); 0: every run starts its own."""

    service_prefix: str = "/services/shuyu/"
    runner_image: str = "shuyu/runner:local"
    notify_webhook: str = ""
    """Where decisions and queue changes are POSTed as JSON (empty: pages only)."""

    worker_interval: float = Field(default=2.0, gt=0)
    """Seconds between the worker's looks for submissions to check."""
