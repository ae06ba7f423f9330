"""Browser downloads are refused by a real Jupyter Server running shuyu's authorizer.

Each server is a `jupyter server` process on loopback with token auth. A control server
with Jupyter's default authorizer serves the same requests, so a 403 here is the
authorizer's doing and not a broken request.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.jupyter_status import answers

pytestmark = pytest.mark.slow  # two real servers start (a few seconds each)

SHUYU_AUTHORIZER = "shuyu.sandbox.authorizer.DownloadDenyingAuthorizer"
DEFAULT_AUTHORIZER = "jupyter_server.auth.authorizer.AllowAllAuthorizer"
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "source": "1 + 1",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@dataclass
class Server:
    url: str
    http: requests.Session
    log: Path

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.url}{path}", timeout=10, allow_redirects=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(root: Path, authorizer: str) -> Iterator[Server]:
    (root / "x.csv").write_text("id,amount\n1,10\n", encoding="utf-8")
    (root / "n.ipynb").write_text(json.dumps(NOTEBOOK), encoding="utf-8")
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
    }
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter_server",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0", "--ServerApp.open_browser=False",
                "--ServerApp.allow_root=True",  # CI runs the tests as root
                f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
                f"--ServerApp.authorizer_class={authorizer}",
            ],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    http = requests.Session()
    http.headers["Authorization"] = f"token {token}"
    server = Server(f"http://127.0.0.1:{port}", http, log)
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
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(tmp_path_factory.mktemp("guarded"), SHUYU_AUTHORIZER)


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _start(tmp_path_factory.mktemp("control"), DEFAULT_AUTHORIZER)


DOWNLOADS = [
    "/files/x.csv",
    "/files/x.csv?download=1",
    "/files/n.ipynb",
    "/api/contents/x.csv?download=1",
    "/api/contents/x.csv?content=1&download=true",
]


@pytest.mark.parametrize("path", DOWNLOADS)
def test_a_download_is_refused(guarded: Server, path: str) -> None:
    assert guarded.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/files/x.csv", "/files/x.csv?download=1"])
def test_the_same_download_works_without_the_authorizer(control: Server, path: str) -> None:
    answer = control.get(path)
    assert answer.status_code == 200
    assert "1,10" in answer.text


def test_head_on_files_is_refused_too(guarded: Server) -> None:
    assert guarded.http.head(f"{guarded.url}/files/x.csv", timeout=10).status_code == 403


@pytest.mark.parametrize(
    "path", ["/nbconvert/html/n.ipynb", "/nbconvert/html/n.ipynb?download=true", "/api/nbconvert"]
)
def test_export_through_nbconvert_is_refused(guarded: Server, path: str) -> None:
    assert guarded.get(path).status_code == 403


def test_nbconvert_answers_without_the_authorizer(control: Server) -> None:
    # the export list: proves the route exists, so the 403 above is the authorizer's
    assert control.get("/api/nbconvert").status_code == 200


def test_opening_a_file_in_the_editor_works(guarded: Server) -> None:
    answer = guarded.get("/api/contents/x.csv?type=file&format=text&content=1")
    assert answer.status_code == 200
    assert answer.json()["content"] == "id,amount\n1,10\n"


def test_listing_the_workspace_works(guarded: Server) -> None:
    names = {item["name"] for item in guarded.get("/api/contents/").json()["content"]}
    assert {"x.csv", "n.ipynb"} <= names


def test_saving_a_notebook_works(guarded: Server) -> None:
    edited = {**NOTEBOOK, "cells": [{**NOTEBOOK["cells"][0], "source": "2 + 2"}]}  # type: ignore[dict-item]
    saved = guarded.http.put(
        f"{guarded.url}/api/contents/n.ipynb",
        json={"type": "notebook", "format": "json", "content": edited},
        timeout=10,
    )
    assert saved.status_code == 200
    reread = guarded.get("/api/contents/n.ipynb?content=1").json()
    assert reread["content"]["cells"][0]["source"] == "2 + 2"


def test_refusals_are_logged(guarded: Server) -> None:
    guarded.get("/files/x.csv")
    deadline = time.monotonic() + 5
    while "shuyu: refused GET /files/x.csv" not in guarded.log.read_text():
        assert time.monotonic() < deadline, guarded.log.read_text()
        time.sleep(0.1)
