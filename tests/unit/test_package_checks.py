"""What the host checks before the index serves a request's files (`check_wheels`),
written as what a partner's request could bring in: an sdist that runs code when it is
installed, a denylisted dependency, a wheel that writes outside its folder, an
oversized one. Wheels the sandbox image has already are not published again."""

from __future__ import annotations

from pathlib import Path

from shuyu.packages.checks import check_wheels, read_image_pins, top_modules
from shuyu.policy.models import PackagePolicy
from tests.wheels import make_sdist, make_wheel

POLICY = PackagePolicy(max_wheel_bytes=1 << 20, max_request_bytes=2 << 20, denylist=["PySocks"])


def test_a_clean_wheel_is_published_with_its_sha256(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "tiny-stats", "1.2.0")
    checked = check_wheels(tmp_path, POLICY, {})
    assert checked.refused == []
    ((path, record),) = checked.publish
    assert path == wheel
    assert record.filename == "tiny_stats-1.2.0-py3-none-any.whl"
    assert len(record.sha256) == 64
    assert record.size == wheel.stat().st_size


def test_an_sdist_is_refused_even_beside_wheels(tmp_path: Path) -> None:
    make_wheel(tmp_path, "tiny-stats", "1.2.0")
    make_sdist(tmp_path, "needs-build", "0.1")
    checked = check_wheels(tmp_path, POLICY, {})
    assert len(checked.refused) == 1
    assert "needs_build-0.1.tar.gz: not a wheel" in checked.refused[0]
    assert "sdist runs code" in checked.refused[0]


def test_a_denylisted_dependency_refuses_the_whole_request(tmp_path: Path) -> None:
    make_wheel(tmp_path, "friendly-http", "1.0", requires=("pysocks",))
    make_wheel(tmp_path, "PySocks", "1.7.1", module="socks")
    checked = check_wheels(tmp_path, POLICY, {})
    assert checked.refused == [
        "PySocks-1.7.1-py3-none-any.whl: pysocks is on the denylist (policies/sandbox.yaml)"
    ]


def test_a_member_that_leaves_the_install_folder_is_refused(tmp_path: Path) -> None:
    make_wheel(tmp_path, "sneaky", "1.0", extra={"../../etc/profile.d/x.sh": b"curl evil"})
    (refusal,) = check_wheels(tmp_path, POLICY, {}).refused
    assert "would be written outside the install folder" in refusal


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fake-1.0-py3-none-any.whl").write_bytes(b"#!/bin/sh\nrm -rf ~\n")
    (refusal,) = check_wheels(tmp_path, POLICY, {}).refused
    assert "not a readable zip" in refusal


def test_sizes_are_capped_per_wheel_and_per_request(tmp_path: Path) -> None:
    make_wheel(tmp_path, "big-model-zoo", "1.0", extra={"zoo/w.bin": b"\x00" * (1 << 20)})
    refused = check_wheels(tmp_path, POLICY, {}).refused
    assert any("over max_wheel_bytes 1048576" in r for r in refused)
    make_wheel(tmp_path, "another", "1.0", extra={"a/w.bin": b"\x01" * (1 << 20)})
    refused = check_wheels(tmp_path, POLICY, {}).refused
    assert any("over max_request_bytes 2097152" in r for r in refused)


def test_wheels_the_image_has_are_neither_published_nor_counted(tmp_path: Path) -> None:
    make_wheel(tmp_path, "tiny-stats", "1.2.0", requires=("numpy",))
    make_wheel(tmp_path, "numpy", "2.3.4", extra={"numpy/w.bin": b"\x00" * (3 << 20)})
    pins = tmp_path.parent / "pins.txt"
    pins.write_text("# lock\nNumPy==2.3.4\npolars==1.0  # build: sdist\n", encoding="utf-8")
    checked = check_wheels(tmp_path, POLICY, read_image_pins(pins))
    assert checked.refused == []
    assert [r.filename for _p, r in checked.publish] == ["tiny_stats-1.2.0-py3-none-any.whl"]
    assert checked.in_image == ["numpy-2.3.4-py3-none-any.whl"]


def test_nothing_downloaded_is_refused(tmp_path: Path) -> None:
    assert check_wheels(tmp_path, POLICY, {}).refused == ["nothing was downloaded"]


def test_a_published_wheel_records_the_modules_it_installs(tmp_path: Path) -> None:
    make_wheel(tmp_path, "scikit-tiny", "0.3", module="sktiny", extra={"sk_ext.py": b""})
    checked = check_wheels(tmp_path, PackagePolicy(), {})
    ((_path, record),) = checked.publish
    assert record.modules == ("sk_ext", "sktiny")  # what `import …` names, not the project
    # a wheel's own top_level.txt is taken when it has one
    assert top_modules(["x/__init__.py", "y.py"], "x\n") == ("x",)
    assert top_modules(["_cext.cpython-311-x86_64-linux-gnu.so", "a-1.0.data/x"]) == ("_cext",)
