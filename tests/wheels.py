"""Real wheels and sdists made on the spot, for the package index's tests: a wheel as
pip builds one (METADATA, WHEEL, RECORD with each member's hash), nothing fetched."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def make_wheel(
    folder: Path,
    name: str,
    version: str,
    *,
    requires: tuple[str, ...] = (),
    module: str | None = None,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """`name-version-py3-none-any.whl` in `folder` with a module `module` (default: the
    name) whose `VERSION` is the version; `extra` adds members as they are."""
    dist = name.replace("-", "_")
    module = module or dist
    info = f"{dist}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    members = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: shuyu-tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        **(extra or {}),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in members.items())
    members[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def make_sdist(folder: Path, name: str, version: str) -> Path:
    """`name-version.tar.gz`: a source distribution (its setup.py would run at install)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace('-', '_')}-{version}.tar.gz"
    setup = f"from setuptools import setup\nsetup(name={name!r}, version={version!r})\n"
    with tarfile.open(path, "w:gz") as tar:
        data = setup.encode()
        info = tarfile.TarInfo(f"{name}-{version}/setup.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path
