"""The policies as a long-running process sees them: read again when a file under the
folder changes, so that grants renewed or ended take effect without a restart."""

from __future__ import annotations

from dataclasses import dataclass

from shuyu.policy.load import default_policies_dir, load_policies
from shuyu.policy.models import Policies


def policies_stamp() -> float:
    """The newest modification time of any policy file: changes with every edit."""
    return max((p.stat().st_mtime for p in default_policies_dir().rglob("*.yaml")), default=0.0)


@dataclass
class PolicyCache:
    loaded: Policies | None = None
    stamp: float = 0.0

    def __call__(self) -> Policies:
        root = default_policies_dir()
        newest = policies_stamp()
        if self.loaded is None or newest != self.stamp:
            self.loaded, self.stamp = load_policies(root), newest
        return self.loaded
