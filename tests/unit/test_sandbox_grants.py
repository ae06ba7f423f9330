"""Who gets a data sandbox and what it mounts."""

import datetime as dt

import pytest

from shuyu.policy import load_policies
from shuyu.sandbox.grants import NotAuthorised, grant_sandbox
from shuyu.sandbox.settings import PlatformSettings

POLICIES = load_policies()
SETTINGS = PlatformSettings(project="shuyu")
TODAY = dt.date(2026, 11, 23)


def test_a_partner_user_gets_their_scenario_view_read_only_and_their_workspace() -> None:
    grant = grant_sandbox(POLICIES, SETTINGS, "sz-credit", TODAY)
    assert [s.id for s in grant.scenarios] == ["bank_credit", "bid_loan"]
    mounts = {m.target: (m.volume, m.read_only) for m in grant.mounts}
    assert mounts == {
        "/data/bank_credit": ("shuyu-view-bank-credit", True),
        "/data/bid_loan": ("shuyu-view-bid-loan", True),
        "/home/jovyan": ("shuyu-home-sz-credit", False),
    }


def test_nothing_but_views_and_the_workspace_is_ever_mounted() -> None:
    for partner in POLICIES.partners.values():
        for user in partner.users:
            try:
                grant = grant_sandbox(POLICIES, SETTINGS, user.username, TODAY)
            except NotAuthorised:
                continue
            for mount in grant.mounts:
                assert mount.volume.startswith(("shuyu-view-", "shuyu-home-"))
                assert mount.read_only == mount.volume.startswith("shuyu-view-")
                assert "holdout" not in mount.volume
                assert "raw" not in mount.volume


def test_a_partner_whose_only_grant_expired_is_refused_with_the_dates() -> None:
    with pytest.raises(NotAuthorised) as refusal:
        grant_sandbox(POLICIES, SETTINGS, "kj-analyst", TODAY)
    assert "2025-12-31" in refusal.value.zh
    assert "科技金融服务" in refusal.value.zh
    assert "renew" in refusal.value.en


def test_the_same_partner_was_authorised_while_the_grant_ran() -> None:
    grant = grant_sandbox(POLICIES, SETTINGS, "kj-analyst", dt.date(2025, 6, 1))
    assert [s.id for s in grant.scenarios] == ["sci_tech_finance"]


def test_a_grant_starts_on_its_day_not_before() -> None:
    with pytest.raises(NotAuthorised):
        grant_sandbox(POLICIES, SETTINGS, "sz-credit", dt.date(2026, 6, 30))
    assert grant_sandbox(POLICIES, SETTINGS, "sz-credit", dt.date(2026, 7, 1)).scenarios


@pytest.mark.parametrize("username", ["rv-expert", "op-runner", "admin", "stranger"])
def test_reviewers_operators_admins_and_strangers_get_no_data_sandbox(username: str) -> None:
    with pytest.raises(NotAuthorised) as refusal:
        grant_sandbox(POLICIES, SETTINGS, username, TODAY)
    assert "data sandboxes are for partner data scientists only" in refusal.value.en
