"""Who gets a data sandbox and what it mounts."""

import datetime as dt

import pytest

from shuyu.hub.grants import NotAuthorised, grant_sandbox
from shuyu.policy import load_policies
from shuyu.settings import PlatformSettings

POLICIES = load_policies()
SETTINGS = PlatformSettings(project="shuyu")
TODAY = dt.date(2026, 11, 23)


def test_a_partner_user_gets_the_chosen_scenario_view_read_only_and_its_workspace() -> None:
    grant = grant_sandbox(POLICIES, SETTINGS, "sz-credit", TODAY, "bid_loan")
    assert grant.scenario.id == "bid_loan"
    assert [s.id for s in grant.choices] == ["bank_credit", "bid_loan"]
    mounts = {m.target: (m.volume, m.read_only) for m in grant.mounts}
    assert mounts == {
        "/data/bid_loan": ("shuyu-view-bid-loan", True),
        "/home/jovyan": ("shuyu-home-sz-credit--bid-loan", False),
    }


def test_workspaces_are_per_user_and_scenario() -> None:
    volumes = {
        scenario: next(
            m.volume
            for m in grant_sandbox(POLICIES, SETTINGS, "sz-credit", TODAY, scenario).mounts
            if m.target == "/home/jovyan"
        )
        for scenario in ("bank_credit", "bid_loan")
    }
    assert volumes["bank_credit"] != volumes["bid_loan"]


def test_a_partner_with_several_scenarios_must_choose_one() -> None:
    with pytest.raises(NotAuthorised) as refusal:
        grant_sandbox(POLICIES, SETTINGS, "sz-credit", TODAY)
    assert "choose one" in refusal.value.en
    assert "bank_credit" in refusal.value.en


def test_a_partner_with_one_scenario_needs_not_choose() -> None:
    assert grant_sandbox(POLICIES, SETTINGS, "ordos-risk", TODAY).scenario.id == "bank_credit"


def test_a_scenario_the_partner_is_not_authorised_for_is_refused() -> None:
    with pytest.raises(NotAuthorised) as refusal:
        grant_sandbox(POLICIES, SETTINGS, "ordos-risk", TODAY, "health_underwriting")
    assert "no authorisation" in refusal.value.en


def test_nothing_but_views_and_the_workspace_is_ever_mounted() -> None:
    for partner in POLICIES.partners.values():
        for user in partner.users:
            for scenario in POLICIES.scenarios_for_user(user.username, TODAY):
                grant = grant_sandbox(POLICIES, SETTINGS, user.username, TODAY, scenario.id)
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
    assert grant.scenario.id == "sci_tech_finance"


def test_a_grant_starts_on_its_day_not_before() -> None:
    with pytest.raises(NotAuthorised):
        grant_sandbox(POLICIES, SETTINGS, "sz-credit", dt.date(2026, 6, 30))
    assert grant_sandbox(POLICIES, SETTINGS, "ordos-risk", dt.date(2026, 7, 1)).scenario


@pytest.mark.parametrize("username", ["rv-expert", "op-runner", "admin", "stranger"])
def test_reviewers_operators_admins_and_strangers_get_no_data_sandbox(username: str) -> None:
    with pytest.raises(NotAuthorised) as refusal:
        grant_sandbox(POLICIES, SETTINGS, username, TODAY)
    assert "data sandboxes are for partner data scientists only" in refusal.value.en
