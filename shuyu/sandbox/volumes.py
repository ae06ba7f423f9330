"""Publishing authorised views into the Docker volumes sandboxes and runners mount.

Each scenario's view goes into its own named volume (`<project>-view-<scenario>`) holding
exactly `train.parquet` and `view.json` — the holdout split never enters it. The
self-check's check runners mount a second volume per scenario
(`<project>-holdout-<scenario>`) that adds `holdout.parquet`, and the row fingerprints
of the raw and masked tables (`<project>-fingerprints`); no sandbox ever mounts either.
Files are placed whole (`shuyu.docker_engine.fill_volume`), so that a container never
sees a half-copied file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shuyu import docker_engine
from shuyu.audit.events import audit_event
from shuyu.data.view_manifest import HOLDOUT_FILE, MANIFEST_FILE, TRAIN_FILE, read_manifest
from shuyu.errors import InputError
from shuyu.settings import PlatformSettings

PUBLISHED_FILES = (TRAIN_FILE, MANIFEST_FILE)  # never holdout.parquet
CHECK_FILES = (TRAIN_FILE, HOLDOUT_FILE, MANIFEST_FILE)  # check runners only


@dataclass(frozen=True)
class PublishedView:
    scenario: str
    volume: str
    train_rows: int
    train_sha256: str


def publish_views(
    views_dir: Path, settings: PlatformSettings, scenarios: list[str] | None = None
) -> list[PublishedView]:
    """Copy each scenario's train split and manifest into its view volume, and the whole
    view (with the holdout) into its check volume."""
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
    return [_publish_one(views_dir / name, settings) for name in chosen]


def _publish_one(view_dir: Path, settings: PlatformSettings) -> PublishedView:
    manifest = read_manifest(view_dir)
    for name in CHECK_FILES:
        if not (view_dir / name).is_file():
            raise InputError(
                str(view_dir / name),
                "missing from the view",
                hint="rebuild the view with `shuyu data views`",
            )
    labels = {"org.shuyu.project": settings.project, "org.shuyu.view": manifest.scenario}
    volume = settings.view_volume(manifest.scenario)
    docker_engine.fill_volume(
        volume,
        {name: view_dir / name for name in PUBLISHED_FILES},
        image=settings.notebook_image,
        labels=labels,
    )
    docker_engine.fill_volume(
        settings.holdout_volume(manifest.scenario),
        {name: view_dir / name for name in CHECK_FILES},
        image=settings.notebook_image,
        labels={**labels, "org.shuyu.holdout": "true"},
    )
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


def publish_fingerprints(fingerprints_dir: Path, settings: PlatformSettings) -> int:
    """Copy the row fingerprints (`shuyu.data.pipeline.fingerprint_tables`) into the
    volume only check runners mount; the number of files placed."""
    files = {p.name: p for p in sorted(Path(fingerprints_dir).iterdir()) if p.is_file()}
    if not files:
        raise InputError(
            str(fingerprints_dir),
            "no row fingerprints here",
            hint="`shuyu platform up` builds them with the demo data",
        )
    docker_engine.fill_volume(
        settings.fingerprints_volume,
        files,
        image=settings.notebook_image,
        labels={"org.shuyu.project": settings.project, "org.shuyu.fingerprints": "true"},
    )
    return len(files)


def publish_production_inputs(inputs: dict[str, Path], settings: PlatformSettings) -> list[str]:
    """Each report product's masked input into its production volume; the volumes."""
    volumes = []
    for scenario, path in sorted(inputs.items()):
        volume = settings.production_input_volume(scenario)
        docker_engine.fill_volume(
            volume,
            {path.name: path},
            image=settings.notebook_image,
            labels={"org.shuyu.project": settings.project, "org.shuyu.production": scenario},
        )
        volumes.append(volume)
    return volumes
