"""Where the scenario notebooks are: `notebooks/scenarios/<scenario>/` holds the
`develop.ipynb` a partner's sandbox opens on, the `production.ipynb` operators run and
a zh-CN `README.md` (the view, its fields, the ε/δ budget, training with a spec,
submitting).

The source tree's copy, else the images' (/opt/shuyu/notebooks: the notebook image,
and so the runner, and the service image)."""

from __future__ import annotations

from pathlib import Path

from shuyu.errors import InputError

DEVELOP = "develop.ipynb"
PRODUCTION = "production.ipynb"
README = "README.md"


def scenario_notebooks_dir() -> Path:
    candidates = (
        Path(__file__).resolve().parents[2] / "notebooks" / "scenarios",
        Path("/opt/shuyu/notebooks/scenarios"),
    )
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def scenario_file(scenario: str, name: str, root: Path | None = None) -> Path:
    """One scenario's develop or production notebook, or its README (under `root`, by
    default `scenario_notebooks_dir()`)."""
    if name not in (DEVELOP, PRODUCTION, README):
        raise InputError(
            "scenario file", f"is one of {DEVELOP}, {PRODUCTION}, {README}", value=name
        )
    path = (root or scenario_notebooks_dir()) / scenario / name
    if not path.is_file():
        raise InputError(
            str(path), "no such scenario notebook", hint="see notebooks/scenarios for the scenarios"
        )
    return path
