"""`shuyu images lock IMAGE`: write an image's lock file (exact pins) from pyproject.

pip resolves the image's extra of shuyu (and the core dependencies) for the images'
target — CPython 3.11.2 on manylinux x86_64, wheels only — without installing anything
(`--dry-run --report`), and the resolved set is written as `name==version` lines. A pin
the resolver could only satisfy with an sdist must be added by hand with the
`# build: sdist` mark (shuyu.images.wheelhouse builds those on the host).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_text
from shuyu.images.wheelhouse import target_args

REPO = Path(__file__).resolve().parents[2]

HEADER = (
    "# Exact pins for the {image} image, installed offline from the host wheelhouse\n"
    "# (shuyu images build: pip download --only-binary=:all: for CPython 3.11.2, then\n"
    "# docker build --network none). Written by `shuyu images lock {image}`.\n"
)


def requirements_of(extras: list[str]) -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    return wanted


def resolve(requirements: list[str], *, base_lock: Path | None = None) -> list[str]:
    """The resolved pins; with `base_lock`, resolved at that lock's versions where they
    meet, and without the pins that lock already holds."""
    exclude: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="shuyu-lock.") as tmp:
        report = Path(tmp) / "report.json"
        constraints: list[str] = []
        if base_lock is not None:
            pins = [
                line.split("#", 1)[0].strip()
                for line in base_lock.read_text(encoding="utf-8").splitlines()
            ]
            pins = [pin for pin in pins if pin]
            exclude = {pin.split("==", 1)[0].lower().replace("_", "-") for pin in pins}
            (Path(tmp) / "constraints.txt").write_text("\n".join(pins) + "\n", encoding="utf-8")
            constraints = ["-c", str(Path(tmp) / "constraints.txt")]
        done = subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                "--quiet", "--report", str(report), "--target", str(Path(tmp) / "t"),
                *target_args(), *constraints, *requirements,
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise ShuyuError("pip could not resolve the lock: " + " | ".join(tail))
        installed = json.loads(report.read_text(encoding="utf-8"))["install"]
    resolved = {
        str(item["metadata"]["name"]).lower().replace("_", "-"): str(item["metadata"]["version"])
        for item in installed
    }
    return [f"{n}=={v}" for n, v in sorted(resolved.items()) if n not in exclude]


def write_lock(image: str, extras: list[str], *, on_top_of: str | None = None) -> Path:
    """Lock `image` (images/<image>/requirements.txt); with `on_top_of`, only what that
    image (its base) does not already hold, at its versions."""
    base = REPO / "images" / on_top_of / "requirements.txt" if on_top_of else None
    pins = resolve(requirements_of(extras), base_lock=base)
    target = REPO / "images" / image / "requirements.txt"
    atomic_write_text(target, HEADER.format(image=image) + "\n".join(pins) + "\n")
    return target
