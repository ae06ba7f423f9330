"""Synthetic raw tables in the shape of the data catalogue (`shuyu data generate`).

`generate_raw` builds a world of enterprises, persons, freight vehicles and coal mines
with latent risk, derives every catalogue dataset from it, and writes
`<out>/<dataset_id>.parquet` plus `<out>/generation.json` through a staged directory:
a failure leaves the previous contents of `out` (or nothing) behind.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from shuyu.data.generate import coal, enterprises, population, vehicles
from shuyu.data.generate.output import arrow_schema, conform, write_table
from shuyu.data.generate.world import World, build_world
from shuyu.errors import InputError
from shuyu.fsutil import staged_directory
from shuyu.policy.models import Policies

GENERATOR_VERSION = "shuyu-generate/1"
MANIFEST_FILE = "generation.json"
MIN_SCALE = 50
MAX_SCALE = 5_000_000

# each domain yields its tables in dependency order; together they cover the catalogue
DOMAINS: tuple[Callable[[World], Iterator[tuple[str, pl.DataFrame]]], ...] = (
    enterprises.tables,
    population.tables,
    vehicles.tables,
    coal.tables,
)

__all__ = ["GENERATOR_VERSION", "MANIFEST_FILE", "Generation", "arrow_schema", "generate_raw"]


@dataclass(frozen=True)
class Generation:
    """What one run wrote: the content of `generation.json`."""

    seed: int
    scale: int
    as_of: dt.date
    rows: dict[str, int]

    def to_json(self) -> str:
        return json.dumps(
            {
                "generator_version": GENERATOR_VERSION,
                "seed": self.seed,
                "scale": self.scale,
                "as_of": self.as_of.isoformat(),
                "rows": self.rows,
            },
            ensure_ascii=False,
            indent=2,
            sort_keys=True,
        )


def check_arguments(out: Path, scale: int, seed: int, *, force: bool) -> None:
    if scale < MIN_SCALE or scale > MAX_SCALE:
        raise InputError(
            "--scale",
            f"must be between {MIN_SCALE} and {MAX_SCALE} (the number of enterprises)",
            value=scale,
        )
    if seed < 0 or seed >= 2**63:
        raise InputError("--seed", "must be a non-negative integer below 2**63", value=seed)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "exists and is not a directory", hint="choose another --out")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(
            str(out),
            "is not empty",
            hint="choose an empty or new --out, or pass --force to replace its contents",
        )


def generate_raw(
    out: Path, policies: Policies, *, scale: int, seed: int, force: bool = False
) -> Generation:
    """Write every catalogue dataset to `out`; returns what was written."""
    check_arguments(out, scale, seed, force=force)
    wanted = dict(policies.catalogue)
    as_of = policies.masking.reference_date
    world = build_world(seed, scale, as_of)
    rows: dict[str, int] = {}
    with staged_directory(out) as staging:
        for domain in DOMAINS:
            for dataset_id, frame in domain(world):
                dataset = wanted.get(dataset_id)
                if dataset is None:  # a trimmed catalogue: generate only what it lists
                    continue
                table = conform(dataset, frame)
                write_table(str(staging / f"{dataset_id}.parquet"), table)
                rows[dataset_id] = table.num_rows
        unknown = sorted(set(wanted) - set(rows))
        if unknown:
            raise InputError(
                "catalogue",
                "has datasets the synthetic generator cannot produce",
                value=unknown,
                hint="remove them from the catalogue or extend shuyu.data.generate",
            )
        generation = Generation(
            seed=seed, scale=scale, as_of=as_of, rows=dict(sorted(rows.items()))
        )
        (staging / MANIFEST_FILE).write_text(generation.to_json() + "\n", encoding="utf-8")
    return generation
