"""The in-domain index (`shuyu.packages.index_server`): real pypiserver on loopback over
a folder of wheels. It lists what is published with each file's sha256, knows nothing
else (no fallback to a public index: an unknown name is a 404, never a redirect out of
the domain) and takes no upload, whatever the folder's mode."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIServer, make_server

import pytest
import requests

from shuyu.packages.index_server import index_app
from shuyu.packages.sets import SETS
from tests.wheels import make_wheel


@pytest.fixture
def index(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "packages"
    make_wheel(root, "tiny-stats", "1.2.0")
    server: WSGIServer = make_server("127.0.0.1", 0, index_app(root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", root
    finally:
        server.shutdown()


def test_the_index_lists_a_published_wheel_with_its_sha256(index: tuple[str, Path]) -> None:
    url, root = index
    (wheel,) = root.iterdir()
    page = requests.get(f"{url}/simple/tiny-stats/", timeout=10)
    assert page.status_code == 200
    assert f"{wheel.name}#sha256={hashlib.sha256(wheel.read_bytes()).hexdigest()}" in page.text
    # a wheel published later is there at once
    make_wheel(root, "tiny-stats", "1.3.0")
    assert "tiny_stats-1.3.0" in requests.get(f"{url}/simple/tiny-stats/", timeout=10).text


def test_an_unknown_package_is_not_found_and_never_sent_elsewhere(index: tuple[str, Path]) -> None:
    url, _root = index
    answer = requests.get(f"{url}/simple/xgboost/", timeout=10, allow_redirects=False)
    assert answer.status_code == 404
    assert "location" not in answer.headers


def test_nobody_uploads_to_the_index(index: tuple[str, Path], tmp_path: Path) -> None:
    url, root = index
    wheel = make_wheel(tmp_path / "mine", "backdoor", "1.0")
    for method in ("POST", "PUT", "DELETE"):
        answer = requests.request(
            method,
            f"{url}/",
            data={":action": "file_upload", "name": "backdoor", "version": "1.0"},
            files={"content": (wheel.name, wheel.read_bytes())},
            timeout=10,
        )
        assert answer.status_code == 405, method
        assert "read-only" in answer.text
    assert sorted(p.name for p in root.iterdir()) == ["tiny_stats-1.2.0-py3-none-any.whl"]


def test_a_scenario_set_is_served_under_its_token_only(index: tuple[str, Path]) -> None:
    url, root = index
    token = "0123456789abcdef0123456789abcdef"
    wheel = make_wheel(root / SETS / token, "bank-only", "0.1")
    page = requests.get(f"{url}/{token}/simple/bank-only/", timeout=10)
    assert page.status_code == 200
    (link,) = [part.split('"')[0] for part in page.text.split('href="')[1:]]
    # the link resolves under the set's own path, and the wheel downloads from it
    download = requests.get(requests.compat.urljoin(page.url, link), timeout=10)
    assert download.status_code == 200
    assert download.content == wheel.read_bytes()
    # the set every sandbox sees does not list it, nor serve its file
    assert requests.get(f"{url}/simple/bank-only/", timeout=10).status_code == 404
    assert requests.get(f"{url}/packages/{wheel.name}", timeout=10).status_code == 404
    # and the scenario's set does not see the top set's packages
    assert requests.get(f"{url}/{token}/simple/tiny-stats/", timeout=10).status_code == 404


def test_a_token_nobody_was_given_serves_nothing(index: tuple[str, Path]) -> None:
    url, root = index
    make_wheel(root / SETS / ("a" * 32), "bank-only", "0.1")
    for path in (f"{'b' * 32}/simple/", f"{'b' * 32}/simple/bank-only/", ".sets/", "..%2f"):
        answer = requests.get(f"{url}/{path}", timeout=10, allow_redirects=False)
        assert answer.status_code == 404, path
        assert "bank" not in answer.text
