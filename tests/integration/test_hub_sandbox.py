"""A partner's sandbox, attacked from the inside.

The platform runs as `make up` starts it (compose: hub + proxy, MLflow, firewall); a
partner logs in over HTTP and spawns through the hub's REST API; then every way out of
the domain is tried from inside the real container, as the partner's own user. Each must
fail, and fail within 2 seconds. What partners are meant to have (the hub API, MLflow,
their read-only view) must work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shuyu.sandbox.firewall import Iptables
from shuyu.secrets import random_password
from tests.integration.containers import exec_in, inspect, python_in
from tests.integration.egress import (
    Outcome,
    doc_address_interface,
    host_listener,
    internet_stand_in,
    probe,
    reachable_from_host,
)
from tests.integration.platform_fixture import RunningPlatform

pytestmark = pytest.mark.integration

PARTNER = "sz-credit"  # bank: bank_credit + bid_loan (one per sandbox)
SCENARIO = "bank_credit"
OTHER_PARTNER = "ordos-risk"  # another bank: bank_credit only
FAST = 2.0


def _all_fail_fast(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        assert outcome.failed, f"{outcome.target} was reachable: {outcome.result}"
        assert outcome.seconds < FAST, f"{outcome.target} took {outcome.seconds}s to fail"


@pytest.fixture(scope="module")
def sandbox(platform: RunningPlatform) -> Iterator[str]:
    with platform.running(PARTNER, SCENARIO) as container:
        yield container


@pytest.fixture(scope="module")
def other_sandbox(platform: RunningPlatform) -> Iterator[str]:
    with platform.running(OTHER_PARTNER) as container:
        yield container


# ---------------------------------------------------------------- what a partner has


def test_the_hub_api_and_mlflow_answer_from_inside(
    platform: RunningPlatform,
    sandbox: str,
) -> None:
    s = platform.settings
    outcomes = probe(
        sandbox,
        [
            {"kind": "http", "url": f"http://{s.hub_ip}:{s.hub_api_port}/hub/api"},
            {"kind": "http", "url": f"{s.mlflow_url}/health"},
        ],
    )
    assert [o.result for o in outcomes] == ["http 200", "http 200"]


def test_the_view_is_readable_and_read_only(sandbox: str) -> None:
    read = python_in(
        sandbox,
        "import pyarrow.parquet as pq, json;"
        "t = pq.read_table('/data/bank_credit/train.parquet');"
        "m = json.load(open('/data/bank_credit/view.json'));"
        "print(t.num_rows, m['train_rows'], m['scenario'])",
    )
    rows, manifest_rows, scenario = read.stdout.split()
    assert int(rows) == int(manifest_rows) > 0
    assert scenario == "bank_credit"
    write = python_in(sandbox, "open('/data/bank_credit/train.parquet', 'ab').write(b'x')")
    assert write.returncode != 0
    assert "Read-only file system" in write.stderr or "Permission denied" in write.stderr


def test_only_the_chosen_scenario_view_and_its_workspace_are_mounted(
    platform: RunningPlatform, sandbox: str
) -> None:
    mounts = {m["Destination"]: (m.get("Name"), m["RW"]) for m in inspect(sandbox)["Mounts"]}
    project = platform.settings.project
    # bid_loan is authorised too, but this sandbox serves bank_credit: one scenario's view
    # and one (user, scenario) workspace, so nothing copied here shows under another grant
    assert mounts == {
        "/data/bank_credit": (f"{project}-view-bank-credit", False),
        "/home/jovyan": (f"{project}-home-{PARTNER}--bank-credit", True),
    }


def test_raw_data_holdouts_keys_and_other_workspaces_are_absent(sandbox: str) -> None:
    # no -xdev: every view is a mount of its own below /data
    listing = exec_in(sandbox, "find", "/data", "/home", "/srv", "/run", "/tmp", "-name", "*")
    # the one secret a sandbox holds is its own server's cookie key, made at start-up
    # in the tmpfs and gone with the container
    own = "/tmp/jupyter-runtime/jupyter_cookie_secret"
    files = [f for f in listing.stdout.splitlines() if f != own]
    assert "/data/bank_credit/train.parquet" in files
    for forbidden in ("holdout", "masking", ".key", "raw", "masked", "secret", "mlflow_admin"):
        assert not [f for f in files if forbidden in f.rsplit("/", 1)[-1]], forbidden
    assert sorted(f for f in files if f.startswith("/data/") and f.count("/") == 3) == [
        "/data/bank_credit/train.parquet",
        "/data/bank_credit/view.json",
    ]
    assert not [f for f in files if f.startswith("/home/") and not f.startswith("/home/jovyan")]


def test_no_secret_and_no_proxy_setting_is_in_the_environment(sandbox: str) -> None:
    env = dict(
        line.split("=", 1) for line in exec_in(sandbox, "env").stdout.splitlines() if "=" in line
    )
    assert not [k for k in env if k.lower().endswith("_proxy")]
    assert not [k for k in env if "MASKING" in k or "ADMIN" in k or "GATE" in k]
    assert env["MLFLOW_TRACKING_USERNAME"] == PARTNER
    assert env["SHUYU_SCENARIO"] == SCENARIO


def test_the_process_runs_unprivileged_on_a_read_only_root(sandbox: str) -> None:
    status = exec_in(sandbox, "cat", "/proc/1/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["Uid"].split()[0] == "1000"
    assert fields["CapEff"].strip() == "0000000000000000"
    assert fields["CapPrm"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"
    assert exec_in(sandbox, "touch", "/usr/local/x").returncode != 0
    assert exec_in(sandbox, "touch", "/tmp/x").returncode == 0
    host = inspect(sandbox)["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert host["Privileged"] is False


def test_there_is_no_docker_socket(sandbox: str) -> None:
    found = exec_in(sandbox, "find", "/", "-xdev", "-name", "docker.sock")
    assert found.stdout.strip() == ""
    assert (
        python_in(
            sandbox, "import os; print(os.path.exists('/var/run/docker.sock'))"
        ).stdout.strip()
        == "False"
    )
    mounts = inspect(sandbox)["Mounts"]
    assert not [m for m in mounts if "docker.sock" in m.get("Source", "") + m["Destination"]]
    assert {m["Type"] for m in mounts} == {"volume"}  # named volumes only, no host paths


def test_the_memory_limit_holds(platform: RunningPlatform, sandbox: str) -> None:
    assert inspect(sandbox)["HostConfig"]["Memory"] == 1024**3
    hog = python_in(sandbox, "b = bytearray(2 * 1024**3); b[::4096] = b'x' * len(b[::4096])")
    assert hog.returncode != 0  # killed by the cgroup (137) or refused (MemoryError)
    assert inspect(sandbox)["State"]["Running"]


# ---------------------------------------------------------------- the ways out


def test_a_stand_in_for_the_internet_is_unreachable(sandbox: str, base_image: str) -> None:
    with internet_stand_in(base_image) as address:
        assert reachable_from_host(address, 443)
        _all_fail_fast(
            probe(
                sandbox,
                [
                    {"kind": "tcp", "host": address, "port": 443},
                    {"kind": "tcp", "host": address, "port": 80},
                    {"kind": "udp", "host": address, "port": 53},
                    {"kind": "icmp", "host": address},
                    {"kind": "tcp6", "host": "2001:db8::1", "port": 443},
                ],
            )
        )


def test_proxy_settings_do_not_open_a_way_out(sandbox: str, base_image: str) -> None:
    with internet_stand_in(base_image) as address:
        proxy = f"http://{address}:80"
        _all_fail_fast(
            probe(
                sandbox,
                [{"kind": "http", "url": "http://example.org/"}],
                env={
                    "HTTP_PROXY": proxy,
                    "http_proxy": proxy,
                    "HTTPS_PROXY": proxy,
                    "https_proxy": proxy,
                },
            )
        )


def test_outside_names_do_not_resolve(sandbox: str) -> None:
    _all_fail_fast(
        probe(
            sandbox, [{"kind": "dns", "host": "example.org"}, {"kind": "dns", "host": "pypi.org"}]
        )
    )


@pytest.fixture
def loopback_host_resolver() -> Iterator[None]:
    """The host's resolver on loopback, answering every name with a documentation
    address: the configuration under which Docker's embedded DNS would resolve for a
    container that did not sink its DNS."""
    resolv = Path("/etc/resolv.conf")
    saved = resolv.read_bytes()
    was_link = os.readlink(resolv) if resolv.is_symlink() else None
    # A queries get the documentation address; any other type (AAAA first, from
    # getaddrinfo) an empty NOERROR answer, as a real resolver gives for a v4-only name
    answer = (
        "import socket\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1',53))\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "  q,a=s.recvfrom(512)\n"
        "  if q[-4:-2]==b'\\x00\\x01':\n"
        "    r=q[:2]+b'\\x81\\x80'+q[4:6]+b'\\x00\\x01\\x00\\x00\\x00\\x00'+q[12:]"
        "+b'\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x3c\\x00\\x04'"
        "+bytes([198,51,100,1])\n"
        "  else:\n"
        "    r=q[:2]+b'\\x81\\x80'+q[4:6]+b'\\x00\\x00\\x00\\x00\\x00\\x00'+q[12:]\n"
        "  s.sendto(r,a)\n"
    )
    server = subprocess.Popen(["python3", "-c", answer], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"  # bound before anyone asks
        if was_link:
            resolv.unlink()
        resolv.write_text("nameserver 127.0.0.1\n", encoding="utf-8")
        yield
    finally:
        server.kill()
        if was_link:
            resolv.unlink()
            resolv.symlink_to(was_link)
        else:
            resolv.write_bytes(saved)


@pytest.mark.skipif(os.geteuid() != 0, reason="replacing /etc/resolv.conf needs root")
def test_outside_names_do_not_resolve_when_the_host_resolver_is_on_loopback(
    platform: RunningPlatform, loopback_host_resolver: None
) -> None:
    assert shutil.which("getent")
    host_view = subprocess.run(
        ["getent", "hosts", "example.org"], capture_output=True, text=True, check=False
    )
    assert host_view.stdout.startswith("198.51.100.1")  # the host resolves via loopback
    # a fresh sandbox, created under this resolver
    with platform.running("hi-underwriter") as container:
        _all_fail_fast(probe(container, [{"kind": "dns", "host": "example.org"}]))


def test_host_listeners_are_unreachable(
    platform: RunningPlatform,
    sandbox: str,
) -> None:
    gateway = platform.settings.sandbox_gateway
    with (
        host_listener("0.0.0.0") as port,
        doc_address_interface() as doc,
        host_listener(doc) as doc_port,
    ):
        assert reachable_from_host("127.0.0.1", port)
        assert reachable_from_host(doc, doc_port)
        _all_fail_fast(
            probe(
                sandbox,
                [
                    {"kind": "tcp", "host": gateway, "port": port},
                    {"kind": "tcp", "host": doc, "port": doc_port},
                    {"kind": "tcp", "host": doc, "port": port},
                ],
            )
        )


def test_the_proxy_api_and_other_hub_ports_are_refused(
    platform: RunningPlatform,
    sandbox: str,
) -> None:
    hub = platform.settings.hub_ip
    _all_fail_fast(
        probe(
            sandbox,
            [
                {"kind": "tcp", "host": hub, "port": 8001},  # configurable-http-proxy's API
                {"kind": "tcp", "host": hub, "port": 8000},  # the public proxy port
                {"kind": "tcp", "host": platform.settings.mlflow_ip, "port": 22},
            ],
        )
    )


def test_another_users_sandbox_is_unreachable(
    platform: RunningPlatform,
    sandbox: str,
    other_sandbox: str,
) -> None:
    network = platform.settings.sandbox_network
    other_ip = inspect(other_sandbox)["NetworkSettings"]["Networks"][network]["IPAddress"]
    _all_fail_fast(
        probe(
            sandbox,
            [
                {"kind": "tcp", "host": other_ip, "port": 8888},
                {"kind": "http", "url": f"http://{other_ip}:8888/api"},
            ],
        )
    )


def test_the_installed_rules_refuse_link_local(platform: RunningPlatform) -> None:
    rules = Iptables("ip").list_chain(f"SHUYU-FWD-{platform.settings.sandbox_bridge}")
    assert any("169.254.0.0/16" in r and "REJECT" in r for r in rules)
    assert not any("DROP" in r for r in rules)


# ---------------------------------------------------------------- who gets a sandbox


def test_a_partner_without_a_valid_authorisation_cannot_spawn(platform: RunningPlatform) -> None:
    session = platform.login("kj-analyst")
    response = session.api("POST", "/users/kj-analyst/server")
    assert response.status_code == 403
    assert "2025-12-31" in response.text
    page = session.http.get(f"{platform.url}/hub/spawn/kj-analyst", timeout=60)
    assert page.status_code == 403
    text = page.content.decode("utf-8")  # the page declares UTF-8 in a meta tag
    assert "没有有效的场景授权" in text
    assert "no authorisation valid" in text
    assert platform.container("kj-analyst") == ""


def test_a_reviewer_gets_no_data_sandbox(platform: RunningPlatform) -> None:
    session = platform.login("rv-expert")
    assert session.api("POST", "/users/rv-expert/server").status_code == 403
    assert platform.container("rv-expert") == ""


def test_a_browser_download_is_refused(platform: RunningPlatform, sandbox: str) -> None:
    exec_in(sandbox, "sh", "-c", "echo a,b > /home/jovyan/out.csv")
    session = platform.login(PARTNER)
    base = f"{platform.url}/user/{PARTNER}"
    # as a browser does: opening the lab runs the hub's OAuth dance for the server cookie
    lab = session.http.get(f"{base}/lab", timeout=60)
    assert lab.status_code == 200
    assert lab.url.startswith(f"{base}/lab")
    # a text file opens in the editor (what is on screen); its bytes are not handed out
    assert session.http.get(f"{base}/api/contents/out.csv", timeout=30).status_code == 200
    assert (
        session.http.get(
            f"{base}/api/contents/out.csv?type=file&format=base64&content=1", timeout=30
        ).status_code
        == 403
    )
    assert session.http.get(f"{base}/files/out.csv", timeout=30).status_code == 403
    assert session.http.get(f"{base}/files/out.csv?download=1", timeout=30).status_code == 403
    assert (
        session.http.get(f"{base}/api/contents/out.csv?download=1", timeout=30).status_code == 403
    )


def test_unknown_names_cannot_sign_up(platform: RunningPlatform) -> None:
    password = random_password()
    platform.session().signup("mallory", password)
    assert not platform.session().login("mallory", password)


def test_a_withdrawn_approval_stops_logins(platform: RunningPlatform) -> None:
    admin = platform.login("admin")
    admin.approve("op-runner", approved=False)
    try:
        with pytest.raises(Exception, match="cannot log in"):
            platform.login("op-runner")
    finally:
        admin.approve("op-runner")
    assert platform.login("op-runner")


def test_repeated_wrong_passwords_lock_the_account(platform: RunningPlatform) -> None:
    for _ in range(5):
        assert not platform.session().login("rv-lockout", "wrong-password-123")
    with pytest.raises(Exception, match="cannot log in"):
        platform.login("rv-lockout")  # the right password, refused during the lock-out
