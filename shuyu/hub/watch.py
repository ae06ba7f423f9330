"""The hub's periodic check: an authorisation is re-checked while its sandbox runs.

Every `ShuyuHub.shuyu_watch_interval` seconds, in the hub process:
- a running sandbox whose scenario's authorisation lapsed is stopped;
- a running sandbox of a frozen partner, scenario or platform (应急处置) is stopped;
- a partner whose approval an administrator withdrew has the sandbox stopped and every
  hub session ended (login cookie rotated, every token of the user deleted);
- a user's MLflow grants on the partner's experiments of lapsed scenarios are revoked
  as soon as the lapse is seen (and, at the hub's start, reconciled for every user);
- a running sandbox whose workspace is over its quota is stopped, and the workspace
  blocked from spawning until it is back under it.
Each action is an audit event. A session cut by its sandbox for sending too much to the
browser (`egress_cut`) blocks the user's spawns for an hour.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shuyu.audit.events import audit_event
from shuyu.governance.freezes import FreezeView, read_active_freezes
from shuyu.hub.blocks import SpawnBlock, SpawnBlocks, block_key
from shuyu.hub.freeze import frozen_sandbox
from shuyu.hub.roles import partner_usernames
from shuyu.policy import load_policies
from shuyu.policy.models import Policies
from shuyu.settings import PlatformSettings

QUOTA_EVERY = 4
"""Workspace sizes are measured every this many checks (Docker adds up every volume)."""


@dataclass(frozen=True)
class StopReason:
    zh: str
    en: str
    code: str


def why_stop(
    policies: Policies,
    username: str,
    scenario_id: str | None,
    today: dt.date,
    *,
    approved: bool,
    freezes: Sequence[FreezeView] = (),
) -> StopReason | None:
    """Why a running sandbox must stop now, or None when it may go on."""
    partner = policies.partner_of(username)
    frozen = frozen_sandbox(list(freezes), partner.id if partner else "", scenario_id or "")
    if frozen is not None:
        return StopReason(frozen.zh, frozen.en, "frozen")
    if not approved:
        return StopReason(
            "管理员已撤销该账号的批准。",
            "an administrator withdrew this account's approval",
            "approval-withdrawn",
        )
    valid = {s.id for s in policies.scenarios_for_user(username, today)}
    if scenario_id is None or scenario_id not in valid:
        scenario = policies.scenarios.get(scenario_id or "")
        until = scenario.expires_on if scenario else "?"
        return StopReason(
            f"场景 {scenario_id} 的授权已于 {until} 到期。",
            f"the authorisation for {scenario_id} ended on {until}",
            "grant-lapsed",
        )
    return None


class HubWatch:
    def __init__(self, app: Any, blocks: SpawnBlocks) -> None:
        self.app = app
        self.blocks = blocks
        self._running = False
        self._ticks = 0
        self._mlflow_valid: dict[str, frozenset[str]] = {}

    @property
    def settings(self) -> PlatformSettings:
        return PlatformSettings.from_env()

    async def tick(self, *, reconcile: bool = False) -> None:
        if self._running:
            return  # a slow check is never run twice at once
        self._running = True
        try:
            policies = await asyncio.to_thread(load_policies)
            today = dt.date.today()
            await self._check_servers(policies, today)
            await self._check_mlflow(policies, today, reconcile=reconcile)
            if self._ticks % QUOTA_EVERY == 0:
                await self._check_quotas(policies)
            self._ticks += 1
        except Exception:
            self.app.log.exception("shuyu: the periodic check failed; retrying next time")
        finally:
            self._running = False

    # ------------------------------------------------------------ servers and sessions

    def _approved(self, username: str) -> bool:
        check = getattr(self.app.authenticator, "is_approved", None)
        return True if check is None else bool(check(username))

    def _users(self) -> list[Any]:
        from jupyterhub import orm  # noqa: PLC0415 - the hub's own models

        return [self.app.users[u] for u in self.app.db.query(orm.User)]

    async def _freezes(self) -> list[FreezeView]:
        db_url = self.settings.db_url
        if not db_url:
            return []
        try:
            return await asyncio.to_thread(read_active_freezes, db_url)
        except Exception as exc:  # the next check reads them again
            self.app.log.warning("shuyu: cannot read the freezes: %s", exc)
            return []

    async def _check_servers(self, policies: Policies, today: dt.date) -> None:
        partners = partner_usernames(policies)
        freezes = await self._freezes()
        for user in self._users():
            if user.name not in partners:
                continue
            approved = self._approved(user.name)
            for server_name, spawner in list(user.spawners.items()):
                if not spawner.active or spawner.pending:
                    continue
                reason = why_stop(
                    policies,
                    user.name,
                    getattr(spawner, "scenario_id", None),
                    today,
                    approved=approved,
                    freezes=freezes,
                )
                if reason is not None:
                    await self.stop_server(user, server_name, reason)
            if not approved:
                self._end_sessions(user)

    async def stop_server(self, user: Any, server_name: str, reason: StopReason) -> None:
        spawner = user.spawners[server_name]
        if spawner.pending:
            return
        spawner._stop_pending = True
        try:
            await self.app.proxy.delete_user(user, server_name)
            await user.stop(server_name)
        finally:
            spawner._stop_pending = False
        audit_event(
            "sandbox.stop",
            user.name,
            "allowed",
            by="hub-watch",
            reason=reason.code,
            detail=reason.en,
        )

    def _end_sessions(self, user: Any) -> None:
        from jupyterhub.utils import new_token  # noqa: PLC0415

        orm_user = user.orm_user
        tokens = list(orm_user.api_tokens)
        if not tokens and getattr(user, "_shuyu_sessions_ended", False):
            return
        orm_user.cookie_id = new_token()
        for token in tokens:
            self.app.db.delete(token)
        self.app.db.commit()
        user._shuyu_sessions_ended = True
        audit_event("hub.sessions-ended", user.name, "allowed", tokens=len(tokens))

    # ------------------------------------------------------------ MLflow

    async def _check_mlflow(self, policies: Policies, today: dt.date, *, reconcile: bool) -> None:
        spawner_class = getattr(self.app, "spawner_class", None)
        if spawner_class is None or not getattr(spawner_class, "mlflow_credentials", False):
            return
        from shuyu.hub.mlflow_credentials import revoke_partner_grants  # noqa: PLC0415

        for partner in policies.partners.values():
            for member in partner.users:
                valid = frozenset(s.id for s in policies.scenarios_for_user(member.username, today))
                if not reconcile and self._mlflow_valid.get(member.username) == valid:
                    continue
                known = self._mlflow_valid.get(member.username)
                if not reconcile and known is not None and valid >= known:
                    self._mlflow_valid[member.username] = valid  # only gained: nothing to revoke
                    continue
                try:
                    revoked = await asyncio.to_thread(
                        revoke_partner_grants,
                        self.settings,
                        member.username,
                        partner.id,
                        set(valid),
                    )
                except Exception as exc:  # MLflow down: try again at the next check
                    self.app.log.warning(
                        "shuyu: MLflow revocation for %s: %s", member.username, exc
                    )
                    continue
                self._mlflow_valid[member.username] = valid
                if revoked:
                    audit_event(
                        "mlflow.revoke",
                        member.username,
                        "allowed",
                        by="hub-watch",
                        experiments=revoked,
                    )

    # ------------------------------------------------------------ quotas

    async def _check_quotas(self, policies: Policies) -> None:
        quota = policies.sandbox.workspace_quota_bytes
        sizes = await asyncio.to_thread(_volume_sizes, self.settings.project)
        if sizes is None:
            return
        settings = self.settings
        for key in self.blocks.keys("quota"):
            username, _, scenario_of_block = key.partition("/")
            volume = settings.workspace_volume(username, scenario_of_block)
            if sizes.get(volume, 0) <= quota:
                self.blocks.clear(key)
                audit_event(
                    "sandbox.quota", username, "allowed", scenario=scenario_of_block, cleared=True
                )
        for user in self._users():
            for server_name, spawner in list(user.spawners.items()):
                scenario = getattr(spawner, "scenario_id", None)
                if not spawner.active or spawner.pending or scenario is None:
                    continue
                used = sizes.get(settings.workspace_volume(user.name, scenario), 0)
                if used <= quota:
                    continue
                self.blocks.set(
                    block_key(user.name, scenario),
                    SpawnBlock(
                        "quota",
                        f"场景 {scenario} 的工作区已用 {used / 2**30:.2f} GiB，超出配额 "
                        f"{quota / 2**30:.2f} GiB；请联系管理员清理或扩容。",
                        f"the {scenario} workspace uses {used / 2**30:.2f} GiB, over its "
                        f"{quota / 2**30:.2f} GiB quota; ask an administrator to clean or raise it",
                    ),
                )
                audit_event("sandbox.quota", user.name, "denied", scenario=scenario, bytes=used)
                await self.stop_server(
                    user,
                    server_name,
                    StopReason("工作区超出配额。", "the workspace is over its quota", "quota"),
                )

    # ------------------------------------------------------------ egress

    async def egress_cut(self, username: str, sent: int) -> None:
        until = time.time() + 3600
        self.blocks.set(
            block_key(username),
            SpawnBlock(
                "egress",
                "一小时内发往浏览器的数据量超出限额，会话已中断并已登记待核查；一小时后可重新启动。",
                "more than the hourly limit was sent to the browser; the session was cut and "
                "recorded for a manual check. The server may start again after an hour.",
                until=until,
            ),
        )
        audit_event(
            "sandbox.egress",
            username,
            "denied",
            by="hub",
            bytes_last_hour=sent,
            blocked_until=dt.datetime.fromtimestamp(until, dt.UTC).isoformat(),
            case="open",
        )
        user = self.app.users.get(username)
        if user is None:
            return
        for server_name, spawner in list(user.spawners.items()):
            if spawner.active and not spawner.pending:
                await self.stop_server(
                    user,
                    server_name,
                    StopReason("发往浏览器的数据超出限额。", "egress over budget", "egress"),
                )


def _volume_sizes(project: str) -> dict[str, int] | None:
    """Bytes used by each of the project's workspace volumes (Docker's own accounting)."""
    import docker  # noqa: PLC0415 - the hub image has the SDK

    try:
        usage = docker.APIClient(timeout=120).df()
    except Exception:
        return None
    sizes: dict[str, int] = {}
    for volume in usage.get("Volumes") or []:
        name = str(volume.get("Name", ""))
        if name.startswith(f"{project}-home-"):
            sizes[name] = int((volume.get("UsageData") or {}).get("Size") or 0)
    return sizes
