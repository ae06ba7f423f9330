"""`shuyu images build`: base, then notebook, hub and mlflow, each only when its inputs
changed.

An image is tagged `<hash12>` — the hash of its Dockerfile, requirements, files,
wheelhouse (names and contents), the shuyu wheel's contents and the base image id — and
`:local` points at it. A build whose hash tag exists is a re-tag, taking seconds. Every
build runs with `--network none`, the way an air-gapped site builds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from shuyu.errors import InputError, ShuyuError
from shuyu.fsutil import file_sha256
from shuyu.images import engine
from shuyu.images.base import BASE, BASE_HUB, build_base
from shuyu.images.cache import cache_root, digest
from shuyu.images.proxy import proxy_prefix
from shuyu.images.wheelhouse import shuyu_wheel, wheel_content_digest, wheelhouse

Say = Callable[[str], None]
REPO = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO / "images"
HASH_LABEL = "org.shuyu.image-hash"
APP_IMAGES = ("notebook", "hub", "mlflow")
TARGETS = ("base", *APP_IMAGES)


@dataclass(frozen=True)
class BuildResult:
    name: str
    image: str
    skipped: bool
    seconds: float


def repository(name: str) -> str:
    return f"shuyu/{name}"


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _context(name: str, context: Path, wheels: Path, shuyu_whl: Path, say: Say) -> None:
    """The build context: Dockerfile, requirements, rootfs/ overlay, wheels/, shuyu-wheel/
    and, for the hub, the proxy and the hub config."""
    source = IMAGES_DIR / name
    shutil.copy2(source / "Dockerfile", context / "Dockerfile")
    shutil.copy2(source / "requirements.txt", context / "requirements.txt")
    rootfs = context / "rootfs"
    shutil.copytree(IMAGES_DIR / "common" / "rootfs", rootfs, symlinks=True)
    if (source / "rootfs").is_dir():
        shutil.copytree(source / "rootfs", rootfs, symlinks=True, dirs_exist_ok=True)
    (context / "wheels").mkdir()
    for wheel in wheels.glob("*.whl"):
        _link_or_copy(wheel, context / "wheels" / wheel.name)
    # apart from the wheelhouse, so that a change of shuyu's code leaves the layer
    # holding the third-party packages cached
    (context / "shuyu-wheel").mkdir()
    _link_or_copy(shuyu_whl, context / "shuyu-wheel" / shuyu_whl.name)
    if name == "hub":
        shutil.copytree(proxy_prefix(say), context / "chp", symlinks=True)
        shutil.copy2(REPO / "hub" / "jupyterhub_config.py", context / "jupyterhub_config.py")


def _content_hash(context: Path, shuyu_whl: Path, base_id: str) -> str:
    own = context / "shuyu-wheel" / shuyu_whl.name
    parts = [
        (str(p.relative_to(context)), file_sha256(p).encode())
        for p in sorted(context.rglob("*"))
        if p.is_file() and p != own
    ]
    # symlinks (the npm .bin entries) are part of what the image contains
    parts += [
        (str(p.relative_to(context)), os.readlink(p).encode())
        for p in sorted(context.rglob("*"))
        if p.is_symlink()
    ]
    parts += [("shuyu-wheel", wheel_content_digest(shuyu_whl).encode()), ("base", base_id.encode())]
    return digest(parts)


def build_app_image(name: str, base_image: str, shuyu_whl: Path, say: Say) -> BuildResult:
    started = time.monotonic()
    base_id = engine.image_id(base_image)
    if base_id is None:
        raise ShuyuError(
            f"base image {base_image} not found: build it (`shuyu images build --only base`) "
            "or load it from your registry"
        )
    wheels = wheelhouse(IMAGES_DIR / name / "requirements.txt", say)
    cache_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"context-{name}.", dir=cache_root()) as tmp:
        context = Path(tmp)
        _context(name, context, wheels, shuyu_whl, say)
        content = _content_hash(context, shuyu_whl, base_id)
        image = f"{repository(name)}:{content[:12]}"
        if engine.image_label(image, HASH_LABEL) == content:
            engine.tag(image, f"{repository(name)}:local")
            say(f"{image}: up to date")
            return BuildResult(name, image, True, time.monotonic() - started)
        log = cache_root() / "logs" / f"{name}-{content[:12]}.log"
        say(f"{image}: docker build --network none (log: {log}) …")
        engine.run(
            [
                "docker",
                "build",
                "--network",
                "none",
                "--force-rm",
                "--build-arg",
                f"BASE_IMAGE={base_image}",
                "--label",
                f"{HASH_LABEL}={content}",
                "--tag",
                image,
                str(context),
            ],
            what=f"docker build {image}",
            log=log,
        )
    engine.tag(image, f"{repository(name)}:local")
    say(f"{image}: built, tagged {repository(name)}:local")
    engine.untag_others(repository(name), keep={content[:12], "local"})
    return BuildResult(name, image, False, time.monotonic() - started)


def build(
    only: Sequence[str] = (), base_image: str | None = None, say: Say = print
) -> list[BuildResult]:
    """Build what `only` names (default: everything), in dependency order.

    With `base_image` (a site with a registry) debootstrap is skipped and every image
    builds on it; the hub then needs nodejs and iptables in that image.
    """
    unknown = sorted(set(only) - set(TARGETS))
    if unknown:
        raise InputError(
            "--only", "unknown image", value=unknown[0], hint=f"choose from {', '.join(TARGETS)}"
        )
    wanted = [t for t in TARGETS if not only or t in only]
    # the legacy builder is what an engine without buildx has; BuildKit would need it
    os.environ.setdefault("DOCKER_BUILDKIT", "0")
    results: list[BuildResult] = []
    if base_image is None and ("base" in wanted or set(wanted) & set(APP_IMAGES)):
        started = time.monotonic()
        specs = [BASE, *([BASE_HUB] if "hub" in wanted or "base" in wanted else [])]
        # two debootstraps wait on the mirror more than on the machine: run them together
        with ThreadPoolExecutor(max_workers=len(specs)) as pool:
            imported = list(pool.map(lambda spec: build_base(spec, say), specs))
        results.append(
            BuildResult("base", BASE.image, not any(imported), time.monotonic() - started)
        )
    apps = [t for t in wanted if t in APP_IMAGES]
    if not apps:
        return results
    with tempfile.TemporaryDirectory(prefix="shuyu-wheel.") as tmp:
        shuyu_whl = shuyu_wheel(REPO, Path(tmp))
        for name in apps:
            base = base_image or (BASE_HUB.image if name == "hub" else BASE.image)
            results.append(build_app_image(name, base, shuyu_whl, say))
    return results


@dataclass(frozen=True)
class ImageStatus:
    name: str
    image: str
    present: bool
    image_id: str | None
    size_mb: float | None


def status() -> list[ImageStatus]:
    rows: list[ImageStatus] = []
    for image in (BASE.image, BASE_HUB.image, *(f"{repository(n)}:local" for n in APP_IMAGES)):
        found = engine.inspect_image(image)
        size = found.get("Size") if found else None
        rows.append(
            ImageStatus(
                name=image.split("/", 1)[1].split(":", 1)[0],
                image=image,
                present=found is not None,
                image_id=str(found["Id"])[7:19] if found else None,
                size_mb=round(size / 1e6, 1) if isinstance(size, int) else None,
            )
        )
    return rows
