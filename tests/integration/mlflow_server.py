"""A real MLflow tracking server with shuyu's auth app, on a loopback address.

Started through `shuyu mlflow serve` (non-root mode: `--user ""`) with a temporary SQLite
database, artifact directory and secrets, then bootstrapped from the repository's
policies with `shuyu mlflow bootstrap`. It listens on 127.0.0.3, which is what
`PlatformSettings(sandbox_subnet="127.0.0.0/24").mlflow_ip` computes, so that the
server's Host-header protection is exercised with the address sandboxes use.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from shuyu.settings import PlatformSettings

HOST = "127.0.0.3"
REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 240.0


@dataclass(frozen=True)
class MlflowServer:
    url: str
    settings: PlatformSettings
    admin_password: str
    gate_password: str
    approval_key: str
    secrets_dir: Path
    log: Path

    def audit_lines(self) -> list[str]:
        return [
            line
            for line in self.log.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.startswith("shuyu.audit ")
        ]


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _shuyu(*args: str) -> list[str]:
    return [sys.executable, "-m", "shuyu.cli.main", *args]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    root = tmp_path_factory.mktemp("mlflow")
    secrets = root / "secrets"
    secrets.mkdir(mode=0o700)
    admin_password = "adm-" + os.urandom(12).hex()
    gate_password = "gate-" + os.urandom(12).hex()
    approval_key = os.urandom(24).hex()
    for name, value in (
        ("admin_password", admin_password),
        ("gate_password", gate_password),
        ("approval_key", approval_key),
        ("mlflow_admin_password", admin_password),  # the hub's copy
    ):
        (secrets / name).write_text(value + "\n", encoding="utf-8")
        (secrets / name).chmod(0o600)
    port = _free_port(HOST)
    settings = PlatformSettings(sandbox_subnet="127.0.0.0/24", mlflow_port=port)
    assert settings.mlflow_ip == HOST
    env = {
        **os.environ,
        **settings.to_env(),
        "SHUYU_MLFLOW_CONFIG_DIR": str(REPO / "mlflow"),
        "SHUYU_SECRETS_DIR": str(secrets),
        "NO_PROXY": "*",
    }
    env.pop("SHUYU_MLFLOW_BACKEND_URI", None)
    log = root / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            _shuyu(
                "mlflow",
                "serve",
                "--host",
                HOST,
                "--port",
                str(port),
                "--state-dir",
                str(root / "srv"),
                "--user",
                "",
                "--workers",
                "2",
            ),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its uvicorn workers go with it at teardown
        )
    url = settings.mlflow_url
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow server not up after {STARTUP_TIMEOUT}s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        done = subprocess.run(
            _shuyu("mlflow", "bootstrap", "--url", url, "--state-dir", str(root / "srv")),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        yield MlflowServer(url, settings, admin_password, gate_password, approval_key, secrets, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
