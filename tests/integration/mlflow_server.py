"""A real MLflow tracking server with shuyu's auth app, on a loopback address, in the two
deployments the platform supports — the tests that use it run against each:

* `sqlite-local`: a SQLite tracking database and a local artifact folder (`make up`);
* `postgresql-s3`: PostgreSQL (the server `.ci/run` starts; a fresh database per run)
  and artifacts in an S3-compatible store (SeaweedFS, `object_store.py`), as a site
  beyond one machine runs it.

Started through `shuyu mlflow serve` (non-root mode: `--user ""`) with temporary
secrets, then bootstrapped from the repository's policies with `shuyu mlflow bootstrap`. It listens on 127.0.0.3, which is what
`PlatformSettings(sandbox_subnet="127.0.0.0/24").mlflow_ip` computes, so that the
server's Host-header protection is exercised with the address sandboxes use.
"""

from __future__ import annotations

import contextlib
import os
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
from tests.database_urls import postgres_base_url, postgres_database
from tests.integration.object_store import running_object_store
from tests.integration.processes import stop_process_group

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
    artifacts: str  # the artifact store: a folder, or s3://bucket/prefix
    store_env: dict[str, str]  # what a client of that store needs (S3 endpoint, keys)
    backend: str  # the tracking database's URI; empty: SQLite in the state folder

    @property
    def server_env(self) -> dict[str, str]:
        """What the server's own process reads for its stores: a tool that runs beside
        it (an exit's purge) needs the same."""
        found = {"SHUYU_MLFLOW_ARTIFACTS_DESTINATION": self.artifacts, **self.store_env}
        return {**found, "SHUYU_MLFLOW_BACKEND_URI": self.backend} if self.backend else found

    @property
    def state_dir(self) -> Path:
        """The server's state folder (`--state-dir`): its database and artifact store."""
        return self.log.parent / "srv"

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


@contextlib.contextmanager
def _stores(kind: str, root: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(backend URI, artifact destination, the store's client env) for `kind`."""
    if kind == "sqlite-local":
        yield "", "", {}
        return
    base = postgres_base_url()
    (root / "s3").mkdir()
    with postgres_database(base) as url, running_object_store(root / "s3") as store:
        yield url, f"s3://{store.bucket}/artifacts", store.env()


@pytest.fixture(scope="session", params=["sqlite-local", "postgresql-s3"])
def mlflow_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MlflowServer]:
    root = tmp_path_factory.mktemp("mlflow")
    with _stores(request.param, root) as (backend, artifacts, store_env):
        yield from _serve(root, backend, artifacts, store_env)


def _serve(
    root: Path, backend: str, artifacts: str, store_env: dict[str, str]
) -> Iterator[MlflowServer]:
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
    server = MlflowServer(
        settings.mlflow_url, settings, admin_password, gate_password, approval_key, secrets,
        root / "server.log", artifacts or str(root / "srv" / "artifacts"), store_env, backend,
    )  # fmt: skip
    env.update(server.server_env)
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
        yield server
    finally:
        stop_process_group(proc)
