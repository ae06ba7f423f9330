"""Spawn latency of a partner sandbox through the hub, against a plain `docker run`.

Brings the platform up under its own project (as `make up` does, own subnet and port),
then measures, in the same run:

- hub:      REST request `POST /users/<u>/server` until the hub reports the server ready,
            5 sequential spawns (one partner, stopped in between) and 5 concurrent ones
            (five partners at once);
- baseline: `docker run -d` of the same notebook image running a plain Jupyter server,
            until its `/api/status` answers (5 sequential runs);
- idle memory of each sandbox after the concurrent spawns settle, and how many idle
  sandboxes fit in 24 GiB.

Last line: `ratio=X.XX` = hub p50 / baseline p50 over the sequential spawns, which are
like for like with the sequential baseline runs (goal ≤ 1.5); the concurrent figures are
printed beside it.
"""

from __future__ import annotations

import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from shuyu.platform.layout import Layout
from shuyu.platform.up import UpOptions, down, hub_session, read_demo_accounts, up
from shuyu.settings import PlatformSettings

SETTINGS = PlatformSettings(project="shuyubench", sandbox_subnet="10.215.0.0/24", mem_limit="2G")
PORT = 18100
SEQUENTIAL_USER = "sz-credit"
CONCURRENT_USERS = ["ordos-risk", "hi-underwriter", "pc-actuary", "yb-analyst", "coal-analyst"]
RUNS = 5
GIB = 1024**3


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(q * (len(ordered) - 1)))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def baseline_run(image: str) -> float:
    """A plain `docker run` of the notebook image until its Jupyter server answers."""
    port, token = free_port(), secrets.token_hex(16)
    name = f"shuyubench-baseline-{port}"
    started = time.perf_counter()
    subprocess.run(
        [
            "docker", "run", "-d", "--rm", "--name", name,
            "-p", f"127.0.0.1:{port}:8888", image,
            "jupyter", "server", "--ServerApp.ip=0.0.0.0", "--ServerApp.port=8888",
            f"--IdentityProvider.token={token}",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        while time.perf_counter() - started < 120:
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{port}/api/status",
                    headers={"Authorization": f"token {token}"},
                    timeout=1,
                )
                if answer.status_code == 200:
                    return time.perf_counter() - started
            except requests.RequestException:
                pass
            time.sleep(0.02)
        raise TimeoutError("the baseline server never answered")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def idle_memory(containers: list[str]) -> list[float]:
    out = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", *containers],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    units = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": GIB}
    used = []
    for line in out.splitlines():
        value = line.split("/")[0].strip()
        number = value.rstrip("KMGiB")
        used.append(float(number) * units[value[len(number) :]])
    return used


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:<24} p50 {statistics.median(values):6.2f} s   p95 {percentile(values, 0.95):6.2f} s"
        f"   ({', '.join(f'{v:.2f}' for v in values)})"
    )


def main() -> int:
    layout = Layout(Path(tempfile.mkdtemp(prefix="shuyubench-")))
    down(layout, SETTINGS, volumes=True)
    url = up(
        UpOptions(scale=400, seed=7, http_port=PORT, https_port=PORT + 443),
        say=lambda line: print(f"[platform] {line}", file=sys.stderr),
        layout=layout,
        settings=SETTINGS,
    )
    try:
        accounts = read_demo_accounts(layout)
        admin = hub_session(url, accounts["admin"], layout.tls.ca_cert)
        # users' own sessions, as partners would click "start"; the admin can spawn for
        # them too, but a partner's own request is what the benchmark is about
        sessions = {
            u: hub_session(url, accounts[u], layout.tls.ca_cert)
            for u in [SEQUENTIAL_USER, *CONCURRENT_USERS]
        }

        baseline = [baseline_run(SETTINGS.notebook_image) for _ in range(RUNS)]

        sequential = []
        for _ in range(RUNS):
            sequential.append(
                sessions[SEQUENTIAL_USER].start_server(SEQUENTIAL_USER, "bank_credit")
            )
            sessions[SEQUENTIAL_USER].stop_server(SEQUENTIAL_USER)

        with ThreadPoolExecutor(len(CONCURRENT_USERS)) as pool:
            concurrent = list(pool.map(lambda u: sessions[u].start_server(u), CONCURRENT_USERS))

        time.sleep(20)  # let the servers settle to idle
        containers = [f"{SETTINGS.project}-sbx-{u}" for u in CONCURRENT_USERS]
        memory = idle_memory(containers)
        for user in CONCURRENT_USERS:
            admin.stop_server(user)
    finally:
        down(layout, SETTINGS, volumes=True)

    hub_all = sequential + concurrent
    mean_idle = statistics.mean(memory)
    print(summary("baseline docker run", baseline))
    print(summary("hub sequential", sequential))
    print(summary("hub concurrent (5)", concurrent))
    print(summary("hub all", hub_all))
    print(
        f"idle memory per sandbox   mean {mean_idle / 1024**2:.0f} MiB "
        f"(max {max(memory) / 1024**2:.0f} MiB)"
    )
    print(
        f"idle sandboxes in 24 GiB  {int(24 * GIB // mean_idle)} by idle use; "
        f"{int(24 * GIB // (2 * GIB))} if each may use its 2 GiB limit at once"
    )
    print(f"ratio={statistics.median(sequential) / statistics.median(baseline):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
