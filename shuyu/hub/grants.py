"""Who gets a data sandbox, for which scenario, and what it may mount.

A sandbox is granted only to a partner user whose organisation holds an authorisation
valid today, and it serves one scenario: it mounts, read-only, the `train` split of that
scenario's authorised view, and the user's workspace for that scenario — never raw data,
a holdout or a key. A workspace belongs to a (user, scenario) pair, so that what was
copied out of one scenario's view is never visible under another grant, and goes when
that grant ends. A partner with several valid scenarios chooses one at spawn. Everyone
else is refused with a reason in Chinese and English.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shuyu.policy.models import Policies, Scenario
from shuyu.sandbox_env import HOME, SandboxEnvironment, view_mount
from shuyu.settings import PlatformSettings


@dataclass(frozen=True)
class Mount:
    volume: str
    target: str
    read_only: bool


@dataclass(frozen=True)
class SandboxGrant:
    username: str
    partner_id: str
    scenario: Scenario
    mounts: tuple[Mount, ...]
    choices: tuple[Scenario, ...]
    """Every scenario the user could have chosen today (the spawn form lists them)."""

    @property
    def environment(self) -> SandboxEnvironment:
        return SandboxEnvironment(scenario=self.scenario.id, partner=self.partner_id)


class NotAuthorised(Exception):
    """No sandbox for this user; `zh` and `en` say why and whom to ask."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh = zh
        self.en = en
        super().__init__(f"{zh} / {en}")


def valid_scenarios(policies: Policies, username: str, today: dt.date) -> list[Scenario]:
    """The scenarios `username` may open a sandbox on `today`, or `NotAuthorised`."""
    partner = policies.partner_of(username)
    if partner is None:
        raise NotAuthorised(
            f"账号 {username} 不是已授权合伙人的用户，平台不为其提供数据沙箱。",
            f"Account {username} is not a user of an authorised partner; "
            "data sandboxes are for partner data scientists only.",
        )
    valid = policies.scenarios_for_user(username, today)
    if not valid:
        lapsed = [s for s in policies.scenarios.values() if partner.id in s.partners]
        detail_zh = "；".join(f"{s.name}（{_period(s)}）" for s in lapsed) or "无场景授权"
        detail_en = "; ".join(f"{s.name_en} ({_period(s)})" for s in lapsed) or "no scenario"
        raise NotAuthorised(
            f"{partner.name} 目前没有有效的场景授权：{detail_zh}。"
            "请联系市数据资源管理局办理授权或续期。",
            f"{partner.name_en} holds no authorisation valid on {today}: {detail_en}. "
            "Ask the data bureau to grant or renew one.",
        )
    return valid


def grant_sandbox(
    policies: Policies,
    settings: PlatformSettings,
    username: str,
    today: dt.date,
    scenario_id: str | None = None,
) -> SandboxGrant:
    """The sandbox `username` may have on `today` for `scenario_id` (may be left out when
    only one scenario is valid), or `NotAuthorised`."""
    valid = valid_scenarios(policies, username, today)
    partner = policies.partner_of(username)
    assert partner is not None  # valid_scenarios refused strangers
    by_id = {s.id: s for s in valid}
    if scenario_id is None:
        if len(valid) > 1:
            names_zh = "、".join(f"{s.name}（{s.id}）" for s in valid)
            names_en = ", ".join(s.id for s in valid)
            raise NotAuthorised(
                f"{username} 有多个有效场景：{names_zh}，请在启动页选择一个。",
                f"{username} holds several valid scenarios ({names_en}): choose one "
                "when starting the server.",
            )
        scenario = valid[0]
    elif scenario_id in by_id:
        scenario = by_id[scenario_id]
    else:
        known = policies.scenarios.get(scenario_id)
        what_zh = f"{known.name}（{_period(known)}）" if known else scenario_id
        what_en = f"{known.name_en} ({_period(known)})" if known else scenario_id
        raise NotAuthorised(
            f"{partner.name} 在 {today} 没有场景 {what_zh} 的有效授权。",
            f"{partner.name_en} holds no authorisation for {what_en} valid on {today}.",
        )
    mounts = (
        Mount(settings.view_volume(scenario.id), str(view_mount(scenario.id)), read_only=True),
        Mount(settings.workspace_volume(username, scenario.id), str(HOME), read_only=False),
    )
    return SandboxGrant(
        username=username,
        partner_id=partner.id,
        scenario=scenario,
        mounts=mounts,
        choices=tuple(valid),
    )


def _period(scenario: Scenario) -> str:
    return f"{scenario.granted_on} – {scenario.expires_on}"
