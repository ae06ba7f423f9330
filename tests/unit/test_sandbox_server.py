"""A real Jupyter Server configured as a sandbox's: bulk export through its API is refused.

What the partner would script (`GET /api/contents/<file>?format=base64&content=1` after
copying the view into the workspace, repeated fetches of kernel output) is tried against
a `jupyter server` process with shuyu's authorizer, contents manager and server
extension, and against a control server with Jupyter's defaults that answers the same
requests — so a 403 here is shuyu's doing, not a broken request.
"""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from shuyu.policy.models import SandboxPolicy
from shuyu.sandbox.limits import SandboxLimits
from tests.jupyter_status import answers

pytestmark = pytest.mark.slow  # real servers start (a few seconds each)

LIMITS = SandboxLimits.from_policy(
    SandboxPolicy(text_max_bytes=4096, upload_max_bytes=4096, egress_bytes_per_hour=1 << 20)
)
PARQUET_MAGIC = b"PAR1" + os.urandom(64) + b"PAR1"


@dataclass
class Server:
    url: str
    http: requests.Session
    log: Path
    proc: subprocess.Popen[bytes]

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.url}{path}", timeout=10, allow_redirects=False)

    def put(self, path: str, model: dict[str, object]) -> requests.Response:
        return self.http.put(f"{self.url}/api/contents/{path}", json=model, timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(root: Path, *, shuyu: bool, limits: SandboxLimits = LIMITS) -> Iterator[Server]:
    (root / "x.csv").write_text("id,amount\n1,10\n", encoding="utf-8")
    (root / "copied-view.parquet").write_bytes(PARQUET_MAGIC)
    (root / "disguised.txt").write_bytes(PARQUET_MAGIC)
    (root / "big.csv").write_text("id,amount\n" + "1,10\n" * 2000, encoding="utf-8")
    home = root.parent / f"{root.name}-home"
    home.mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    log = root.parent / f"{root.name}.log"
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_CONFIG_PATH": str(home / "config"),
        **(limits.to_env() if shuyu else {}),
    }
    args = [
        sys.executable, "-m", "jupyter_server",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", "--ServerApp.open_browser=False",
        "--ServerApp.allow_root=True",  # CI runs the tests as root
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
    ]  # fmt: skip
    if shuyu:
        args += [
            "--ServerApp.authorizer_class=shuyu.sandbox.authorizer.DownloadDenyingAuthorizer",
            "--ServerApp.contents_manager_class=shuyu.sandbox.contents.SandboxContentsManager",
            "--ServerApp.jpserver_extensions=shuyu.sandbox.server_extension=True",
        ]
    with log.open("w") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    http = requests.Session()
    http.headers["Authorization"] = f"token {token}"
    server = Server(f"http://127.0.0.1:{port}", http, log, proc)
    try:
        if not answers(
            lambda: server.get("/api/status"), seconds=30, alive=lambda: proc.poll() is None
        ):
            pytest.fail(f"jupyter server did not start:\n{log.read_text()}")
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(tmp_path_factory.mktemp("sandbox"), shuyu=True)


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(tmp_path_factory.mktemp("control"), shuyu=False)


BULK_READS = [
    "/api/contents/copied-view.parquet?type=file&format=base64&content=1",
    "/api/contents/copied-view.parquet?content=1",
    "/api/contents/disguised.txt?type=file&format=base64&content=1",
    "/api/contents/x.csv?type=file&format=base64&content=1",
]


@pytest.mark.parametrize("path", BULK_READS)
def test_the_contents_api_serves_no_file_bytes_to_a_script(
    sandbox: Server, control: Server, path: str
) -> None:
    assert control.get(path).status_code == 200  # what Jupyter itself would hand out
    assert sandbox.get(path).status_code == 403


def test_a_binary_file_renamed_to_text_is_not_served_as_text(sandbox: Server) -> None:
    answer = sandbox.get("/api/contents/disguised.txt?type=file&format=text&content=1")
    assert answer.status_code == 403


def test_text_over_the_editor_limit_is_not_served(sandbox: Server, control: Server) -> None:
    path = "/api/contents/big.csv?type=file&format=text&content=1"
    assert control.get(path).status_code == 200
    refused = sandbox.get(path)
    assert refused.status_code == 403
    assert "too large" in refused.text


def test_what_a_person_reads_in_the_editor_is_still_served(sandbox: Server) -> None:
    answer = sandbox.get("/api/contents/x.csv?type=file&format=text&content=1")
    assert answer.status_code == 200
    assert answer.json()["content"] == "id,amount\n1,10\n"
    listing = {i["name"] for i in sandbox.get("/api/contents/").json()["content"]}
    assert {"x.csv", "copied-view.parquet"} <= listing  # metadata is not content


def _file(data: bytes, **extra: object) -> dict[str, object]:
    return {
        "type": "file",
        "format": "base64",
        "content": base64.b64encode(data).decode(),
        **extra,
    }


def test_small_code_uploads_work(sandbox: Server) -> None:
    assert sandbox.put("helper.py", _file(b"print('hi')\n")).status_code in (200, 201)


def test_data_files_and_large_uploads_go_through_the_airlock(sandbox: Server) -> None:
    refused = sandbox.put("bank-labels.parquet", _file(PARQUET_MAGIC))
    assert refused.status_code == 403
    assert "airlock" in refused.text
    assert sandbox.put("big.py", _file(b"#" * 8000)).status_code == 403


def test_a_chunked_upload_cannot_add_up_past_the_limit(sandbox: Server, tmp_path: Path) -> None:
    first = sandbox.put("chunks.py", _file(b"#" * 3000, chunk=1))
    assert first.status_code in (200, 201)
    second = sandbox.put("chunks.py", _file(b"#" * 3000, chunk=-1))
    assert second.status_code == 403
    assert sandbox.get("/api/contents/chunks.py").status_code == 404  # nothing half-kept


def test_a_refusal_is_reported_for_the_audit_log(sandbox: Server) -> None:
    sandbox.get(BULK_READS[0])
    assert '"action": "sandbox.download"' in sandbox.log.read_text()


@pytest.fixture
def small_budget(tmp_path: Path) -> Iterator[Server]:
    limits = SandboxLimits.from_policy(
        SandboxPolicy(text_max_bytes=1 << 20, egress_bytes_per_hour=1 << 20)
    )
    (tmp_path / "budget").mkdir()
    yield from _start(tmp_path / "budget", shuyu=True, limits=limits)


def test_bytes_to_the_browser_are_cut_at_the_hourly_budget(small_budget: Server) -> None:
    root = Path(small_budget.log.parent / "budget")
    (root / "page.csv").write_text("x" * 300_000, encoding="utf-8")  # one editor page
    served = 0
    for _ in range(10):
        try:
            answer = small_budget.get("/api/contents/page.csv?type=file&format=text&content=1")
        except requests.RequestException:
            break  # the session was cut
        if answer.status_code != 200:
            break
        served += len(answer.content)
    assert 0 < served <= 1 << 20  # some pages went out, never more than the budget
    with pytest.raises(requests.RequestException):
        small_budget.get("/api/status")
    assert "cut" in small_budget.log.read_text()
