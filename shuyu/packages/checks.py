"""What a request's downloaded files must be before the index serves them.

Wheels only: an sdist (or any other archive) runs its own code when pip builds it, so
it is refused even if pip was told to take binaries only. Every name (the package and
each dependency) off the denylist; each wheel and the whole request within the policy's
sizes; each a readable zip with its metadata and no member that leaves the install
folder. Wheels the sandbox image already has (the same name and version) are neither
published again nor counted.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from shuyu.fsutil import file_sha256
from shuyu.packages.desk import WheelRecord, normalise
from shuyu.policy.models import PackagePolicy

# {distribution}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl
WHEEL_NAME = re.compile(
    r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.!+]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$"
)


@dataclass(frozen=True)
class Checked:
    publish: list[tuple[Path, WheelRecord]]
    in_image: list[str]  # wheels the image has already: not published
    refused: list[str]  # why the request cannot be published (empty: it can)


def check_wheels(folder: Path, policy: PackagePolicy, image_pins: dict[str, str]) -> Checked:
    denied = {normalise(n) for n in policy.denylist}
    publish: list[tuple[Path, WheelRecord]] = []
    in_image: list[str] = []
    refused: list[str] = []
    total = 0
    files = sorted(p for p in folder.iterdir() if p.is_file())
    if not files:
        refused.append("nothing was downloaded")
    for path in files:
        match = WHEEL_NAME.match(path.name)
        if match is None:
            refused.append(
                f"{path.name}: not a wheel — only wheels are taken (an sdist runs code when "
                "it is installed; 只接受 wheel)"
            )
            continue
        name, version = normalise(match["name"]), match["version"]
        if image_pins.get(name) == version:
            in_image.append(path.name)
            continue
        if name in denied:
            refused.append(f"{path.name}: {name} is on the denylist (policies/sandbox.yaml)")
        size = path.stat().st_size
        total += size
        if size > policy.max_wheel_bytes:
            refused.append(
                f"{path.name}: {size} bytes, over max_wheel_bytes {policy.max_wheel_bytes}"
            )
        problem, modules = _read(path)
        if problem:
            refused.append(f"{path.name}: {problem}")
        publish.append((path, WheelRecord(path.name, file_sha256(path), size, modules)))
    if total > policy.max_request_bytes:
        refused.append(f"{total} bytes in all, over max_request_bytes {policy.max_request_bytes}")
    return Checked(publish, in_image, refused)


def _read(path: Path) -> tuple[str, tuple[str, ...]]:
    """Why the wheel cannot be published ("" if it can), and the modules it installs."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            broken = archive.testzip()
            top_level = [n for n in names if n.endswith(".dist-info/top_level.txt")]
            listed = archive.read(top_level[0]).decode("utf-8", "replace") if top_level else ""
    except (zipfile.BadZipFile, OSError) as exc:
        return f"not a readable zip ({exc})", ()
    if broken is not None:
        return f"member {broken} is damaged", ()
    leaving = [n for n in names if n.startswith("/") or ".." in Path(n).parts]
    if leaving:
        return f"member {leaving[0]!r} would be written outside the install folder", ()
    if not any(n.endswith(".dist-info/METADATA") for n in names):
        return "no .dist-info/METADATA: not a wheel pip would install", ()
    return "", top_modules(names, listed)


def top_modules(names: list[str], top_level_txt: str = "") -> tuple[str, ...]:
    """The top-level modules a wheel installs (what `import x` names): its
    top_level.txt where it has one, else the first part of each installed path."""
    found = {line.strip().split("/")[0] for line in top_level_txt.splitlines() if line.strip()}
    if not found:
        for name in names:
            first = name.split("/", 1)[0]
            if first.endswith((".dist-info", ".data")) or first.endswith(".pth"):
                continue
            found.add(first.split(".", 1)[0])  # pkg/…, mod.py, ext.cpython-311-….so
    return tuple(sorted(m for m in found if m.isidentifier()))


def read_image_pins(requirements: Path) -> dict[str, str]:
    """{normalised name: version} of an image's lock file (`name==version` lines)."""
    pins: dict[str, str] = {}
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalise(name.strip())] = version.strip()
    return pins
