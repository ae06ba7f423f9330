"""`shuyu images build`: base, the shared builder stage, then every application image,
each only when its inputs changed.

An image is tagged `<hash12>` — the hash of its Dockerfile, requirements, files,
wheelhouse (names and contents), the shuyu wheel's contents, the base and builder image
ids — and `:local` points at it. A build whose hash tag exists is a re-tag, taking
seconds. Every build runs with `--network none`, the way an air-gapped site builds.
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

from shuyu import docker_engine
from shuyu.errors import InputError, ShuyuError
from shuyu.fsutil import file_sha256
from shuyu.images.base import BASE, BASE_HUB, BaseSpec, build_base
from shuyu.images.cache import cache_root, digest
from shuyu.images.proxy import proxy_prefix
from shuyu.images.wheelhouse import shuyu_wheel, wheel_content_digest, wheelhouse

Say = Callable[[str], None]
REPO = Path(__file__).resolve().parents[2]
IMAGES_DIR = REPO / "images"
HASH_LABEL = "org.shuyu.image-hash"
BUILDER = "builder"


@dataclass(frozen=True)
class AppImage:
    """An application image: its folder under images/, shuyu's extra, its final base;
    `on_top_of` another application image instead (it adds packages to that one's venv
    and takes shuyu from it)."""

    name: str
    extra: str
    base: BaseSpec
    on_top_of: str | None = None


APPS = {
    app.name: app
    for app in (
        AppImage("notebook", "train", BASE),
        AppImage("hub", "hub", BASE_HUB),
        AppImage("mlflow", "tracking-server", BASE),
        AppImage("runner", "runner", BASE, on_top_of="notebook"),
        AppImage("service", "service", BASE),
    )
}
APP_IMAGES = tuple(APPS)
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


def _context(app: AppImage, context: Path, wheels: Path, shuyu_whl: Path, say: Say) -> None:
    """The build context: Dockerfile, requirements, rootfs/ overlay, wheels/, shuyu-wheel/
    and, for the hub, the proxy and the hub config."""
    source = IMAGES_DIR / app.name
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
    if app.name == "hub":
        shutil.copytree(proxy_prefix(say), context / "chp", symlinks=True)
        shutil.copy2(REPO / "hub" / "jupyterhub_config.py", context / "jupyterhub_config.py")
    if app.name == "mlflow":  # the server's configuration (basic-auth template)
        shutil.copytree(REPO / "mlflow", context / "mlflow-config")
    if app.name in ("notebook", "service"):
        # the scenario notebooks (a sandbox's starter files, production's pinned
        # notebooks) and the report notebook, at /opt/shuyu/notebooks; the runner
        # inherits them from the notebook image
        shutil.copytree(REPO / "notebooks", context / "notebooks")


def _content_hash(context: Path, own_wheel: Path | None, upstream: Sequence[str]) -> str:
    parts = [
        (str(p.relative_to(context)), file_sha256(p).encode())
        for p in sorted(context.rglob("*"))
        if p.is_file() and p != own_wheel
    ]
    # symlinks (the npm .bin entries) are part of what the image contains
    parts += [
        (str(p.relative_to(context)), os.readlink(p).encode())
        for p in sorted(context.rglob("*"))
        if p.is_symlink()
    ]
    if own_wheel is not None:
        parts.append(("shuyu-wheel", wheel_content_digest(own_wheel).encode()))
    parts += [(f"upstream-{i}", image.encode()) for i, image in enumerate(upstream)]
    return digest(parts)


def _build_or_retag(
    name: str,
    context: Path,
    content: str,
    *,
    buildargs: dict[str, str],
    say: Say,
    started: float,
) -> BuildResult:
    image = f"{repository(name)}:{content[:12]}"
    if docker_engine.image_label(image, HASH_LABEL) == content:
        docker_engine.tag(image, f"{repository(name)}:local")
        say(f"{image}: up to date")
        return BuildResult(name, image, True, time.monotonic() - started)
    log = cache_root() / "logs" / f"{name}-{content[:12]}.log"
    say(f"{image}: docker build --network none (log: {log}) …")
    docker_engine.build(
        context, tag=image, buildargs=buildargs, labels={HASH_LABEL: content}, log=log
    )
    docker_engine.tag(image, f"{repository(name)}:local")
    say(f"{image}: built, tagged {repository(name)}:local")
    docker_engine.untag_others(repository(name), keep={content[:12], "local"})
    return BuildResult(name, image, False, time.monotonic() - started)


def _image_id_of(image: str, what: str) -> str:
    found = docker_engine.image_id(image)
    if found is None:
        raise ShuyuError(
            f"{what} image {image} not found: build it (`shuyu images build --only base`) "
            "or load it from your registry"
        )
    return found


def build_builder(base_image: str, say: Say) -> BuildResult:
    """The shared build stage (images/builder): ONBUILD steps every image runs."""
    started = time.monotonic()
    base_id = _image_id_of(base_image, "base")
    cache_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="context-builder.", dir=cache_root()) as tmp:
        context = Path(tmp)
        shutil.copy2(IMAGES_DIR / BUILDER / "Dockerfile", context / "Dockerfile")
        content = _content_hash(context, None, [base_id])
        return _build_or_retag(
            BUILDER,
            context,
            content,
            buildargs={"BASE_IMAGE": base_image},
            say=say,
            started=started,
        )


def build_app_image(
    app: AppImage, base_image: str, builder_image: str, shuyu_whl: Path, say: Say
) -> BuildResult:
    started = time.monotonic()
    base_id = _image_id_of(base_image, "base")
    builder_id = _image_id_of(builder_image, "builder")
    wheels = wheelhouse(IMAGES_DIR / app.name / "requirements.txt", say)
    cache_root().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"context-{app.name}.", dir=cache_root()) as tmp:
        context = Path(tmp)
        _context(app, context, wheels, shuyu_whl, say)
        own = context / "shuyu-wheel" / shuyu_whl.name
        upstream = [base_id, builder_id, app.extra]
        buildargs = {
            "BASE_IMAGE": base_image,
            "BUILDER_IMAGE": builder_image,
            "SHUYU_EXTRA": app.extra,
        }
        if app.on_top_of is not None:
            below = f"{repository(app.on_top_of)}:local"
            upstream.append(_image_id_of(below, app.on_top_of))
            buildargs[f"{app.on_top_of.upper()}_IMAGE"] = below
        content = _content_hash(context, own, upstream)
        return _build_or_retag(
            app.name, context, content, buildargs=buildargs, say=say, started=started
        )


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
    results: list[BuildResult] = []
    apps = [APPS[t] for t in wanted if t in APPS]
    if base_image is None and ("base" in wanted or apps):
        started = time.monotonic()
        hub_base = "base" in wanted or any(a.base == BASE_HUB for a in apps)
        specs = [BASE, *([BASE_HUB] if hub_base else [])]
        # two debootstraps wait on the mirror more than on the machine: run them together
        with ThreadPoolExecutor(max_workers=len(specs)) as pool:
            imported = list(pool.map(lambda spec: build_base(spec, say), specs))
        results.append(
            BuildResult("base", BASE.image, not any(imported), time.monotonic() - started)
        )
    if not apps:
        return results
    builder = build_builder(base_image or BASE.image, say)
    results.append(builder)
    with tempfile.TemporaryDirectory(prefix="shuyu-wheel.") as tmp:
        shuyu_whl = shuyu_wheel(REPO, Path(tmp))
        for app in apps:
            base = base_image or app.base.image
            results.append(build_app_image(app, base, builder.image, shuyu_whl, say))
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
    images = (
        BASE.image,
        BASE_HUB.image,
        f"{repository(BUILDER)}:local",
        *(f"{repository(n)}:local" for n in APP_IMAGES),
    )
    for image in images:
        found = docker_engine.inspect_image(image)
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
