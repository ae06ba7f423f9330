"""Stand-ins for the internet and probes run from inside a container.

The tests aim only at things they create: a listener container on a separate, ordinary
Docker network; host listeners on 0.0.0.0; a documentation address (198.51.100.1) on a
local interface. Never a real public address, never the link-local metadata address,
never the machine's gateway.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DOC_ADDRESS = "198.51.100.1"  # TEST-NET-2: reserved for documentation, never routed

# Runs inside the container; prints one JSON result per target.
PROBE = r"""
import json, socket, sys, time
out = []
for t in json.loads(sys.argv[1]):
    kind, host, port = t["kind"], t.get("host"), t.get("port")
    started = time.monotonic()
    try:
        if kind == "tcp":
            s = socket.create_connection((host, port), timeout=t.get("timeout", 5)); s.close()
            res = "connected"
        elif kind == "tcp6":
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM); s.settimeout(t.get("timeout", 5))
            s.connect((host, port, 0, 0)); s.close(); res = "connected"
        elif kind == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(t.get("timeout", 5))
            s.connect((host, port)); s.send(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03org\x00\x00\x01\x00\x01")
            s.recv(512); res = "answered"
        elif kind == "dns":
            socket.getaddrinfo(host, 443); res = "resolved"
        elif kind == "icmp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP); s.settimeout(t.get("timeout", 5))
            s.connect((host, 0)); s.send(b"\x08\x00\xf7\xff\x00\x00\x00\x00"); s.recv(64); res = "answered"
        elif kind == "http":
            import urllib.request
            with urllib.request.urlopen(t["url"], timeout=t.get("timeout", 5)) as r:
                res = f"http {r.status}"
        else:
            res = "unknown probe"
    except Exception as e:
        res = f"failed: {type(e).__name__}: {e}"
    out.append({**t, "result": res, "seconds": round(time.monotonic() - started, 3)})
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Outcome:
    target: dict[str, Any]
    result: str
    seconds: float

    @property
    def failed(self) -> bool:
        return self.result.startswith("failed")


def probe(
    container: str,
    targets: list[dict[str, Any]],
    *,
    user: str | None = None,
    env: dict[str, str] | None = None,
) -> list[Outcome]:
    """Run the probe inside `container` (as its own user unless `user`)."""
    cmd = ["docker", "exec"]
    if user:
        cmd += ["--user", user]
    for key, value in (env or {}).items():
        cmd += ["--env", f"{key}={value}"]
    cmd += [container, "python3", "-c", PROBE, json.dumps(targets)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300)
    return [
        Outcome(r, r.pop("result"), r.pop("seconds"))
        for r in json.loads(done.stdout.strip().splitlines()[-1])
    ]


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def container_ip(name: str, network: str) -> str:
    return docker(
        "inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}', name
    )


@contextlib.contextmanager
def internet_stand_in(image: str) -> Iterator[str]:
    """A listener container (TCP 80/443, UDP 53) on a separate ordinary network; yields
    its address."""
    tag = uuid.uuid4().hex[:8]
    network, name = f"shuyu-test-internet-{tag}", f"shuyu-test-internet-{tag}"
    docker("network", "create", network)
    server = (
        "import socket,threading\n"
        "def tcp(p):\n"
        "  s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
        "  s.bind(('0.0.0.0',p)); s.listen()\n"
        "  while True:\n"
        "    c,_=s.accept(); c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\nhello'); c.close()\n"
        "def udp():\n"
        "  s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('0.0.0.0',53))\n"
        "  while True:\n"
        "    d,a=s.recvfrom(512); s.sendto(d,a)\n"
        "for p in (80,443): threading.Thread(target=tcp,args=(p,),daemon=True).start()\n"
        "udp()\n"
    )
    try:
        docker(
            "run",
            "-d",
            "--name",
            name,
            "--network",
            network,
            "--user",
            "0:0",
            "--entrypoint",
            "python3",
            image,
            "-c",
            server,
        )
        address = container_ip(name, network)
        wait_listening(address, 443)
        yield address
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
        subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"HTTP/1.0 200 OK\r\n\r\nhost listener")


@contextlib.contextmanager
def host_listener(address: str = "0.0.0.0") -> Iterator[int]:
    """A TCP listener on the host; yields its port."""
    server = socketserver.ThreadingTCPServer((address, 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def doc_address_interface() -> Iterator[str]:
    """198.51.100.1 on a local interface: a dummy one where the kernel has the module,
    else a bridge with no ports, which behaves the same for this purpose."""
    name = f"shuyudoc{uuid.uuid4().hex[:4]}"
    made = subprocess.run(
        ["ip", "link", "add", name, "type", "dummy"], capture_output=True, check=False
    )
    if made.returncode != 0:
        subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{DOC_ADDRESS}/32", "dev", name], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield DOC_ADDRESS
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)


def wait_listening(host: str, port: int, timeout: float = 20) -> None:
    """Wait until a stand-in we started accepts connections (from the host)."""
    deadline = time.monotonic() + timeout
    while not reachable_from_host(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host}:{port} did not start listening within {timeout}s")
        time.sleep(0.1)


def reachable_from_host(host: str, port: int) -> bool:
    """Positive control: the stand-in answers when asked from where it is allowed."""
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False
