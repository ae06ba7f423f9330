"""Who gets a data sandbox, and what it may mount.

A sandbox is granted only to a partner user whose organisation holds at least one
scenario authorisation valid today. It mounts, read-only, the `train` split of each such
scenario's authorised view, and the user's own workspace — never raw data, a holdout or
a key. Everyone else is refused with a reason in Chinese and English.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shuyu.policy.models import Policies, Scenario
from shuyu.sandbox.settings import PlatformSettings

DATA_ROOT = "/data"
HOME = "/home/jovyan"


@dataclass(frozen=True)
class Mount:
    volume: str
    target: str
    read_only: bool


@dataclass(frozen=True)
class SandboxGrant:
    username: str
    partner_id: str
    scenarios: tuple[Scenario, ...]
    mounts: tuple[Mount, ...]


class NotAuthorised(Exception):
    """No sandbox for this user; `zh` and `en` say why and whom to ask."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh = zh
        self.en = en
        super().__init__(f"{zh} / {en}")


def grant_sandbox(
    policies: Policies, settings: PlatformSettings, username: str, today: dt.date
) -> SandboxGrant:
    """The sandbox `username` may have on `today`, or `NotAuthorised`."""
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
    mounts = [
        Mount(settings.view_volume(s.id), f"{DATA_ROOT}/{s.id}", read_only=True) for s in valid
    ]
    mounts.append(
        Mount(settings.home_volume_template().format(username=username), HOME, read_only=False)
    )
    return SandboxGrant(
        username=username, partner_id=partner.id, scenarios=tuple(valid), mounts=tuple(mounts)
    )


def _period(scenario: Scenario) -> str:
    return f"{scenario.granted_on} – {scenario.expires_on}"
