"""The contract between the platform and the containers it starts for partner work.

A sandbox (and a training runner) sees one scenario's authorised view read-only at
`/data/<scenario>/`, a workspace at `/home/jovyan`, and these variables. The spawner and
the runners write them from here; `shuyu.train` reads them from here; nothing else
spells the paths or names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

DATA_ROOT = PurePosixPath("/data")
HOME = PurePosixPath("/home/jovyan")
OUTPUT = PurePosixPath("/output")
"""The one folder a runner may write (its results are collected from here)."""
WHEELS_ENV = "SHUYU_WHEELS"
"""A production runner's folder of approved wheels to install before its kernel starts
(`shuyu.production.packages`)."""

DATA_ENV = "SHUYU_DATA"
SCENARIO_ENV = "SHUYU_SCENARIO"
PARTNER_ENV = "SHUYU_PARTNER"
SUBMIT_URL_ENV = "SHUYU_SUBMIT_URL"
"""The review service's submission endpoint on the sandbox network."""
SUBMIT_TOKEN_ENV = "SHUYU_SUBMIT_TOKEN"  # noqa: S105 - a variable's name
"""A hub token whose only scope is to submit this user's runs."""


def view_mount(scenario_id: str) -> PurePosixPath:
    return DATA_ROOT / scenario_id


@dataclass(frozen=True)
class SandboxEnvironment:
    scenario: str
    partner: str
    data_root: PurePosixPath = DATA_ROOT

    def to_env(self) -> dict[str, str]:
        return {
            DATA_ENV: str(self.data_root),
            SCENARIO_ENV: self.scenario,
            PARTNER_ENV: self.partner,
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SandboxEnvironment | None:
        """The environment a sandbox was given, or None outside one."""
        source = os.environ if env is None else env
        scenario, root = source.get(SCENARIO_ENV, ""), source.get(DATA_ENV, "")
        if not scenario or not root:
            return None
        return cls(scenario, source.get(PARTNER_ENV, ""), PurePosixPath(root))
