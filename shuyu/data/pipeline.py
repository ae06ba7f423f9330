"""The data pipeline in one call: generate raw tables → mask → authorised views.

`make up` drives the same steps through the CLI; benchmarks and tests that need a
real view (not a hand-made one) call this.
"""

from __future__ import annotations

from pathlib import Path

from shuyu.data.generate import generate_raw
from shuyu.data.masking.mask import mask_directory
from shuyu.data.views import build_views
from shuyu.policy.models import Policies


def build_demo_views(
    root: Path,
    policies: Policies,
    *,
    key: bytes,
    scale: int,
    seed: int,
    scenario: str | None = None,
) -> Path:
    """Write root/raw, root/masked and root/views (one scenario's or all); return the
    views directory."""
    root = Path(root)
    generate_raw(root / "raw", policies, scale=scale, seed=seed)
    mask_directory(root / "raw", root / "masked", policies=policies, key=key)
    build_views(root / "masked", root / "views", policies=policies, key=key, scenario_id=scenario)
    return root / "views"
