"""ShuyuSpawner: a DockerSpawner that starts only authorised, locked-down sandboxes.

Each partner's JupyterLab runs in a container on the internal sandbox network, with:
its scenario's authorised `train` view mounted read-only, a per-user workspace volume
and nothing else; no capabilities, no new privileges, a read-only root filesystem with a
tmpfs /tmp, pids/memory/CPU limits, IPv6 off, DNS pointed at a sink; and the partner's
own MLflow credentials, freshly rotated at each spawn. Anyone without a valid
authorisation gets a refusal page instead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import time
from pathlib import Path
from typing import Any

from dockerspawner import DockerSpawner
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Bool, Unicode

from shuyu.audit.events import audit_event
from shuyu.policy import load_policies
from shuyu.sandbox.grants import NotAuthorised, SandboxGrant, grant_sandbox
from shuyu.sandbox.settings import PlatformSettings
from shuyu.tracking.hub import PartnerCredentials, new_partner_credentials

SANDBOX_UID = "1000:1000"


class ShuyuSpawner(DockerSpawner):  # type: ignore[misc]
    policies_dir = Unicode(
        "",
        config=True,
        help="Policy directory to authorise spawns against (default: $SHUYU_POLICIES). "
        "Read at every spawn, so that a grant's expiry or a new grant takes effect "
        "without restarting the hub.",
    )
    mlflow_credentials = Bool(
        True,
        config=True,
        help="Rotate the partner's MLflow password at each spawn and pass it into the "
        "sandbox (needs the MLflow admin secret in the hub's secrets directory).",
    )

    def _settings(self) -> PlatformSettings:
        return PlatformSettings.from_env()

    def _grant(self, settings: PlatformSettings) -> SandboxGrant:
        policies = load_policies(Path(self.policies_dir) if self.policies_dir else None)
        today = dt.date.today()
        try:
            grant = grant_sandbox(policies, settings, self.user.name, today)
        except NotAuthorised as refusal:
            audit_event("sandbox.spawn", self.user.name, "denied", reason=refusal.en)
            message = refusal.zh + "\n" + refusal.en
            error = web.HTTPError(403, "%s", message)
            # what the hub's error and home pages show instead of their generic
            # "failed to start" text
            error.jupyterhub_message = message  # type: ignore[attr-defined]
            error.jupyterhub_html_message = (  # type: ignore[attr-defined]
                f"<p>{html.escape(refusal.zh)}</p><p>{html.escape(refusal.en)}</p>"
            )
            raise error from None
        return grant

    def _configure(self, settings: PlatformSettings, grant: SandboxGrant) -> None:
        """Set DockerSpawner's traits for this spawn from the grant and the settings."""
        self.image = settings.notebook_image
        self.pull_policy = "never"  # images are built on site; a registry is never asked
        self.network_name = settings.sandbox_network
        self.use_internal_ip = True
        self.remove = True  # the container goes; the workspace volume stays
        # policy user names are already valid container names; the escaped form
        # (sz-2dcredit) would only make the container harder to find
        self.name_template = f"{settings.project}-sbx-{{raw_username}}"
        # DockerSpawner renders the name once, when `image` is set
        self.object_name = self._render_templates(self.name_template)
        self.mem_limit = settings.mem_limit
        self.cpu_limit = settings.cpu_limit
        self.volumes = {
            m.volume: {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
            for m in grant.mounts
        }
        self.extra_create_kwargs = {
            "user": SANDBOX_UID,
            "hostname": "sandbox",
            "labels": {
                "org.shuyu.role": "sandbox",
                "org.shuyu.project": settings.project,
                "org.shuyu.user": self.user.name,
                "org.shuyu.partner": grant.partner_id,
                "org.shuyu.scenarios": ",".join(s.id for s in grant.scenarios),
            },
        }
        self.extra_host_config = {
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={settings.tmp_size}"},  # noqa: S108
            "pids_limit": settings.pids_limit,
            "memswap_limit": settings.mem_limit,  # no swap beyond the memory limit
            # the only upstream resolver is the gateway, whose DNS ports the firewall
            # rejects: outside names fail in about a second instead of leaking or hanging
            "dns": [settings.sandbox_gateway],
            "dns_opt": ["timeout:1", "attempts:1"],
            "sysctls": {
                "net.ipv6.conf.all.disable_ipv6": "1",
                "net.ipv6.conf.default.disable_ipv6": "1",
            },
        }

    def _mlflow_credentials(
        self, settings: PlatformSettings, grant: SandboxGrant
    ) -> PartnerCredentials | None:
        if not self.mlflow_credentials:
            return None
        return new_partner_credentials(
            settings, self.user.name, [s.id for s in grant.scenarios], grant.partner_id
        )

    def _sandbox_env(
        self, grant: SandboxGrant, credentials: PartnerCredentials | None
    ) -> dict[str, str]:
        env = {
            "LANG": "zh_CN.UTF-8",
            "SHUYU_SCENARIOS": ",".join(s.id for s in grant.scenarios),
            "SHUYU_PARTNER": grant.partner_id,
            "SHUYU_DATA": "/data",
        }
        if credentials is not None:
            env |= credentials.env()
        return env

    async def start(self) -> tuple[str, int]:
        settings = self._settings()
        grant = self._grant(settings)
        self._configure(settings, grant)
        credentials = self._mlflow_credentials(settings, grant)
        self.environment = self._sandbox_env(grant, credentials)
        started = time.monotonic()
        # MLflow provisioning (seconds: every call checks a password hash) overlaps the
        # container's start; the sandbox is handed over only when both are done
        provisioning = (
            asyncio.ensure_future(asyncio.to_thread(credentials.provision))
            if credentials is not None
            else None
        )
        try:
            ip, port = await super().start()
            await self._wait_until_ready(ip, port, settings.ready_poll_interval)
        except BaseException:
            if provisioning is not None:
                await asyncio.gather(provisioning, return_exceptions=True)
            raise
        if provisioning is not None:
            try:
                await provisioning
            except Exception:
                # a sandbox whose MLflow login would fail is not handed over
                await self.stop(now=True)
                raise
        audit_event(
            "sandbox.spawn",
            self.user.name,
            "allowed",
            partner=grant.partner_id,
            scenarios=[s.id for s in grant.scenarios],
            container=self.container_name,
            seconds=round(time.monotonic() - started, 3),
        )
        return ip, port

    async def _wait_until_ready(self, ip: str, port: int, interval: float) -> None:
        """Poll the server at a fixed short interval until it answers.

        JupyterHub's own readiness check backs off exponentially up to 5 s with jitter, so
        a server that is up after ~2.5 s is typically noticed seconds later; returning only
        once it answers makes the hub's first check succeed.
        """
        base = self.server.base_url if self.server is not None else self.user.url
        url = f"http://{ip}:{port}{base.rstrip('/')}/api"
        client = AsyncHTTPClient()
        deadline = time.monotonic() + self.http_timeout
        while time.monotonic() < deadline:
            try:
                await client.fetch(url, request_timeout=2, follow_redirects=False)
                return
            except HTTPClientError as exc:
                if exc.code < 500 and exc.code != 599:
                    return  # any non-5xx answer means the server is up (as the hub judges)
            except OSError:
                pass
            await asyncio.sleep(interval)
        self.log.warning(
            "sandbox %s not ready after %ss; leaving it to the hub",
            self.container_name,
            self.http_timeout,
        )

    async def stop(self, now: bool = False) -> None:
        await super().stop(now=now)
        audit_event("sandbox.stop", self.user.name, "allowed", container=self.container_name)

    def get_env(self) -> dict[str, Any]:
        env: dict[str, Any] = super().get_env()
        # nothing of the hub's environment may reach a sandbox (proxies, secrets, paths)
        for key in list(env):
            if key.lower().endswith("_proxy"):
                env.pop(key)
        return env
