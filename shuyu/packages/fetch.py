"""`shuyu packages fetch` on the host: the approved requests' wheels downloaded, checked
and published to the index's volume.

The host is the one place with a registry; the download is pip's, for the sandbox
image's Python and platform (`shuyu.images.wheelhouse.target_args`: binary wheels
only, CPython 3.11 on bookworm's glibc) under the image's own pins as constraints, so
that what a sandbox installs fits what it has. Then `shuyu.packages.checks`; a request
that fails them (or that pip cannot satisfy with wheels) is recorded as failed with the
reason, and nothing of it is published. The wheels go to the request's set: the index's
top folder, or its scenario's own (`shuyu.packages.sets`).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from shuyu import docker_engine
from shuyu.images.wheelhouse import target_args
from shuyu.packages.checks import check_wheels, read_image_pins
from shuyu.packages.desk import PackageDesk, PackageView
from shuyu.packages.sets import in_folder, set_folder
from shuyu.policy.models import PackagePolicy
from shuyu.settings import PlatformSettings

NOTEBOOK_PINS = Path(__file__).resolve().parents[2] / "images" / "notebook" / "requirements.txt"


def download(name: str, version: str, dest: Path, *, source: str, constraints: Path | None) -> str:
    """pip's download of `name==version` and what it needs into `dest`; "" or why not."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--dest",
        str(dest),
        *target_args(),
        f"{name}=={version}",
    ]
    if source:
        cmd += ["--index-url", source]
    if constraints is not None:
        cmd += ["--constraint", str(constraints)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode == 0:
        return ""
    lines = [ln for ln in (done.stderr or done.stdout).strip().splitlines() if ln.strip()]
    return (
        f"pip could not download wheels of {name}=={version} for the sandboxes' Python 3.11 "
        f"(an sdist is never taken): {' | '.join(lines[-2:])}"
    )


def fetch_one(
    desk: PackageDesk,
    request: PackageView,
    settings: PlatformSettings,
    policy: PackagePolicy,
    *,
    pins: Path | None = NOTEBOOK_PINS,
) -> PackageView:
    image_pins = read_image_pins(pins) if pins is not None and pins.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="shuyu-package.") as tmp:
        folder = Path(tmp)
        failed = download(
            request.name,
            request.version,
            folder,
            source=settings.package_source,
            constraints=pins if image_pins else None,
        )
        if failed:
            return desk.fetched(request.id, files=[], refused=failed)
        checked = check_wheels(folder, policy, image_pins)
        if checked.refused:
            return desk.fetched(request.id, files=[], refused="; ".join(checked.refused))
        at = set_folder(desk.db, request.index_set)
        docker_engine.fill_volume(
            settings.packages_volume,
            {in_folder(at, record.filename): path for path, record in checked.publish},
            image=settings.notebook_image,
            labels={"org.shuyu.project": settings.project, "org.shuyu.role": "packages"},
        )
        return desk.fetched(request.id, files=[record for _path, record in checked.publish])


def fetch_approved(
    desk: PackageDesk,
    settings: PlatformSettings,
    policy: PackagePolicy,
    say: Callable[[str], None],
) -> list[PackageView]:
    done = []
    for request in desk.to_fetch():
        say(f"{request.id}: {request.name}=={request.version} …")
        result = fetch_one(desk, request, settings, policy)
        say(f"{request.id}: {result.state.value} {result.note}".rstrip())
        done.append(result)
    return done
