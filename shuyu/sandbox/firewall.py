"""Host firewall rules that close the gaps of a bare internal Docker network.

An `internal` network has no route out, but (1) Docker filters only forwarded traffic, so
every service on the host listening on 0.0.0.0 answers on the bridge's gateway address;
(2) its containers still get a default route, and blocked packets are *dropped*, so user
code hangs until a time-out instead of failing; (3) with inter-container traffic off,
sandboxes cannot reach MLflow or the hub API either. The rules here:

- INPUT from the sandbox bridge: nothing but the configured host ports (none when the hub
  runs in a container), rejected at once (TCP reset, ICMP port unreachable) — this also
  sinks DNS, since sandboxes are pointed at the gateway as their only upstream resolver;
- FORWARD (via Docker's DOCKER-USER chain): sandbox → hub API and MLflow only; hub →
  sandboxes on the single-user port only (proxy and readiness); sandbox ↔ sandbox,
  link-local (169.254.0.0/16) and everything else rejected at once;
- IPv6: everything from or to the bridge rejected.

Rules live in chains of their own, named after the bridge, installed atomically with
`iptables-restore --noflush` and removed by `remove()`; the platform's firewall service
applies them at start, re-checks them, and removes them when it stops.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from shuyu.errors import ShuyuError

LINK_LOCAL = "169.254.0.0/16"


@dataclass(frozen=True)
class Peer:
    """A service on the sandbox network that sandboxes may open TCP connections to."""

    ip: str
    port: int


@dataclass(frozen=True)
class FirewallPlan:
    bridge: str
    subnet: str
    peers: tuple[Peer, ...]
    hub_ip: str
    sandbox_port: int
    host_ports: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        net = ipaddress.ip_network(self.subnet)
        for ip in [self.hub_ip, *(p.ip for p in self.peers)]:
            if ipaddress.ip_address(ip) not in net:
                raise ShuyuError(f"firewall: {ip} is not in the sandbox subnet {self.subnet}")
        if not 0 < len(self.bridge) <= 15:
            raise ShuyuError(f"firewall: bridge name {self.bridge!r} must be 1-15 characters")

    @property
    def input_chain(self) -> str:
        return f"SHUYU-IN-{self.bridge}"

    @property
    def forward_chain(self) -> str:
        return f"SHUYU-FWD-{self.bridge}"

    @property
    def ipv6_chain(self) -> str:
        return f"SHUYU-V6-{self.bridge}"

    def input_rules(self) -> list[str]:
        rules = ["-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"]
        rules += [f"-p tcp -m tcp --dport {port} -j ACCEPT" for port in self.host_ports]
        rules += [
            "-p tcp -j REJECT --reject-with tcp-reset",
            "-p udp -j REJECT --reject-with icmp-port-unreachable",
            "-j REJECT --reject-with icmp-port-unreachable",
        ]
        return rules

    def forward_rules(self) -> list[str]:
        br, net = self.bridge, self.subnet
        rules = [
            "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            # the metadata range is refused explicitly, whatever else changes below
            f"-d {LINK_LOCAL} -i {br} -p tcp -j REJECT --reject-with tcp-reset",
            f"-d {LINK_LOCAL} -i {br} -j REJECT --reject-with icmp-net-prohibited",
        ]
        rules += [
            f"-s {net} -d {p.ip}/32 -i {br} -o {br} -p tcp -m tcp --dport {p.port} -j ACCEPT"
            for p in self.peers
        ]
        rules += [
            f"-s {self.hub_ip}/32 -d {net} -i {br} -o {br} -p tcp -m tcp "
            f"--dport {self.sandbox_port} -j ACCEPT",
            # sandbox to sandbox, and any other port of the hub or MLflow
            f"-i {br} -o {br} -p tcp -j REJECT --reject-with tcp-reset",
            f"-i {br} -o {br} -j REJECT --reject-with icmp-admin-prohibited",
            # anything leaving the bridge
            f"-i {br} -p tcp -j REJECT --reject-with tcp-reset",
            f"-i {br} -j REJECT --reject-with icmp-net-prohibited",
            # anything entering it from elsewhere
            f"-o {br} -j REJECT --reject-with icmp-admin-prohibited",
        ]
        return rules

    def ipv6_rules(self) -> list[str]:
        return [
            f"-i {self.bridge} -j REJECT --reject-with icmp6-adm-prohibited",
            f"-o {self.bridge} -j REJECT --reject-with icmp6-adm-prohibited",
        ]

    def jumps(self) -> list[tuple[str, str]]:
        """(hooking chain, rule) pairs that send traffic into our chains."""
        return [
            ("INPUT", f"-i {self.bridge} -j {self.input_chain}"),
            ("DOCKER-USER", f"-i {self.bridge} -j {self.forward_chain}"),
            ("DOCKER-USER", f"-o {self.bridge} -j {self.forward_chain}"),
        ]

    def jumps_v6(self) -> list[tuple[str, str]]:
        return [
            ("INPUT", f"-i {self.bridge} -j {self.ipv6_chain}"),
            ("FORWARD", f"-i {self.bridge} -j {self.ipv6_chain}"),
            ("FORWARD", f"-o {self.bridge} -j {self.ipv6_chain}"),
        ]

    def restore_payload(self) -> str:
        """`iptables-restore --noflush` input: declaring a chain flushes only that chain."""
        lines = ["*filter", f":{self.input_chain} - [0:0]", f":{self.forward_chain} - [0:0]"]
        lines += [f"-A {self.input_chain} {r}" for r in self.input_rules()]
        lines += [f"-A {self.forward_chain} {r}" for r in self.forward_rules()]
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    def restore_payload_v6(self) -> str:
        lines = ["*filter", f":{self.ipv6_chain} - [0:0]"]
        lines += [f"-A {self.ipv6_chain} {r}" for r in self.ipv6_rules()]
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"


class Iptables:
    """One iptables backend (nft or legacy) — the one Docker itself uses."""

    def __init__(self, family: str = "ip") -> None:
        self.family = family
        self.binary = self._detect()

    def _detect(self) -> str:
        base = "iptables" if self.family == "ip" else "ip6tables"
        probe = "DOCKER-USER" if self.family == "ip" else "INPUT"
        candidates = [f"{base}-nft", f"{base}-legacy", base]
        found = [c for c in candidates if shutil.which(c)]
        if not found:
            raise ShuyuError(f"{base} not found: install the iptables package")
        for candidate in found:
            done = subprocess.run(
                [candidate, "-w", "-S", probe], capture_output=True, text=True, check=False
            )
            if done.returncode == 0 and (self.family != "ip" or "DOCKER-USER" in done.stdout):
                return candidate
        if self.family == "ip":
            raise ShuyuError(
                "Docker's DOCKER-USER chain was not found with any iptables "
                "backend: is dockerd running with its iptables rules enabled?"
            )
        return found[0]

    def run(self, args: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.binary, "-w", *args], capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise ShuyuError(f"{self.binary} {' '.join(args)}: {done.stderr.strip()}")
        return done

    def restore(self, payload: str) -> None:
        restore = f"{self.binary}-restore"  # iptables-nft-restore, iptables-restore, …
        done = subprocess.run(
            [restore, "-w", "--noflush"], input=payload, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ShuyuError(f"{restore}: {done.stderr.strip()}")

    def has_rule(self, chain: str, rule: str) -> bool:
        return self.run(["-C", chain, *rule.split()], check=False).returncode == 0

    def chain_exists(self, chain: str) -> bool:
        return self.run(["-S", chain], check=False).returncode == 0

    def list_chain(self, chain: str) -> list[str]:
        done = self.run(["-S", chain], check=False)
        return done.stdout.splitlines() if done.returncode == 0 else []


def apply(plan: FirewallPlan, v4: Iptables | None = None, v6: Iptables | None = None) -> None:
    """Install or refresh the rules atomically per chain; idempotent."""
    v4 = v4 or Iptables("ip")
    v4.restore(plan.restore_payload())
    for chain, rule in plan.jumps():
        if not v4.has_rule(chain, rule):
            v4.run(["-I", chain, "1", *rule.split()])
    v6 = v6 if v6 is not None else _maybe_v6()
    if v6 is not None:
        v6.restore(plan.restore_payload_v6())
        for chain, rule in plan.jumps_v6():
            if not v6.has_rule(chain, rule):
                v6.run(["-I", chain, "1", *rule.split()])


def remove(plan: FirewallPlan, v4: Iptables | None = None, v6: Iptables | None = None) -> None:
    """Remove every rule and chain `apply` installed; a no-op when absent."""
    v4 = v4 or Iptables("ip")
    _remove(v4, plan.jumps(), [plan.input_chain, plan.forward_chain])
    v6 = v6 if v6 is not None else _maybe_v6()
    if v6 is not None:
        _remove(v6, plan.jumps_v6(), [plan.ipv6_chain])


def is_installed(plan: FirewallPlan, v4: Iptables | None = None) -> bool:
    """True when the chains hold exactly the planned rules and every jump is in place."""
    v4 = v4 or Iptables("ip")
    expected = {plan.input_chain: plan.input_rules(), plan.forward_chain: plan.forward_rules()}
    for chain, rules in expected.items():
        listed = [
            line.split(" ", 2)[2]
            for line in v4.list_chain(chain)
            if line.startswith(f"-A {chain} ")
        ]
        # rules are written in the order `iptables -S` prints them, so they compare as text
        if listed != rules:
            return False
    return all(v4.has_rule(chain, rule) for chain, rule in plan.jumps())


def _remove(tables: Iptables, jumps: list[tuple[str, str]], chains: list[str]) -> None:
    for chain, rule in jumps:
        while tables.has_rule(chain, rule):
            tables.run(["-D", chain, *rule.split()])
    for chain in chains:
        if tables.chain_exists(chain):
            tables.run(["-F", chain])
            tables.run(["-X", chain])


def _maybe_v6() -> Iptables | None:
    try:
        return Iptables("ip6")
    except ShuyuError:
        return None
