"""The firewall plan: what sandboxes may reach, rendered as iptables rules."""

import time
from pathlib import Path

import pytest

from shuyu.errors import ShuyuError
from shuyu.sandbox.firewall import (
    FirewallPlan,
    FirewallStatus,
    Peer,
    firewall_ready,
    plan_for,
    write_status,
)
from shuyu.settings import PlatformSettings

PLAN = plan_for(PlatformSettings(project="shuyu", sandbox_subnet="10.213.0.0/24"))


def test_sandboxes_may_open_connections_only_to_the_hub_api_mlflow_submissions_and_the_index() -> (
    None
):
    """…and only the hub reaches the service's pages (8090) and the sandboxes' servers.
    The package index (8093) is the one port beyond the hub API, MLflow and submissions."""
    accepts = [r for r in PLAN.forward_rules() if r.endswith("-j ACCEPT")]
    assert accepts == [
        "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-s 10.213.0.0/24 -d 10.213.0.2/32 -i shuyu-sbx0 -o shuyu-sbx0 -p tcp -m tcp --dport 8081 -j ACCEPT",
        "-s 10.213.0.0/24 -d 10.213.0.3/32 -i shuyu-sbx0 -o shuyu-sbx0 -p tcp -m tcp --dport 5000 -j ACCEPT",
        "-s 10.213.0.0/24 -d 10.213.0.4/32 -i shuyu-sbx0 -o shuyu-sbx0 -p tcp -m tcp --dport 8092 -j ACCEPT",
        "-s 10.213.0.0/24 -d 10.213.0.5/32 -i shuyu-sbx0 -o shuyu-sbx0 -p tcp -m tcp --dport 8093 -j ACCEPT",
        "-s 10.213.0.2/32 -d 10.213.0.4/32 -i shuyu-sbx0 -o shuyu-sbx0 -p tcp -m tcp --dport 8090 -j ACCEPT",
        "-s 10.213.0.2/32 -d 10.213.0.0/24 -i shuyu-sbx0 -o shuyu-sbx0 -p tcp -m tcp --dport 8888 -j ACCEPT",
    ]


def test_everything_else_is_rejected_not_dropped_so_it_fails_at_once() -> None:
    rules = PLAN.forward_rules() + PLAN.input_rules()
    assert not any("DROP" in r for r in rules)
    assert PLAN.forward_rules()[-5:] == [
        "-i shuyu-sbx0 -o shuyu-sbx0 -p tcp -j REJECT --reject-with tcp-reset",
        "-i shuyu-sbx0 -o shuyu-sbx0 -j REJECT --reject-with icmp-admin-prohibited",
        "-i shuyu-sbx0 -p tcp -j REJECT --reject-with tcp-reset",
        "-i shuyu-sbx0 -j REJECT --reject-with icmp-net-prohibited",
        "-o shuyu-sbx0 -j REJECT --reject-with icmp-admin-prohibited",
    ]


def test_link_local_is_refused_before_any_allowance() -> None:
    rules = PLAN.forward_rules()
    first_accept_to_peer = next(i for i, r in enumerate(rules) if "--dport" in r)
    link_local = [i for i, r in enumerate(rules) if "169.254.0.0/16" in r and "REJECT" in r]
    assert link_local
    assert max(link_local) < first_accept_to_peer


def test_the_host_is_closed_to_sandboxes_unless_a_host_port_is_named() -> None:
    assert not any("ACCEPT" in r for r in PLAN.input_rules() if "--dport" in r)
    assert PLAN.input_rules()[-3:] == [
        "-p tcp -j REJECT --reject-with tcp-reset",
        "-p udp -j REJECT --reject-with icmp-port-unreachable",
        "-j REJECT --reject-with icmp-port-unreachable",
    ]
    on_host = plan_for(PlatformSettings(), host_ports=[8081])
    assert "-p tcp -m tcp --dport 8081 -j ACCEPT" in on_host.input_rules()


def test_rules_are_hooked_for_both_directions_and_for_ipv6() -> None:
    assert PLAN.jumps() == [
        ("INPUT", "-i shuyu-sbx0 -j SHUYU-IN-shuyu-sbx0"),
        ("DOCKER-USER", "-i shuyu-sbx0 -j SHUYU-FWD-shuyu-sbx0"),
        ("DOCKER-USER", "-o shuyu-sbx0 -j SHUYU-FWD-shuyu-sbx0"),
    ]
    assert all("REJECT" in r for r in PLAN.ipv6_rules())


def test_the_restore_payload_declares_only_our_chains() -> None:
    payload = PLAN.restore_payload()
    declared = [line for line in payload.splitlines() if line.startswith(":")]
    assert declared == [":SHUYU-IN-shuyu-sbx0 - [0:0]", ":SHUYU-FWD-shuyu-sbx0 - [0:0]"]
    assert payload.startswith("*filter\n")
    assert payload.endswith("COMMIT\n")


def test_a_peer_outside_the_sandbox_subnet_is_refused() -> None:
    with pytest.raises(ShuyuError, match="not in the sandbox subnet"):
        FirewallPlan(
            bridge="shuyu-sbx0",
            subnet="10.213.0.0/24",
            peers=(Peer("10.9.9.9", 5000),),
            hub_ip="10.213.0.2",
            sandbox_port=8888,
        )


def test_the_deny_all_left_behind_rejects_everything_in_both_chains() -> None:
    payload = PLAN.restore_payload(deny_all=True)
    rules = [line for line in payload.splitlines() if line.startswith("-A ")]
    assert rules == [
        "-A SHUYU-IN-shuyu-sbx0 -p tcp -j REJECT --reject-with tcp-reset",
        "-A SHUYU-IN-shuyu-sbx0 -j REJECT --reject-with icmp-admin-prohibited",
        "-A SHUYU-FWD-shuyu-sbx0 -p tcp -j REJECT --reject-with tcp-reset",
        "-A SHUYU-FWD-shuyu-sbx0 -j REJECT --reject-with icmp-admin-prohibited",
    ]
    assert "ACCEPT" not in payload


def _settings(tmp_path: Path) -> PlatformSettings:
    return PlatformSettings(project="shuyu", firewall_status_dir=tmp_path)


def test_no_sandbox_starts_without_a_record_of_the_firewall(tmp_path: Path) -> None:
    assert "no firewall status" in str(firewall_ready(_settings(tmp_path), max_age=30))


def test_a_fresh_verification_of_this_plan_lets_sandboxes_start(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    plan = plan_for(settings)
    write_status(settings, FirewallStatus(plan.bridge, plan.digest, "enforcing", time.time()))
    assert firewall_ready(settings, max_age=30) is None


def test_a_stale_record_a_deny_all_or_another_plan_stops_them(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    plan = plan_for(settings)
    write_status(settings, FirewallStatus(plan.bridge, plan.digest, "enforcing", time.time() - 90))
    assert "last verified" in str(firewall_ready(settings, max_age=30))
    write_status(settings, FirewallStatus(plan.bridge, "", "deny-all", time.time()))
    assert "not running" in str(firewall_ready(settings, max_age=30))
    other = plan_for(settings, host_ports=[8081])
    write_status(settings, FirewallStatus(plan.bridge, other.digest, "enforcing", time.time()))
    assert "not this platform's plan" in str(firewall_ready(settings, max_age=30))
