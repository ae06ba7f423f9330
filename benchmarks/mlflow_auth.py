"""A partner's MLflow logging through shuyu's credential check against MLflow's own.

Two `shuyu mlflow serve` servers (the shuyu-auth app, two uvicorn workers each, SQLite,
127.0.0.1), identical but for basic_auth.ini's `authorization_function`:

- mlflow: `mlflow.server.auth:authenticate_request_basic_auth`, which derives the password
          hash (werkzeug's scrypt) at every call, and MLflow's validators call it again
          within a request;
- shuyu:  `shuyu.tracking.credentials:authenticate_request`, which reads the user's row at
          every call and derives the hash only for a credential it has not yet verified
          against that stored hash.

A partner account (not an administrator, so every permission check runs) with EDIT on one
experiment does what a training run logs: create the run, `BENCH_PARAMS` parameters,
`BENCH_METRICS` metric calls, read the run back, finish it; `BENCH_RUNS` runs on one
keep-alive session, as MLflow's client makes them. Best of `BENCH_ROUNDS` interleaved
rounds. Every request must succeed.

Last line: `ratio=X.XX` = shuyu's time / MLflow's (goal ≤ 1.0).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from shuyu.secrets import (
    APPROVAL_KEY,
    HUB_MLFLOW_ADMIN_PASSWORD,
    MLFLOW_ADMIN_PASSWORD,
    MLFLOW_GATE_PASSWORD,
)
from shuyu.settings import PlatformSettings
from shuyu.tracking.admin_client import ADMIN_USERNAME, MlflowAccounts, Permission

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
PARAMS = int(os.environ.get("BENCH_PARAMS", "5"))
METRICS = int(os.environ.get("BENCH_METRICS", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
MLFLOW_FUNCTION = "mlflow.server.auth:authenticate_request_basic_auth"
API = "/api/2.0/mlflow"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def config_dir(root: Path, function: str | None) -> Path:
    """The repository's mlflow/ folder, with `function` as the authorization function."""
    target = root / "config"
    shutil.copytree(REPO / "mlflow", target)
    if function is not None:
        ini = target / "basic_auth.ini"
        lines = [
            f"authorization_function = {function}"
            if line.startswith("authorization_function")
            else line
            for line in ini.read_text(encoding="utf-8").splitlines()
        ]
        ini.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


@contextlib.contextmanager
def server(root: Path, function: str | None) -> Iterator[tuple[str, str]]:
    """(URL, admin password) of a running server; stopped afterwards."""
    secret_dir = root / "secrets"
    secret_dir.mkdir(parents=True, mode=0o700)
    admin = secrets.token_urlsafe(24)
    for name, value in (
        (MLFLOW_ADMIN_PASSWORD, admin),
        (HUB_MLFLOW_ADMIN_PASSWORD, admin),
        (MLFLOW_GATE_PASSWORD, secrets.token_urlsafe(24)),
        (APPROVAL_KEY, secrets.token_hex(24)),
    ):
        (secret_dir / name).write_text(value + "\n", encoding="utf-8")
        (secret_dir / name).chmod(0o600)
    port = free_port()
    settings = PlatformSettings(sandbox_subnet="127.0.0.0/24", mlflow_port=port)
    env = {
        **os.environ,
        **settings.to_env(),
        "SHUYU_MLFLOW_CONFIG_DIR": str(config_dir(root, function)),
        "SHUYU_SECRETS_DIR": str(secret_dir),
        "SHUYU_DB_URL": f"sqlite:///{root / 'platform.db'}",
        "NO_PROXY": "*",
    }
    env.pop("SHUYU_MLFLOW_BACKEND_URI", None)
    command = [sys.executable, "-m", "shuyu.cli.main", "mlflow", "serve"]
    command += ["--host", HOST, "--port", str(port), "--state-dir", str(root / "srv")]
    command += ["--user", "", "--workers", "2"]
    with (root / "server.log").open("wb") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (root / "server.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"mlflow serve did not come up:\n{tail}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.5)
        yield url, admin
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def call(session: requests.Session, method: str, url: str, **kw: object) -> dict[str, object]:
    answer = session.request(method, url, timeout=60, **kw)  # type: ignore[arg-type]
    if answer.status_code != 200:
        raise SystemExit(f"{method} {url}: {answer.status_code} {answer.text[:300]}")
    found: dict[str, object] = answer.json() if answer.content else {}
    return found


def partner(url: str, admin: str) -> tuple[tuple[str, str], str]:
    """A partner account with EDIT on an experiment of its own: (auth, experiment id)."""
    password = secrets.token_urlsafe(32)
    with MlflowAccounts(url, ADMIN_USERNAME, admin) as accounts:
        accounts.ensure_user("bench-partner", password)
        experiment = accounts.ensure_experiment("shuyu/bank_credit/bench")
        accounts.grant("bench-partner", experiment, Permission.EDIT)
    return ("bench-partner", password), experiment


def workload(url: str, auth: tuple[str, str], experiment: str) -> tuple[int, float]:
    """(requests, seconds) of `RUNS` logged runs."""
    made = 0
    started = time.perf_counter()
    with requests.Session() as session:
        session.auth = auth
        for number in range(RUNS):
            run = call(
                session,
                "POST",
                f"{url}{API}/runs/create",
                json={"experiment_id": experiment, "start_time": int(time.time() * 1000)},
            )
            run_id = str(run["run"]["info"]["run_id"])  # type: ignore[index]
            for p in range(PARAMS):
                call(
                    session,
                    "POST",
                    f"{url}{API}/runs/log-parameter",
                    json={"run_id": run_id, "key": f"p{p}", "value": str(number)},
                )
            for m in range(METRICS):
                call(
                    session,
                    "POST",
                    f"{url}{API}/runs/log-metric",
                    json={
                        "run_id": run_id,
                        "key": "train_loss",
                        "value": 1.0 / (m + 1),
                        "timestamp": int(time.time() * 1000),
                        "step": m,
                    },
                )
            call(session, "GET", f"{url}{API}/runs/get", params={"run_id": run_id})
            call(
                session,
                "POST",
                f"{url}{API}/runs/update",
                json={"run_id": run_id, "status": "FINISHED"},
            )
            made += PARAMS + METRICS + 3
    return made, time.perf_counter() - started


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="bench-mlflow-auth.") as tmp,
        contextlib.ExitStack() as stack,
    ):
        servers = {}
        for name, function in (("mlflow", MLFLOW_FUNCTION), ("shuyu", None)):
            url, admin = stack.enter_context(server(Path(tmp) / name, function))
            servers[name] = (url, *partner(url, admin))
            print(f"{name}: serving at {url}", flush=True)
        best: dict[str, float] = {}
        for round_number in range(1, ROUNDS + 1):
            for name, (url, auth, experiment) in servers.items():
                count, seconds = workload(url, auth, experiment)
                best[name] = min(best.get(name, seconds), seconds)
                print(
                    f"round {round_number} {name}: {count} requests in {seconds:.2f} s "
                    f"({count / seconds:.1f}/s)",
                    flush=True,
                )
        for name, seconds in best.items():
            print(f"best {name}: {seconds:.2f} s")
        print(f"ratio={best['shuyu'] / best['mlflow']:.2f}")


if __name__ == "__main__":
    main()
