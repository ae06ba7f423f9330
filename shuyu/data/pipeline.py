"""The data pipeline in one call: generate raw tables → mask → authorised views; then,
for the self-check, the row fingerprints of the raw and masked tables.

`make up` builds its demo data with it; so do benchmarks and tests that need a real
view rather than a hand-made one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from shuyu.data.generate import generate_raw
from shuyu.data.masking.mask import mask_directory
from shuyu.data.views import build_views
from shuyu.policy.models import Policies
from shuyu.selfcheck.fingerprints import FingerprintManifest, build_fingerprints


def build_demo_views(
    root: Path,
    policies: Policies,
    *,
    key: bytes,
    scale: int,
    seed: int,
    scenario: str | None = None,
    say: Callable[[str], None] = lambda _line: None,
) -> Path:
    """Write root/raw, root/masked and root/views (one scenario's or all); return the
    views directory. Each step is atomic, so a failure leaves no half-written zone."""
    root = Path(root)
    say(f"demo data: generating {scale} enterprises (seed {seed}) …")
    generate_raw(root / "raw", policies, scale=scale, seed=seed)
    say("demo data: masking …")
    mask_directory(root / "raw", root / "masked", policies=policies, key=key)
    say("demo data: building authorised views …")
    build_views(root / "masked", root / "views", policies=policies, key=key, scenario_id=scenario)
    return root / "views"


def fingerprint_tables(root: Path, policies: Policies) -> FingerprintManifest:
    """Row fingerprints of every table in root/raw and root/masked into
    root/fingerprints (replaced whole): salted hashes of each record's most
    distinctive values, never the values, for the self-check's verbatim-record check
    in the check runners."""
    root = Path(root)
    tables = {
        f"{zone}/{path.stem}": pl.read_parquet(path)
        for zone in ("raw", "masked")
        for path in sorted((root / zone).glob("*.parquet"))
    }
    return build_fingerprints(
        tables, root / "fingerprints", policies.selfcheck.row_fingerprint_min_fields
    )
