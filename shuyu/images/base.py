"""The base images, built without any registry: debootstrap + `docker import`.

`shuyu/base:bookworm` is Debian bookworm minbase with Python 3.11 (venv, pip), tini and
the zh_CN/en_US UTF-8 locales; `shuyu/base-hub:bookworm` adds Debian's nodejs (for
configurable-http-proxy) and iptables (the firewall service, nft backend). The root
filesystem tarball is cached under the hash of its package list and of the steps that
shape it, so a machine with the cache rebuilds the image with a `docker import` alone.
"""

from __future__ import annotations

import inspect
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shuyu import docker_engine
from shuyu.errors import ShuyuError
from shuyu.images.cache import cache_root, digest
from shuyu.images.commands import run
from shuyu.settings import HostSettings

SUITE = "bookworm"
HASH_LABEL = "org.shuyu.base-hash"
LOCALES = ("zh_CN.UTF-8 UTF-8", "en_US.UTF-8 UTF-8")
PYTHON_PACKAGES = (
    "python3",
    "python3-venv",
    "python3-pip",
    "python-is-python3",
    "tini",
    "ca-certificates",
    "locales",
)


@dataclass(frozen=True)
class BaseSpec:
    image: str
    packages: tuple[str, ...]

    def content_hash(self) -> str:
        return digest(
            [
                ("suite", SUITE.encode()),
                ("packages", "\n".join(sorted(self.packages)).encode()),
                ("locales", "\n".join(LOCALES).encode()),
                ("changes", "\n".join(IMAGE_CHANGES).encode()),
                # what shapes the root filesystem, not the rest of this module: editing
                # the build driver must not cost a new debootstrap
                ("configure", inspect.getsource(_configure).encode()),
            ]
        )


# a CJK font (5 MB): charts in sandboxes and production reports are labelled in Chinese
# (matplotlib falls back to English labels without one, never to boxes)
CJK_FONT_PACKAGE = "fonts-wqy-microhei"
BASE = BaseSpec(f"shuyu/base:{SUITE}", (*PYTHON_PACKAGES, CJK_FONT_PACKAGE))
BASE_HUB = BaseSpec(f"shuyu/base-hub:{SUITE}", (*PYTHON_PACKAGES, "nodejs", "iptables"))

# what `docker import` cannot infer from a tarball
IMAGE_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["/bin/bash"]',
)


def rootfs_tarball(spec: BaseSpec, say: Callable[[str], None]) -> Path:
    """The cached rootfs tarball for `spec`, built with debootstrap when missing."""
    target = cache_root() / "base" / f"{spec.content_hash()}.tar"
    if target.exists():
        say(f"{spec.image}: rootfs cached ({target.name[:12]})")
        return target
    if shutil.which("debootstrap") is None:
        raise ShuyuError(
            "debootstrap is not installed: `apt-get install debootstrap`, or build on a "
            "site with a registry with --base-image python:3.11-slim-bookworm"
        )
    if os.geteuid() != 0:
        raise ShuyuError("debootstrap needs root: run `shuyu images build` as root")
    mirror = HostSettings.from_env().debian_mirror
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs.", dir=target.parent))
    try:
        rootfs = work / "rootfs"
        say(f"{spec.image}: debootstrap {SUITE} from {mirror} …")
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(spec.packages)}",
                SUITE,
                str(rootfs),
                mirror,
            ],
            what="debootstrap",
            log=work / "debootstrap.log",
        )
        _configure(rootfs)
        tmp = work / "rootfs.tar"
        run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(tmp), "."],
            what="tar rootfs",
        )
        os.replace(tmp, target)
    finally:
        # a failed or finished build leaves nothing but the finished tarball
        subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)
    return target


def _configure(rootfs: Path) -> None:
    """Locales, and nothing left that an image does not need (apt caches, logs)."""
    (rootfs / "etc/locale.gen").write_text("\n".join(LOCALES) + "\n", encoding="utf-8")
    run(["chroot", str(rootfs), "locale-gen"], what="locale-gen")
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists", "var/log", "tmp"):
        path = rootfs / leftover
        for child in path.glob("*"):
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            elif child.name != "lock":
                child.unlink()
    # an image's resolver comes from the engine at run time, not from this machine
    resolv = rootfs / "etc/resolv.conf"
    if resolv.exists() or resolv.is_symlink():
        resolv.unlink()
    (rootfs / "etc/hostname").write_text("localhost\n", encoding="utf-8")


def build_base(spec: BaseSpec, say: Callable[[str], None]) -> bool:
    """Import `spec` as an image unless the engine already has this exact content;
    True when it was imported."""
    wanted = spec.content_hash()
    if docker_engine.image_label(spec.image, HASH_LABEL) == wanted:
        say(f"{spec.image}: up to date ({wanted[:12]})")
        return False
    tarball = rootfs_tarball(spec, say)
    changes = [*IMAGE_CHANGES, f"LABEL {HASH_LABEL}={wanted}"]
    docker_engine.import_rootfs(tarball, spec.image, changes)
    say(f"{spec.image}: imported ({wanted[:12]})")
    return True
