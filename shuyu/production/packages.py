"""The approved packages a production notebook imports, handed to its runner.

A notebook developed in a sandbox may import a package its partner installed from the
in-domain index; the runner image has only its own. The service reads which top-level
modules the notebook imports (statically: the self-check refuses dynamic imports in a
scenario notebook), takes the published requests of the scenario's set whose wheels
install one of them, reads exactly those wheels from the index's volume and checks each
against the sha256 recorded when the host published it (the volume is the host's to
write, but what is verified is not trusted). They become runner inputs; the runner
installs them offline before its kernel starts (`shuyu.production.execute`), so the
runner gets a cold start (a warm runner's kernel is already up). Nothing
else of the volume is read, so a run sees no other scenario's set.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shuyu.audit.events import audit_event
from shuyu.errors import ShuyuError
from shuyu.packages.desk import PackageDesk, WheelRecord
from shuyu.packages.sets import in_folder, set_folder
from shuyu.production.scenario_notebooks import PRODUCTION
from shuyu.runner.job import Executor
from shuyu.sandbox_env import WHEELS_ENV
from shuyu.selfcheck.static_code.imports import imported_modules as imports_of
from shuyu.selfcheck.static_code.units import code_units

WHEELS = "wheels"
"""The runner's input folder of wheels."""
RUNNER_HOME = "/tmp/shuyu-home"  # noqa: S108 - the runner's tmpfs: its root is read-only
MAX_BYTES = 1 << 30


def imported_modules(notebook: bytes) -> set[str]:
    """The top-level modules the notebook's code cells import (absolute imports)."""
    units, _problems = code_units(
        notebook.decode("utf-8", errors="replace"), PRODUCTION, notebook=True
    )
    return set(imports_of(units))


@dataclass(frozen=True)
class ApprovedWheels:
    """The published wheels of each scenario's set, in the index's volume."""

    desk: PackageDesk
    volume: str

    def modules(self, scenario: str) -> list[str]:
        """The modules the scenario's set installs (what the self-check accepts as
        approved beside the runner image's)."""
        return sorted(
            {m for r in self.desk.published_for(scenario) for f in r.files for m in f.modules}
        )

    def needed(self, scenario: str, notebook: bytes) -> dict[str, WheelRecord]:
        """Volume path → record of every wheel of each published request of the
        scenario's set that installs a module the notebook imports."""
        modules = imported_modules(notebook)
        wanted = [
            request
            for request in self.desk.published_for(scenario)
            if any(modules & set(record.modules) for record in request.files)
        ]
        if not wanted:
            return {}
        # one set per scenario: every request published_for returns shares its folder
        at = set_folder(self.desk.db, wanted[0].index_set)
        return {in_folder(at, f.filename): f for request in wanted for f in request.files}

    def inputs(
        self, executor: Executor, scenario: str, notebook: bytes, *, run: str
    ) -> dict[str, bytes]:
        """The runner's `wheels/…` inputs, each checked against its recorded sha256;
        what run `run` is given is audited with those digests."""
        needed = self.needed(scenario, notebook)
        if not needed:
            return {}
        read = executor.read_volume(self.volume, max_bytes=MAX_BYTES, names=sorted(needed))
        inputs: dict[str, bytes] = {}
        for path, record in needed.items():
            digest = hashlib.sha256(read[path]).hexdigest()
            if digest != record.sha256:
                raise ShuyuError(
                    f"{record.filename} in {self.volume} has sha256 {digest[:12]}…, "
                    f"published {record.sha256[:12]}…: not installed"
                )
            inputs[f"{WHEELS}/{record.filename}"] = read[path]
        audit_event(
            "package.install",
            "platform",
            "allowed",
            target=run,
            scenario=scenario,
            files={record.filename: record.sha256 for record in needed.values()},
        )
        return inputs


def runner_env(inputs: dict[str, bytes]) -> dict[str, str]:
    """What a runner with wheels among its inputs is told (none: nothing). They are
    installed where a sandbox's are, `~/.local` (`shuyu.sandbox.pip_guide`), under a
    home in the runner's tmpfs: the image's .pth puts that folder on the kernel's path
    after the image's own packages, so an approved wheel shadows none of them."""
    if not inputs:
        return {}
    return {WHEELS_ENV: f"/input/{WHEELS}", "HOME": RUNNER_HOME}
