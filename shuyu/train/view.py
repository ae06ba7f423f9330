"""The authorised view as the sandbox sees it: `$SHUYU_DATA/<scenario>/` with
`train.parquet` and `view.json` (the holdout split is never mounted)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from shuyu.data.view_manifest import TRAIN_FILE, ViewManifest, read_manifest
from shuyu.errors import InputError, ShuyuError
from shuyu.sandbox_env import DATA_ENV, SCENARIO_ENV


@dataclass(frozen=True)
class AuthorisedView:
    """One scenario's training split with its manifest."""

    directory: Path
    manifest: ViewManifest
    frame: pl.DataFrame

    @property
    def scenario(self) -> str:
        return self.manifest.scenario

    @property
    def train_path(self) -> Path:
        return self.directory / TRAIN_FILE


def view_directory(scenario: str | None = None) -> Path:
    """Where the sandbox mounts `scenario`'s view; in a sandbox (which serves one scenario)
    it may be left out."""
    root = os.environ.get(DATA_ENV)
    if not root:
        raise ShuyuError(
            f"{DATA_ENV} 未设置 / not set: 在沙箱内它指向授权视图目录 (the authorised views); "
            "outside a sandbox pass the view directory explicitly"
        )
    if scenario is None:
        scenario = os.environ.get(SCENARIO_ENV, "")
        if not scenario:
            raise InputError(
                SCENARIO_ENV,
                "name the scenario: this is not a sandbox's environment",
                hint="pass scenario=…",
            )
    return Path(root) / scenario


def load_view(directory: Path | str) -> AuthorisedView:
    """Read a view directory; the columns must be exactly the manifest's."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    path = directory / TRAIN_FILE
    try:
        frame = pl.read_parquet(path)
    except FileNotFoundError:
        raise InputError(str(path), "no training split here", hint="check the view mount") from None
    expected = [c.name for c in manifest.features] + [manifest.label.name]
    missing = [name for name in expected if name not in frame.columns]
    if missing:
        raise InputError(
            str(path),
            "columns named by view.json are missing",
            value=", ".join(missing),
            hint="the view and its manifest disagree; rebuild with `shuyu data views`",
        )
    return AuthorisedView(directory=directory, manifest=manifest, frame=frame)
