"""Publishing authorised views into the Docker volumes sandboxes mount.

Each scenario's view goes into its own named volume (`<project>-view-<scenario>`) holding
exactly `train.parquet` and `view.json` — the holdout split never enters a volume. Files
are copied in through a short-lived container (no host path is shared with sandboxes, so
the same works against a remote engine) and renamed into place, so that a sandbox never
sees a half-copied file.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shuyu.audit.events import audit_event
from shuyu.data.view_manifest import MANIFEST_FILE, TRAIN_FILE, read_manifest
from shuyu.errors import InputError, ShuyuError
from shuyu.sandbox.settings import PlatformSettings

PUBLISHED_FILES = (TRAIN_FILE, MANIFEST_FILE)  # never holdout.parquet

# Runs inside the helper container: move the staged files over the published ones.
_SWAP = (
    "import os,sys\n"
    "d='/view'; s=d+'/.incoming'\n"
    "for n in sys.argv[1:]:\n"
    "    os.chmod(s+'/'+n, 0o444); os.replace(s+'/'+n, d+'/'+n)\n"
    "os.rmdir(s)\n"
)


@dataclass(frozen=True)
class PublishedView:
    scenario: str
    volume: str
    train_rows: int
    train_sha256: str


def publish_views(
    views_dir: Path, settings: PlatformSettings, client: Any, scenarios: list[str] | None = None
) -> list[PublishedView]:
    """Copy each scenario's train split and manifest into its view volume."""
    views_dir = Path(views_dir)
    if not views_dir.is_dir():
        raise InputError(
            str(views_dir),
            "views directory not found",
            hint="build views with `shuyu data views` first",
        )
    chosen = scenarios or sorted(
        p.name for p in views_dir.iterdir() if (p / MANIFEST_FILE).is_file()
    )
    if not chosen:
        raise InputError(
            str(views_dir), "no views here", hint="build views with `shuyu data views` first"
        )
    return [_publish_one(views_dir / name, settings, client) for name in chosen]


def _publish_one(view_dir: Path, settings: PlatformSettings, client: Any) -> PublishedView:
    manifest = read_manifest(view_dir)
    for name in PUBLISHED_FILES:
        if not (view_dir / name).is_file():
            raise InputError(
                str(view_dir / name),
                "missing from the view",
                hint="rebuild the view with `shuyu data views`",
            )
    volume = settings.view_volume(manifest.scenario)
    client.volumes.create(
        name=volume,
        labels={"org.shuyu.project": settings.project, "org.shuyu.view": manifest.scenario},
    )
    container = client.containers.create(
        settings.notebook_image,
        command=["python", "-c", _SWAP, *PUBLISHED_FILES],
        user="0:0",
        network_mode="none",
        volumes={volume: {"bind": "/view", "mode": "rw"}},
        labels={"org.shuyu.project": settings.project, "org.shuyu.role": "view-publisher"},
        entrypoint=[],
    )
    try:
        if not container.put_archive("/view", _tar(view_dir)):
            raise ShuyuError(f"could not copy {view_dir} into volume {volume}")
        container.start()
        result = container.wait(timeout=120)
        if result.get("StatusCode", 1) != 0:
            logs = container.logs().decode(errors="replace").strip().splitlines()[-1:]
            raise ShuyuError(f"publishing {manifest.scenario} into {volume} failed: {logs}")
    finally:
        container.remove(force=True)
    audit_event(
        "view.publish",
        "platform",
        "allowed",
        scenario=manifest.scenario,
        volume=volume,
        train_sha256=manifest.train_sha256,
        rows=manifest.train_rows,
    )
    return PublishedView(manifest.scenario, volume, manifest.train_rows, manifest.train_sha256)


def _tar(view_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        staging = tarfile.TarInfo(".incoming")
        staging.type = tarfile.DIRTYPE
        staging.mode = 0o700
        tar.addfile(staging)
        for name in PUBLISHED_FILES:
            data = (view_dir / name).read_bytes()
            info = tarfile.TarInfo(f".incoming/{name}")
            info.size = len(data)
            info.mode = 0o444
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
