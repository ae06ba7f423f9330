"""Running the host commands an image build needs (debootstrap, pip, npm, tar) with
their output kept in a log and failures as one-line errors."""

from __future__ import annotations

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
