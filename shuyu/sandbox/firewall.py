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
`iptables-restore --noflush`. The platform's firewall service (`supervise`) applies
them at start, re-checks and repairs them, and records each verification in a status
file; the spawner and the runners start nothing unless that record is fresh and names
this plan. When the service stops it leaves a deny-all in the same chains — sandboxes
may still be running, and they must not be left with an open network — so only an
explicit `remove()` takes the chains away.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_text
from shuyu.settings import PlatformSettings

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
    # what only the hub may reach on the bridge: the service's pages, which its proxy
    # serves under /services/ (never a sandbox)
    hub_peers: tuple[Peer, ...] = field(default=())

    def __post_init__(self) -> None:
        net = ipaddress.ip_network(self.subnet)
        for ip in [self.hub_ip, *(p.ip for p in (*self.peers, *self.hub_peers))]:
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
            f"-s {self.hub_ip}/32 -d {p.ip}/32 -i {br} -o {br} -p tcp -m tcp --dport {p.port} "
            "-j ACCEPT"
            for p in self.hub_peers
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

    def deny_all_rules(self) -> list[str]:
        """What stays in both chains when the service stops: nothing passes, at once."""
        return [
            "-p tcp -j REJECT --reject-with tcp-reset",
            "-j REJECT --reject-with icmp-admin-prohibited",
        ]

    def restore_payload(self, *, deny_all: bool = False) -> str:
        """`iptables-restore --noflush` input: declaring a chain flushes only that chain."""
        inputs = self.deny_all_rules() if deny_all else self.input_rules()
        forwards = self.deny_all_rules() if deny_all else self.forward_rules()
        lines = ["*filter", f":{self.input_chain} - [0:0]", f":{self.forward_chain} - [0:0]"]
        lines += [f"-A {self.input_chain} {r}" for r in inputs]
        lines += [f"-A {self.forward_chain} {r}" for r in forwards]
        lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    @property
    def digest(self) -> str:
        """Names this plan in the status file: a changed plan is not the verified one."""
        return hashlib.sha256(self.restore_payload().encode()).hexdigest()[:16]

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


def plan_for(settings: PlatformSettings, host_ports: Sequence[int] = ()) -> FirewallPlan:
    """The plan for the platform these settings describe: sandboxes may reach the hub API,
    MLflow and the service's submission endpoint; the hub may reach sandboxes'
    single-user port and the service's pages."""
    return FirewallPlan(
        bridge=settings.sandbox_bridge,
        subnet=settings.sandbox_subnet,
        peers=(
            Peer(settings.hub_ip, settings.hub_api_port),
            Peer(settings.mlflow_ip, settings.mlflow_port),
            Peer(settings.service_ip, settings.service_submit_port),
            Peer(settings.index_ip, settings.index_port),
        ),
        hub_ip=settings.hub_ip,
        sandbox_port=settings.sandbox_port,
        host_ports=tuple(host_ports),
        hub_peers=(Peer(settings.service_ip, settings.service_port),),
    )


def apply(
    plan: FirewallPlan,
    v4: Iptables | None = None,
    v6: Iptables | None = None,
    *,
    deny_all: bool = False,
) -> None:
    """Install or refresh the rules (or the deny-all) atomically per chain; idempotent."""
    v4 = v4 or Iptables("ip")
    v4.restore(plan.restore_payload(deny_all=deny_all))
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


def is_installed(plan: FirewallPlan, v4: Iptables | None = None, *, deny_all: bool = False) -> bool:
    """True when the chains hold exactly the planned rules (or the deny-all) and every
    jump is in place."""
    v4 = v4 or Iptables("ip")
    if deny_all:
        expected = {
            plan.input_chain: plan.deny_all_rules(),
            plan.forward_chain: plan.deny_all_rules(),
        }
    else:
        expected = {
            plan.input_chain: plan.input_rules(),
            plan.forward_chain: plan.forward_rules(),
        }
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


# ---------------------------------------------------------------- the service


@dataclass(frozen=True)
class FirewallStatus:
    """What the firewall service last verified, as the spawner and the runners read it."""

    bridge: str
    plan: str  # FirewallPlan.digest of the verified plan; "" for the deny-all
    state: str  # "enforcing" or "deny-all"
    verified_at: float  # time.time() of the last verification

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


def status_path(settings: PlatformSettings) -> Path:
    return settings.firewall_status_dir / f"{settings.sandbox_bridge}.json"


def write_status(settings: PlatformSettings, status: FirewallStatus) -> None:
    atomic_write_text(status_path(settings), status.to_json() + "\n", mode=0o644)


def read_status(settings: PlatformSettings) -> FirewallStatus | None:
    try:
        data = json.loads(status_path(settings).read_text(encoding="utf-8"))
        return FirewallStatus(**data)
    except (OSError, ValueError, TypeError):
        return None


def firewall_ready(
    settings: PlatformSettings, *, max_age: float, host_ports: Sequence[int] = ()
) -> str | None:
    """None when the firewall service verified this platform's plan within `max_age`
    seconds; otherwise why not, for the refusal."""
    status = read_status(settings)
    if status is None:
        return f"no firewall status at {status_path(settings)}"
    if status.state != "enforcing":
        return f"the firewall service left {status.state} (it is not running)"
    if status.plan != plan_for(settings, host_ports).digest:
        return "the installed rules are not this platform's plan"
    age = time.time() - status.verified_at
    if age > max_age:
        return f"last verified {age:.0f}s ago (limit {max_age:.0f}s)"
    return None


def supervise(
    settings: PlatformSettings,
    *,
    host_ports: Sequence[int] = (),
    check_every: float = 5.0,
    stopping: Callable[[], bool],
    say: Callable[[str], None],
    audit: Callable[[str], object],
) -> None:
    """Install the rules, keep them installed (repairing any change) and record each
    verification; when `stopping()` turns true, leave the deny-all in place."""
    plan = plan_for(settings, host_ports)
    apply(plan)
    audit("firewall.apply")
    say(f"firewall: rules for {plan.bridge} installed")
    next_check = 0.0
    try:
        while not stopping():
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + check_every
                if not is_installed(plan):
                    apply(plan)
                    audit("firewall.repair")
                    say("firewall: rules were missing or altered; reinstalled")
                write_status(
                    settings, FirewallStatus(plan.bridge, plan.digest, "enforcing", time.time())
                )
            time.sleep(0.2)  # short, so that a stop signal is honoured at once
    finally:
        # fail closed: sandboxes outlive this service; none may be left unfiltered
        write_status(settings, FirewallStatus(plan.bridge, "", "deny-all", time.time()))
        apply(plan, deny_all=True)
        audit("firewall.deny-all")
        say(f"firewall: stopped; deny-all left in place for {plan.bridge}")


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
