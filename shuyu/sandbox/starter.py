"""What a partner's new workspace opens on: the scenario's `develop.ipynb` (load the
view, train with DP or write a spec, log, submit) and its zh-CN `README.md` (where the
view is, its fields, the ε/δ budget, how to submit) — copied in by the sandbox's server
at start, and never over a partner's own edits."""

from __future__ import annotations

from pathlib import Path

from shuyu.errors import InputError
from shuyu.fsutil import atomic_write_bytes
from shuyu.production.scenario_notebooks import DEVELOP, README, scenario_file

STARTER_FILES = (DEVELOP, README)


def place_starter_files(home: Path, scenario: str) -> list[str]:
    """Copy the scenario's starter files into `home` where absent; the names copied."""
    placed = []
    for name in STARTER_FILES:
        target = Path(home) / name
        if target.exists():
            continue  # the partner's copy, perhaps edited: theirs
        try:
            source = scenario_file(scenario, name)
        except InputError:
            continue  # a scenario without starter files opens on the launcher
        atomic_write_bytes(target, source.read_bytes())
        placed.append(name)
    return placed
