"""The images' lock files: exact pins only, and every dependency shuyu declares is locked
at a version that satisfies it — so that a `docker build --network none` cannot fail
minutes in on a missing wheel, and the images get what the package was tested with."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from shuyu.errors import InputError
from shuyu.images.wheelhouse import read_pins

REPO = Path(__file__).resolve().parents[2]
IMAGE_EXTRAS = {
    "notebook": "train",
    "hub": "hub",
    "mlflow": "tracking-server",
    "service": "service",
}


def _with_extras(requirement: Requirement) -> list[Requirement]:
    """The requirement and what its extras add (`mlflow[auth]` adds Flask-WTF), read from
    the package's metadata in this environment."""
    found = [requirement]
    if not requirement.extras:
        return found
    for line in importlib.metadata.requires(requirement.name) or []:
        dep = Requirement(line)
        if dep.marker is None or dep.marker.evaluate({"extra": ""}):
            continue
        if any(dep.marker.evaluate({"extra": extra}) for extra in requirement.extras):
            found.append(dep)
    return found


def _locked(image: str) -> dict[str, Version]:
    wheels, sdists = read_pins(REPO / "images" / image / "requirements.txt")
    pins = [line.split("==") for line in wheels + sdists]
    return {canonicalize_name(name): Version(version) for name, version in pins}


@pytest.mark.parametrize(("image", "extra"), sorted(IMAGE_EXTRAS.items()))
def test_every_dependency_of_the_images_extra_is_locked(image: str, extra: str) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["dependencies"] + project["optional-dependencies"][extra]
    wanted = [dep for line in declared for dep in _with_extras(Requirement(line))]
    locked = _locked(image)
    problems = [
        f"{r} (locked: {locked.get(canonicalize_name(r.name))})"
        for r in wanted
        if canonicalize_name(r.name) not in locked
        or not r.specifier.contains(locked[canonicalize_name(r.name)], prereleases=True)
    ]
    assert problems == []


def test_the_notebook_gets_the_cpu_torch_pinned_exactly() -> None:
    assert _locked("notebook")["torch"] == Version("2.13.0+cpu")


def test_a_loose_requirement_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("# comment\npolars==2.1.0\ntorch>=2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"requirements.txt:3: .*exact pin.*'torch>=2'"):
        read_pins(lock)


def test_sdist_only_packages_are_marked_for_a_host_build(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("onetimepass==1.0.1  # build: sdist\npolars==2.1.0\n", encoding="utf-8")
    assert read_pins(lock) == (["polars==2.1.0"], ["onetimepass==1.0.1"])
