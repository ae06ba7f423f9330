"""The few Docker engine calls image builds need, with failures as one-line errors."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

from shuyu.errors import ShuyuError


def run(cmd: Sequence[str], *, what: str, log: Path | None = None) -> str:
    """Run `cmd`; its output goes to `log` (kept for the user) or is returned."""
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w", encoding="utf-8") as out:
            logged = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
        if logged.returncode != 0:
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
            raise ShuyuError(
                f"{what} failed (exit {logged.returncode}): {' | '.join(tail)}; full log: {log}"
            )
        return ""
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ShuyuError(f"{what} failed (exit {done.returncode}): {' | '.join(tail)}")
    return done.stdout


def inspect_image(image: str) -> dict[str, object] | None:
    """`docker image inspect` of `image`, or None when the engine does not have it."""
    done = subprocess.run(
        ["docker", "image", "inspect", image], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None
    found = json.loads(done.stdout)
    return found[0] if found else None


def image_id(image: str) -> str | None:
    found = inspect_image(image)
    return str(found["Id"]) if found else None


def image_label(image: str, label: str) -> str | None:
    found = inspect_image(image)
    if not found:
        return None
    config = found.get("Config")
    labels = config.get("Labels") if isinstance(config, dict) else None
    return str(labels[label]) if isinstance(labels, dict) and label in labels else None


def tag(source: str, target: str) -> None:
    run(["docker", "tag", source, target], what=f"docker tag {source} {target}")


def untag_others(repo: str, keep: set[str]) -> None:
    """Drop `repo`'s other tags (superseded content-hash builds), so that rebuilds do not
    pile up gigabytes; an image a container still uses keeps its layers until removed."""
    listed = run(["docker", "images", repo, "--format", "{{.Tag}}"], what=f"docker images {repo}")
    for tag_name in sorted(set(listed.split()) - keep - {"<none>"}):
        subprocess.run(["docker", "rmi", f"{repo}:{tag_name}"], capture_output=True, check=False)
