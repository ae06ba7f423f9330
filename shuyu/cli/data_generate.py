"""`shuyu data generate`: synthetic raw tables for every catalogue dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.data.generate import MIN_SCALE, generate_raw
from shuyu.policy import load_policies


def generate(
    out: Annotated[Path, typer.Option("--out", help="Directory to write <dataset>.parquet to.")],
    scale: Annotated[
        int,
        typer.Option(
            "--scale",
            help=f"Number of enterprises (≥ {MIN_SCALE}); persons ≈ scale, vehicles ≈ scale/4.",
        ),
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 0,
    policies: Annotated[
        Path | None,
        typer.Option(
            "--policies", help="Policy directory (default: $SHUYU_POLICIES or ./policies)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty --out.")] = False,
) -> None:
    """Write realistic synthetic RAW tables (with real identifiers) for the catalogue.

    生成目录中全部数据集的合成原始数据（含身份证号等真实格式标识符，仅供域内使用）。
    """
    loaded = load_policies(policies)
    generation = generate_raw(out, loaded, scale=scale, seed=seed, force=force)
    total = sum(generation.rows.values())
    typer.echo(
        f"OK: {len(generation.rows)} datasets, {total} rows written to {out} "
        f"(seed {seed}, scale {scale})"
    )
