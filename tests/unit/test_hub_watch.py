"""The hub's periodic check decides to stop a sandbox when its grant lapsed or its
approval was withdrawn; spawn blocks survive a restart and end on time."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from shuyu.hub import roles
from shuyu.hub.blocks import SpawnBlock, SpawnBlocks, block_key
from shuyu.hub.watch import why_stop
from shuyu.policy import load_policies

POLICIES = load_policies()
TODAY = dt.date(2026, 11, 23)


def test_a_sandbox_on_a_valid_grant_goes_on() -> None:
    assert why_stop(POLICIES, "sz-credit", "bank_credit", TODAY, approved=True) is None


def test_a_lapsed_grant_stops_the_sandbox_and_says_when_it_ended() -> None:
    expires = POLICIES.scenarios["bank_credit"].expires_on
    reason = why_stop(
        POLICIES, "sz-credit", "bank_credit", expires + dt.timedelta(days=1), approved=True
    )
    assert reason is not None
    assert reason.code == "grant-lapsed"
    assert str(expires) in reason.zh


def test_a_scenario_the_partner_never_held_stops_the_sandbox() -> None:
    reason = why_stop(POLICIES, "ordos-risk", "health_underwriting", TODAY, approved=True)
    assert reason is not None
    assert reason.code == "grant-lapsed"


def test_a_withdrawn_approval_stops_the_sandbox_whatever_the_grant() -> None:
    reason = why_stop(POLICIES, "sz-credit", "bank_credit", TODAY, approved=False)
    assert reason is not None
    assert reason.code == "approval-withdrawn"


def test_spawn_blocks_survive_a_restart_and_end_on_time(tmp_path: Path) -> None:
    path = tmp_path / "blocks.json"
    blocks = SpawnBlocks.load(path)
    blocks.set(block_key("pc-actuary"), SpawnBlock("egress", "中", "en", until=time.time() + 60))
    blocks.set(block_key("coal-analyst", "coal_market"), SpawnBlock("quota", "中", "en"))
    blocks.set(block_key("yb-analyst"), SpawnBlock("egress", "中", "en", until=time.time() - 1))
    reloaded = SpawnBlocks.load(path)
    assert reloaded.active("pc-actuary") is not None
    assert reloaded.active("coal-analyst", "coal-analyst/coal_market") is not None
    assert reloaded.active("coal-analyst") is None
    assert reloaded.active("yb-analyst") is None  # its hour is over
    reloaded.clear("coal-analyst/coal_market")
    assert SpawnBlocks.load(path).keys("quota") == []


def test_a_damaged_blocks_file_is_kept_aside_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "blocks.json"
    path.write_text("{not json", encoding="utf-8")
    assert SpawnBlocks.load(path).active("anyone") is None
    assert (tmp_path / "blocks.damaged").read_text(encoding="utf-8") == "{not json"


def test_nobody_mints_tokens_and_administrators_never_enter_a_server() -> None:
    for role in roles.roles():
        assert not [s for s in role["scopes"] if s.startswith("tokens")], role["name"]
        if role["name"] != "partner":
            assert not [s for s in role["scopes"] if s.startswith("access:servers")], role["name"]
    admin = next(r for r in roles.roles() if r["name"] == "platform-admin")
    assert "admin:users" in admin["scopes"]  # approve accounts
    assert "admin:servers" in admin["scopes"]  # stop a partner's server


def test_only_partner_users_may_use_the_sign_up_page() -> None:
    signup = roles.partner_usernames(POLICIES)
    assert "sz-credit" in signup
    assert not signup & set(POLICIES.staff)
