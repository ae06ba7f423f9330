"""`pip` in a sandbox (`shuyu.sandbox.pip_guide`): real pip, against a local folder of
wheels standing in for the in-domain index. An install goes to the workspace's prefix
(a venv refuses `--user`), a package the index does not have ends with one sentence
naming the packages page, and a wheel-less package is refused like an unapproved one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shuyu.sandbox.pip_guide import PAGE, pip_args, run_pip
from tests.wheels import make_sdist, make_wheel


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # pip's own configuration on this machine is not the sandbox's
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    return tmp_path / "home"


def _pip(*args: str) -> tuple[int, str]:
    lines: list[str] = []
    code = run_pip(list(args), lines.append)
    return code, "".join(lines)


def test_an_install_goes_to_the_workspace_with_or_without_user(home: Path) -> None:
    prefix = str(home / ".local")
    assert pip_args(["install", "--user", "xgboost"]) == ["install", "--prefix", prefix, "xgboost"]
    assert pip_args(["-q", "install", "x"]) == ["-q", "install", "--prefix", prefix, "x"]
    assert pip_args(["install", "--target=/tmp/t", "x"]) == ["install", "--target=/tmp/t", "x"]
    assert pip_args(["list", "--user"]) == ["list", "--user"]


def test_an_approved_package_installs_into_the_workspace_and_imports(
    home: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    make_wheel(index, "tiny-stats", "1.2.0")
    code, out = _pip("install", "--user", "--no-index", "--find-links", str(index), "tiny-stats")
    assert code == 0, out
    site = home / ".local" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    imported = subprocess.run(
        [sys.executable, "-c", "import tiny_stats; print(tiny_stats.VERSION)"],
        env={**os.environ, "PYTHONPATH": str(site / "site-packages")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert imported.stdout.strip() == "1.2.0", imported.stderr


def test_a_package_the_index_lacks_ends_with_where_to_ask(home: Path, tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    code, out = _pip(
        "install", "--user", "--no-index", "--find-links", str(tmp_path / "index"), "xgboost"
    )
    assert code != 0
    assert "No matching distribution found for xgboost" in out
    assert out.rstrip().splitlines()[-2:] == [
        f"shuyu: xgboost 不在平台已批准的软件包中（或没有适用于本沙箱的 wheel）。"
        f"请在平台的软件包页面申请：{PAGE}",
        f"shuyu: xgboost is not approved (or has no wheel for this sandbox); "
        f"request it on the packages page: {PAGE}",
    ]


def test_a_package_with_an_sdist_only_is_refused_like_an_unapproved_one(
    home: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    make_sdist(index, "needs-build", "0.1")
    code, out = _pip(
        "install", "--only-binary=:all:", "--no-index", "--find-links", str(index), "needs-build"
    )
    assert code != 0
    assert "request it on the packages page" in out
    assert not (home / ".local").exists()  # nothing was built, nothing installed


def test_a_coloured_refusal_is_read_too(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel sets FORCE_COLOR for its children: pip's error comes wrapped in colours."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    (tmp_path / "index").mkdir()
    code, out = _pip("install", "--no-index", "--find-links", str(tmp_path / "index"), "xgboost")
    assert code != 0
    assert "\x1b[" in out
    assert (
        f"shuyu: xgboost is not approved (or has no wheel for this sandbox); request it on the packages page: {PAGE}"
        in out
    )
