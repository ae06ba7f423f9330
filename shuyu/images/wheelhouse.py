"""The host wheelhouse: every wheel an image needs, downloaded for the image's Python.

`pip download` runs on the host (the only place with an index) for CPython 3.11.2, the
Python of Debian bookworm, with binary wheels only, so that `docker build --network none`
can install everything with `--no-index`. The wheelhouse is cached under the hash of the
requirements file and of the target, so an unchanged file is never downloaded twice.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from shuyu.errors import InputError, ShuyuError
from shuyu.fsutil import staged_directory
from shuyu.images.cache import cache_root, digest
from shuyu.images.commands import run

PYTHON_VERSION = "3.11.2"
"""Debian bookworm's python3: wheels needing a newer 3.11 are refused at download time."""
GLIBC_MINOR = 36
"""Bookworm's glibc is 2.36: every manylinux tag up to it runs there."""
SDIST_MARK = re.compile(r"#\s*build:\s*sdist\b")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")


def platforms() -> list[str]:
    legacy = ["manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64"]
    return legacy + [f"manylinux_2_{minor}_x86_64" for minor in range(5, GLIBC_MINOR + 1)]


def target_args() -> list[str]:
    args = [
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--abi",
        "cp311",
    ]
    for platform in platforms():
        args += ["--platform", platform]
    return args


def read_pins(requirements: Path) -> tuple[list[str], list[str]]:
    """(pins to download as wheels, pins to build from sdists); every line an exact pin."""
    wheels: list[str] = []
    sdists: list[str] = []
    for number, raw in enumerate(requirements.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not PIN.match(line):
            raise InputError(
                f"{requirements}:{number}",
                "every requirement must be an exact pin `name==version`",
                value=line,
                hint="pin it (images are built offline from exactly these versions)",
            )
        (sdists if SDIST_MARK.search(raw) else wheels).append(line)
    return wheels, sdists


def wheelhouse(requirements: Path, say: Callable[[str], None]) -> Path:
    """The cached wheelhouse for `requirements`, downloaded when missing."""
    key = digest(
        [
            ("requirements", requirements.read_bytes()),
            ("target", " ".join(target_args()).encode()),
        ]
    )
    target = cache_root() / "wheels" / key
    if target.is_dir():
        say(f"wheelhouse {requirements.parent.name}: cached ({key[:12]})")
        return target
    wheels, sdists = read_pins(requirements)
    say(f"wheelhouse {requirements.parent.name}: downloading {len(wheels)} wheels …")
    pip = [sys.executable, "-m", "pip"]
    with staged_directory(target) as staging:
        for pin in sdists:
            run(
                [*pip, "wheel", "--no-deps", "--no-binary=:all:", "-w", str(staging), pin],
                what=f"pip wheel {pin}",
            )
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as pins:
            pins.write("\n".join(wheels) + "\n")
            pins.flush()
            # --no-deps: the file is the complete lock; an incomplete one fails at the
            # offline install, not by a silent extra download
            run(
                [
                    *pip,
                    "download",
                    "--no-deps",
                    "--dest",
                    str(staging),
                    *target_args(),
                    "-r",
                    pins.name,
                ],
                what=f"pip download for {requirements}",
            )
    return target


def shuyu_wheel(source: Path, out_dir: Path) -> Path:
    """Build the shuyu wheel from a clean copy of the package (no stray build files)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="shuyu-src.") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            if (source / name).exists():
                shutil.copy2(source / name, src / name)
        shutil.copytree(
            source / "shuyu",
            src / "shuyu",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
        )
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out_dir), str(src)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-3:]
            raise ShuyuError(f"building the shuyu wheel failed: {' | '.join(tail)}")
    found = sorted(out_dir.glob("shuyu-*.whl"))
    if len(found) != 1:
        raise ShuyuError(f"expected one shuyu wheel in {out_dir}, found {len(found)}")
    return found[0]


def wheel_content_digest(wheel: Path) -> str:
    """Hash of a wheel's members (names and bytes), not of the zip: rebuilding the same
    code gives new timestamps but the same digest."""
    with zipfile.ZipFile(wheel) as archive:
        return digest((name, archive.read(name)) for name in sorted(archive.namelist()))
