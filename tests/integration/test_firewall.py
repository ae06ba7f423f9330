"""The sandbox network's firewall, installed for real, probed from real containers.

Stand-in hub and MLflow containers sit on an internal network with inter-container
traffic off; two stand-in sandboxes run as the sandbox spawner configures them. Every
blocked path must fail within 2 seconds, and every allowed one must work.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shuyu.sandbox import firewall
from shuyu.settings import PlatformSettings
from tests.integration.egress import (
    container_ip,
    doc_address_interface,
    docker,
    host_listener,
    internet_stand_in,
    probe,
    reachable_from_host,
    wait_listening,
)

pytestmark = pytest.mark.integration

SETTINGS = PlatformSettings(project="fwtest", sandbox_subnet="10.219.0.0/24")
LISTEN = (
    "import socket,sys,threading\n"
    "def serve(p):\n"
    "  s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
    "  s.bind(('0.0.0.0',p)); s.listen()\n"
    "  while True:\n"
    "    c,_=s.accept(); c.sendall(b'ok'); c.close()\n"
    "ps=[int(p) for p in sys.argv[1:]]\n"
    "[threading.Thread(target=serve,args=(p,),daemon=True).start() for p in ps[1:]]\n"
    "serve(ps[0])\n"
)
FAST = 2.0


def _run(image: str, name: str, ip: str, ports: list[int], *, sandbox: bool) -> None:
    args = [
        "run",
        "-d",
        "--name",
        name,
        "--network",
        SETTINGS.sandbox_network,
        "--ip",
        ip,
        "--entrypoint",
        "python3",
    ]
    if sandbox:  # as ShuyuSpawner starts them
        args += [
            "--user",
            "1000:1000",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges:true",
            "--read-only",
            "--dns",
            SETTINGS.sandbox_gateway,
            "--dns-opt",
            "timeout:1",
            "--dns-opt",
            "attempts:1",
            "--sysctl",
            "net.ipv6.conf.all.disable_ipv6=1",
        ]
    docker(*args, image, "-c", LISTEN, *map(str, ports))


@pytest.fixture(scope="module")
def network(base_image: str) -> Iterator[firewall.FirewallPlan]:
    names = ["fwtest-hub", "fwtest-mlflow", "fwtest-sbx-a", "fwtest-sbx-b"]
    subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)
    subprocess.run(
        ["docker", "network", "rm", SETTINGS.sandbox_network], capture_output=True, check=False
    )
    docker(
        "network",
        "create",
        "--internal",
        "--subnet",
        SETTINGS.sandbox_subnet,
        "-o",
        f"com.docker.network.bridge.name={SETTINGS.sandbox_bridge}",
        "-o",
        "com.docker.network.bridge.enable_icc=false",
        SETTINGS.sandbox_network,
    )
    plan = firewall.plan_for(SETTINGS)
    try:
        _run(base_image, "fwtest-hub", SETTINGS.hub_ip, [8081, 8000, 8001], sandbox=False)
        _run(base_image, "fwtest-mlflow", SETTINGS.mlflow_ip, [5000, 5001], sandbox=False)
        _run(base_image, "fwtest-sbx-a", "10.219.0.10", [8888], sandbox=True)
        _run(base_image, "fwtest-sbx-b", "10.219.0.11", [8888], sandbox=True)
        for host, port in [
            (SETTINGS.hub_ip, 8081),
            (SETTINGS.mlflow_ip, 5000),
            ("10.219.0.10", 8888),
            ("10.219.0.11", 8888),
        ]:
            wait_listening(host, port)
        firewall.apply(plan)
        yield plan
    finally:
        firewall.remove(plan)
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)
        subprocess.run(
            ["docker", "network", "rm", SETTINGS.sandbox_network], capture_output=True, check=False
        )


def _assert_all_fail_fast(outcomes: list) -> None:  # type: ignore[type-arg]
    for outcome in outcomes:
        assert outcome.failed, f"{outcome.target} was reachable: {outcome.result}"
        assert outcome.seconds < FAST, f"{outcome.target} took {outcome.seconds}s to fail"


def test_a_sandbox_reaches_the_hub_api_and_mlflow(network: firewall.FirewallPlan) -> None:
    outcomes = probe(
        "fwtest-sbx-a",
        [
            {"kind": "tcp", "host": SETTINGS.hub_ip, "port": 8081},
            {"kind": "tcp", "host": SETTINGS.mlflow_ip, "port": 5000},
        ],
    )
    assert [o.result for o in outcomes] == ["connected", "connected"]


def test_other_ports_of_the_hub_and_mlflow_are_refused_at_once(
    network: firewall.FirewallPlan,
) -> None:
    _assert_all_fail_fast(
        probe(
            "fwtest-sbx-a",
            [
                {"kind": "tcp", "host": SETTINGS.hub_ip, "port": 8000},
                {"kind": "tcp", "host": SETTINGS.hub_ip, "port": 8001},
                {"kind": "tcp", "host": SETTINGS.mlflow_ip, "port": 5001},
            ],
        )
    )


def test_a_sandbox_cannot_reach_another_but_the_hub_can(network: firewall.FirewallPlan) -> None:
    _assert_all_fail_fast(
        probe("fwtest-sbx-a", [{"kind": "tcp", "host": "10.219.0.11", "port": 8888}])
    )
    from_hub = probe("fwtest-hub", [{"kind": "tcp", "host": "10.219.0.11", "port": 8888}])
    assert from_hub[0].result == "connected"


def test_host_listeners_on_all_addresses_are_refused(network: firewall.FirewallPlan) -> None:
    with host_listener("0.0.0.0") as port:
        assert reachable_from_host("127.0.0.1", port)
        _assert_all_fail_fast(
            probe(
                "fwtest-sbx-a",
                [
                    {"kind": "tcp", "host": SETTINGS.sandbox_gateway, "port": port},
                    {"kind": "udp", "host": SETTINGS.sandbox_gateway, "port": 53},
                    {"kind": "icmp", "host": SETTINGS.sandbox_gateway},
                ],
            )
        )


def test_a_documentation_address_on_the_host_is_refused(network: firewall.FirewallPlan) -> None:
    with doc_address_interface() as address, host_listener(address) as port:
        assert reachable_from_host(address, port)
        _assert_all_fail_fast(
            probe("fwtest-sbx-a", [{"kind": "tcp", "host": address, "port": port}])
        )


def test_a_stand_in_for_the_internet_is_unreachable(
    network: firewall.FirewallPlan, base_image: str
) -> None:
    with internet_stand_in(base_image) as address:
        assert reachable_from_host(address, 443)
        _assert_all_fail_fast(
            probe(
                "fwtest-sbx-a",
                [
                    {"kind": "tcp", "host": address, "port": 443},
                    {"kind": "tcp", "host": address, "port": 80},
                    {"kind": "udp", "host": address, "port": 53},
                    {"kind": "icmp", "host": address},
                    {"kind": "tcp6", "host": "2001:db8::1", "port": 443},
                ],
            )
        )


def test_outside_names_do_not_resolve_and_fail_fast(network: firewall.FirewallPlan) -> None:
    _assert_all_fail_fast(
        probe(
            "fwtest-sbx-a",
            [{"kind": "dns", "host": "example.org"}, {"kind": "dns", "host": "pypi.org"}],
        )
    )
    # names of peers on the network still resolve: the sink is only for the outside
    assert container_ip("fwtest-mlflow", SETTINGS.sandbox_network) == SETTINGS.mlflow_ip


def test_the_installed_rules_refuse_link_local_before_any_allowance(
    network: firewall.FirewallPlan,
) -> None:
    tables = firewall.Iptables("ip")
    rules = tables.list_chain(network.forward_chain)
    link_local = [i for i, r in enumerate(rules) if "169.254.0.0/16" in r and "REJECT" in r]
    allowances = [i for i, r in enumerate(rules) if "--dport" in r and "ACCEPT" in r]
    assert link_local
    assert allowances
    assert max(link_local) < min(allowances)
    assert firewall.is_installed(network)


def test_when_the_firewall_service_stops_a_deny_all_stays_behind(
    network: firewall.FirewallPlan, tmp_path: Path
) -> None:
    # the attack: wait for the service to stop (an upgrade, a crash, `make down` half
    # done) while the sandbox runs on, and walk out through the host
    settings = SETTINGS.model_copy(update={"firewall_status_dir": tmp_path})
    stop = threading.Event()
    service = threading.Thread(
        target=firewall.supervise,
        kwargs={
            "settings": settings,
            "check_every": 0.5,
            "stopping": stop.is_set,
            "say": print,
            "audit": lambda action: None,
        },
    )
    service.start()
    try:
        deadline = time.monotonic() + 10
        while firewall.firewall_ready(settings, max_age=5) is not None:
            assert time.monotonic() < deadline, "the service never recorded its rules"
            time.sleep(0.2)
        allowed = probe("fwtest-sbx-a", [{"kind": "tcp", "host": SETTINGS.mlflow_ip, "port": 5000}])
        assert allowed[0].result == "connected"
        stop.set()
        service.join(timeout=20)
        assert not service.is_alive()
        assert firewall.is_installed(network, deny_all=True)
        assert "not running" in str(firewall.firewall_ready(settings, max_age=5))
        with host_listener("0.0.0.0") as port:
            _assert_all_fail_fast(
                probe(
                    "fwtest-sbx-a",
                    [
                        {"kind": "tcp", "host": SETTINGS.mlflow_ip, "port": 5000},
                        {"kind": "tcp", "host": SETTINGS.hub_ip, "port": 8081},
                        {"kind": "tcp", "host": SETTINGS.sandbox_gateway, "port": port},
                        {"kind": "udp", "host": SETTINGS.sandbox_gateway, "port": 53},
                    ],
                )
            )
    finally:
        stop.set()
        service.join(timeout=20)
        firewall.apply(network)  # the module's other tests run under the plan


def test_remove_takes_every_rule_away_and_apply_is_idempotent() -> None:
    plan = firewall.plan_for(PlatformSettings(project="fwtest2", sandbox_subnet="10.218.0.0/24"))
    tables = firewall.Iptables("ip")
    try:
        firewall.apply(plan)
        firewall.apply(plan)
        assert firewall.is_installed(plan)
        hooks = [r for r in tables.list_chain("DOCKER-USER") if plan.forward_chain in r]
        assert len(hooks) == 2
    finally:
        firewall.remove(plan)
    assert not tables.chain_exists(plan.forward_chain)
    assert not tables.chain_exists(plan.input_chain)
    assert not any(plan.forward_chain in r for r in tables.list_chain("DOCKER-USER"))
    assert not any(plan.input_chain in r for r in tables.list_chain("INPUT"))
