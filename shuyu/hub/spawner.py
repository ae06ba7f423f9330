"""ShuyuSpawner: a DockerSpawner that starts only authorised, locked-down sandboxes.

Each partner's JupyterLab runs in a container on the internal sandbox network, for one
scenario: that scenario's authorised `train` view mounted read-only, the user's
workspace for that scenario, and nothing else; the lockdown of
`shuyu.sandbox.hardening`; the partner's own MLflow credentials, freshly rotated at
each spawn; no user configuration of the server. A sandbox is started only while the
sandbox firewall is verified installed. Anyone without a valid authorisation gets a
refusal page instead.

Fixed values are DockerSpawner defaults (`@default`), so that a site's
`c.DockerSpawner.*` configuration wins; only what depends on the grant is set at start.
The security keys of the lockdown are merged over a site's `extra_host_config`: a site
may add to them, never weaken them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import secrets
import time
from typing import Any

from dockerspawner import DockerSpawner
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Bool, Float, Unicode, default

from shuyu.audit.events import audit_event
from shuyu.hub.blocks import SpawnBlocks, block_key
from shuyu.hub.freeze import freeze_refusal
from shuyu.hub.grants import NotAuthorised, SandboxGrant, grant_sandbox, valid_scenarios
from shuyu.hub.mlflow_credentials import PartnerCredentials, new_partner_credentials
from shuyu.hub.roles import SUBMIT_SCOPE
from shuyu.packages.sets import index_path
from shuyu.policy import load_policies
from shuyu.policy.models import Policies
from shuyu.production.scenario_notebooks import DEVELOP
from shuyu.sandbox.firewall import firewall_ready
from shuyu.sandbox.hardening import RESOURCE_KEYS, lockdown
from shuyu.sandbox.limits import SandboxLimits
from shuyu.sandbox_env import SUBMIT_TOKEN_ENV, SUBMIT_URL_ENV
from shuyu.settings import PlatformSettings
from shuyu.store.database import shared_database

SCENARIO_OPTION = "scenario"
SUBMIT_TOKEN_NOTE = "shuyu sandbox submissions"  # noqa: S105 - a token's label


def refusal(zh: str, en: str, status: int = 403) -> web.HTTPError:
    """An HTTP error whose message the hub's error and home pages show in both languages
    instead of their generic "failed to start" text."""
    message = zh + "\n" + en
    error = web.HTTPError(status, "%s", message)
    error.jupyterhub_message = message  # type: ignore[attr-defined]
    error.jupyterhub_html_message = (  # type: ignore[attr-defined]
        f"<p>{html.escape(zh)}</p><p>{html.escape(en)}</p>"
    )
    return error


class ShuyuSpawner(DockerSpawner):  # type: ignore[misc]
    mlflow_credentials = Bool(
        True,
        config=True,
        help="Rotate the partner's MLflow password at each spawn and pass it into the "
        "sandbox (needs the MLflow admin secret in the hub's secrets directory).",
    )
    require_firewall = Bool(
        True,
        config=True,
        help="Refuse to start a sandbox unless the firewall service reports its rules "
        "verified installed within `firewall_max_age` seconds.",
    )
    firewall_max_age = Float(
        30.0,
        config=True,
        help="How old the firewall service's last verification may be, in seconds.",
    )

    # ------------------------------------------------------------ fixed values

    @property
    def settings(self) -> PlatformSettings:
        return PlatformSettings.from_env()

    @default("image")
    def _default_image(self) -> str:
        return self.settings.notebook_image

    @default("pull_policy")
    def _default_pull_policy(self) -> str:
        return "never"  # images are built on site; a registry is never asked

    @default("network_name")
    def _default_network_name(self) -> str:
        return self.settings.sandbox_network

    @default("use_internal_ip")
    def _default_use_internal_ip(self) -> bool:
        return True

    @default("remove")
    def _default_remove(self) -> bool:
        return True  # the container goes; the workspace volume stays

    @default("mem_limit")
    def _default_mem_limit(self) -> str:
        return self.settings.mem_limit

    @default("cpu_limit")
    def _default_cpu_limit(self) -> float:
        return self.settings.cpu_limit

    @default("name_template")
    def _default_name_template(self) -> str:
        # an unguessable name: Docker's embedded DNS answers other sandboxes' names and
        # reverse lookups, which must not say who else is working
        return f"{self.settings.project}-sbx-{{token}}"

    @default("disable_user_config")
    def _default_disable_user_config(self) -> bool:
        # nothing in the home volume may configure the server (authorizer, contents)
        return True

    @default("default_url")
    def _default_default_url(self) -> str:
        # the workspace opens on the scenario's starter notebook (shuyu.sandbox.starter)
        return f"/lab/tree/{DEVELOP}"

    @default("server_token_scopes")
    def _default_server_token_scopes(self) -> list[str]:
        from shuyu.hub.roles import SERVER_TOKEN_SCOPES  # noqa: PLC0415

        return list(SERVER_TOKEN_SCOPES)

    def template_namespace(self) -> dict[str, Any]:
        namespace: dict[str, Any] = super().template_namespace()
        namespace["token"] = getattr(self, "_name_token", "") or "pending"
        return namespace

    scenario_id = Unicode(
        None,
        allow_none=True,
        help="The scenario the running sandbox serves (kept in the hub's state, so that "
        "the periodic check knows it after a restart).",
    )

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        if self.scenario_id:
            state["scenario_id"] = self.scenario_id
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.scenario_id = state.get("scenario_id") or self.scenario_id

    def clear_state(self) -> None:
        super().clear_state()
        self.scenario_id = None

    # ------------------------------------------------------------ the choice of scenario

    async def _policies(self) -> Policies:
        # read at every spawn ($SHUYU_POLICIES), so that a grant's expiry or a new grant
        # takes effect without restarting the hub; YAML parsing takes tens of
        # milliseconds: not on the hub's event loop
        return await asyncio.to_thread(load_policies)

    async def _options_form(self, spawner: DockerSpawner) -> str:
        try:
            choices = valid_scenarios(await self._policies(), self.user.name, dt.date.today())
        except NotAuthorised:
            return ""  # start() refuses with the reason
        if len(choices) < 2:
            return ""
        options = "".join(
            f'<option value="{html.escape(s.id)}">{html.escape(s.name)} · '
            f"{html.escape(s.name_en)}</option>"
            for s in choices
        )
        return (
            '<label for="scenario">场景 / Scenario</label>'
            f'<select class="form-control" name="{SCENARIO_OPTION}" id="scenario">'
            f"{options}</select>"
            "<p>每个沙箱只打开一个场景的授权视图与工作区。"
            "Each sandbox opens one scenario's view and workspace.</p>"
        )

    @default("options_form")
    def _default_options_form(self) -> Any:
        return self._options_form

    def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, str]:
        chosen = formdata.get(SCENARIO_OPTION) or [""]
        return {SCENARIO_OPTION: chosen[0]} if chosen[0] else {}

    @default("apply_user_options")
    def _default_apply_user_options(self) -> Any:
        """JupyterHub 5.3's hook (a trait, called with the spawner): `scenario` is the only
        option, read at start; anything else is refused."""

        def apply(spawner: ShuyuSpawner, user_options: dict[str, Any]) -> None:
            unknown = sorted(set(user_options or {}) - {SCENARIO_OPTION})
            if unknown:
                raise refusal(
                    f"不支持的启动选项：{', '.join(unknown)}",
                    f"unknown spawn options: {', '.join(unknown)}",
                    status=400,
                )

        return apply

    def _chosen_scenario(self) -> str | None:
        value = (self.user_options or {}).get(SCENARIO_OPTION)
        return str(value) if value else None

    # ------------------------------------------------------------ start

    async def _grant(self, settings: PlatformSettings) -> tuple[SandboxGrant, Policies]:
        policies = await self._policies()
        try:
            grant = grant_sandbox(
                policies, settings, self.user.name, dt.date.today(), self._chosen_scenario()
            )
        except NotAuthorised as refused:
            audit_event("sandbox.spawn", self.user.name, "denied", reason=refused.en)
            raise refusal(refused.zh, refused.en) from None
        return grant, policies

    def _check_blocks(self, grant: SandboxGrant) -> None:
        blocks: SpawnBlocks | None = self.user.settings.get("shuyu_blocks")
        if blocks is None:
            return
        block = blocks.active(
            block_key(self.user.name), block_key(self.user.name, grant.scenario.id)
        )
        if block is not None:
            audit_event("sandbox.spawn", self.user.name, "denied", reason=block.en)
            raise refusal(block.zh, block.en)

    def _check_freeze(self, settings: PlatformSettings, grant: SandboxGrant) -> None:
        """A frozen partner, scenario or platform (应急处置) starts no sandbox."""
        problem = freeze_refusal(settings.db_url, grant.partner_id, grant.scenario.id)
        if problem is not None:
            audit_event("sandbox.spawn", self.user.name, "denied", reason=problem.en)
            raise refusal(problem.zh, problem.en)

    def _check_firewall(self, settings: PlatformSettings) -> None:
        if not self.require_firewall:
            return
        problem = firewall_ready(settings, max_age=self.firewall_max_age)
        if problem is not None:
            audit_event("sandbox.spawn", self.user.name, "denied", reason=problem)
            raise refusal(
                "沙箱网络防火墙未确认生效，暂不能启动沙箱；请联系平台管理员。",
                f"The sandbox firewall is not verified installed ({problem}); no sandbox "
                "starts without it. Ask the platform administrator.",
                status=503,
            )

    def _configure(self, settings: PlatformSettings, grant: SandboxGrant) -> None:
        """Set what depends on this spawn: mounts, labels, the lockdown, the name."""
        self._name_token = secrets.token_hex(6)
        self.object_name = self._render_templates(self.name_template)
        self.volumes = {
            m.volume: {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
            for m in grant.mounts
        }
        locked = lockdown(settings, network=True)
        if not hasattr(self, "_site_host_config"):
            configured: dict[str, Any] = self.extra_host_config  # type: ignore[has-type]
            self._site_host_config = dict(configured)
        site: dict[str, Any] = self._site_host_config
        # resource limits: the site's value wins; security: the lockdown's always does
        resources = {k: v for k, v in locked.host_config.items() if k in RESOURCE_KEYS}
        resources.pop("mem_limit")  # DockerSpawner sets these from its own traits
        resources.pop("cpu_period")
        resources.pop("cpu_quota")
        resources["memswap_limit"] = self.mem_limit
        self.extra_host_config = {**resources, **site, **locked.security}
        create_kwargs: dict[str, Any] = self.extra_create_kwargs  # type: ignore[has-type]
        self.extra_create_kwargs = {
            **create_kwargs,
            "user": locked.user,
            "hostname": "sandbox",
            "labels": {
                "org.shuyu.role": "sandbox",
                "org.shuyu.project": settings.project,
                "org.shuyu.user": self.user.name,
                "org.shuyu.partner": grant.partner_id,
                "org.shuyu.scenario": grant.scenario.id,
            },
        }

    def _index_path(self, policies: Policies, scenario: str) -> str:
        """The package set this sandbox installs from: its scenario's own when policy
        keeps sets per scenario; a path that serves nothing when that cannot be read."""
        policy = policies.sandbox.packages
        if not policy.per_scenario:
            return "simple/"
        try:
            return index_path(shared_database(self.settings.db_url), policy, scenario)
        except Exception as exc:
            self.log.warning("shuyu: cannot read %s's package set: %s", scenario, exc)
            return "unavailable/simple/"

    def _sandbox_env(
        self,
        grant: SandboxGrant,
        limits: SandboxLimits,
        credentials: PartnerCredentials | None,
        policies: Policies,
    ) -> dict[str, str]:
        env = {"LANG": "zh_CN.UTF-8", **grant.environment.to_env(), **limits.to_env()}
        # pip's index: the in-domain one, the sandbox's one new peer (plain HTTP on the
        # sandbox network, hence trusted by address)
        env |= {
            "PIP_INDEX_URL": self.settings.index_url(self._index_path(policies, grant.scenario.id)),
            "PIP_TRUSTED_HOST": self.settings.index_ip,
        }
        if credentials is not None:
            env |= credentials.env()
        return env

    def _submission_token(self, settings: PlatformSettings, lifetime: int) -> dict[str, str]:
        """A hub token for this sandbox that can only submit the user's runs for review
        (the previous sandbox's one is deleted), and where to send them."""
        orm_user = self.user.orm_user
        for old in list(orm_user.api_tokens):
            if old.note == SUBMIT_TOKEN_NOTE:
                self.db.delete(old)
        token = orm_user.new_api_token(
            note=SUBMIT_TOKEN_NOTE,
            scopes=[f"{SUBMIT_SCOPE}!user"],
            expires_in=lifetime,
        )
        self.db.commit()
        return {SUBMIT_URL_ENV: settings.submit_url, SUBMIT_TOKEN_ENV: token}

    def _mlflow_credentials(
        self, settings: PlatformSettings, grant: SandboxGrant
    ) -> PartnerCredentials | None:
        if not self.mlflow_credentials:
            return None
        return new_partner_credentials(
            settings, self.user.name, grant.scenario.id, grant.partner_id
        )

    async def start(self) -> tuple[str, int]:
        settings = self.settings
        grant, policies = await self._grant(settings)
        self._check_blocks(grant)
        self._check_freeze(settings, grant)
        self._check_firewall(settings)
        self.scenario_id = grant.scenario.id
        self._configure(settings, grant)
        credentials = self._mlflow_credentials(settings, grant)
        limits = SandboxLimits.from_policy(policies.sandbox)
        self.environment = {
            **self._sandbox_env(grant, limits, credentials, policies),
            **self._submission_token(settings, policies.sandbox.max_server_age_seconds),
        }
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
            scenario=grant.scenario.id,
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
