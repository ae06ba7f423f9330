"""Small catalogue-shaped raw tables for the masking and view tests.

Every dataset of the shipped catalogue gets a frame with exactly its field ids and
declared types; identifiers are valid (check digits and all) so that a PII scan would
find them, keys are shared across tables so that joins can be tested, and quasi-
identifiers have few values so that k-anonymity leaves most entities in place.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from shuyu.data.generate import identifiers as ids
from shuyu.policy.base import FieldType
from shuyu.policy.models import Dataset, EntityKind, FieldSpec, PiiKind, Policies, Role

COUNTIES = ["341302", "341321"]


def entity_pools(rng: np.random.Generator, n: int) -> dict[EntityKind, list[str]]:
    return {
        EntityKind.enterprise: ids.make_usccs(rng, n, COUNTIES),
        EntityKind.person: ids.make_resident_ids(
            rng, n, COUNTIES, dt.date(1988, 7, 1), dt.date(1996, 6, 30)
        ),
        EntityKind.vehicle: ids.make_vins(rng, n),
        EntityKind.coal_mine: [f"鄂尔多斯第{i}煤矿" for i in range(n)],
    }


def where_values(policies: Policies) -> dict[tuple[str, str], list[object]]:
    """Values the scenarios filter on, so that `where` clauses select something."""
    found: dict[tuple[str, str], list[object]] = {}
    for s in policies.scenarios.values():
        for f in [*s.features, s.label]:
            if f.where is not None:
                found.setdefault((f.dataset, f.where.field), []).extend(f.where.values)
    return found


def _column(
    spec: FieldSpec,
    rows: int,
    rng: np.random.Generator,
    vocab: list[object] | None,
) -> pl.Series:
    qi = spec.role is Role.quasi_identifier
    if spec.pii is PiiKind.mobile:
        return pl.Series(spec.id, ids.make_mobiles(rng, rows))
    if spec.pii is PiiKind.bank_card:
        return pl.Series(spec.id, ids.make_bank_cards(rng, rows))
    if spec.pii is PiiKind.plate:
        return pl.Series(spec.id, ids.make_plates(rng, rows, "皖L"))
    if spec.pii is PiiKind.resident_id:
        people = ids.make_resident_ids(
            rng, rows, COUNTIES, dt.date(1950, 1, 1), dt.date(2000, 1, 1)
        )
        return pl.Series(spec.id, people)
    if spec.pii is PiiKind.uscc:
        return pl.Series(spec.id, ids.make_usccs(rng, rows, COUNTIES))
    if spec.pii is PiiKind.address:
        return pl.Series(spec.id, [f"安徽省宿州市埇桥区汴河路{i}号" for i in range(rows)])
    if spec.pii is not None:
        return pl.Series(spec.id, [f"{spec.name}{i}" for i in range(rows)])
    if spec.type is FieldType.string:
        if spec.id == "region_code" or spec.masking.rule == "region":
            choices: list[object] = list(COUNTIES)
        elif spec.role is Role.direct_identifier:
            return pl.Series(spec.id, [f"{spec.id}-{i}" for i in range(rows)])
        else:
            choices = list(vocab or []) + (["甲"] if qi else ["甲", "乙", "丙"])
        return pl.Series(spec.id, [choices[i] for i in rng.integers(0, len(choices), rows)])
    if spec.type is FieldType.int:
        return pl.Series(spec.id, rng.integers(0, 3 if qi else 50, rows), dtype=pl.Int64)
    if spec.type is FieldType.float:
        values = rng.choice([20.0, 30.0], rows) if qi else rng.gamma(2.0, 100.0, rows)
        return pl.Series(spec.id, values, dtype=pl.Float64)
    if spec.type is FieldType.bool:
        choices = [bool(v) for v in vocab] if vocab else [True, False]
        return pl.Series(spec.id, [choices[i] for i in rng.integers(0, len(choices), rows)])
    start = dt.date(2020, 1, 1) if qi else dt.date(2015, 1, 1)
    days = rng.integers(0, 300 if qi else 3000, rows)
    dates = pl.Series(spec.id, [start + dt.timedelta(days=int(d)) for d in days], dtype=pl.Date)
    if spec.id == "birth_date":
        dates = pl.Series(spec.id, [dt.date(1990, 1, 1)] * rows, dtype=pl.Date) + pl.Series(
            [dt.timedelta(days=int(d)) for d in rng.integers(0, 3000, rows)]
        )
    if spec.type is FieldType.datetime:
        return dates.cast(pl.Datetime("us")) + dt.timedelta(hours=9)
    return dates


def dataset_frame(
    dataset: Dataset,
    pools: dict[EntityKind, list[str]],
    rng: np.random.Generator,
    where: dict[tuple[str, str], list[object]],
) -> pl.DataFrame:
    n = len(next(iter(pools.values())))
    rows = 12 if dataset.grain == "statistic" else (n if dataset.grain == "entity" else 3 * n)
    primary = next(iter(dataset.keys.items()), None)
    columns = []
    for spec in dataset.fields:
        kind = next((k for k, f in dataset.keys.items() if f == spec.id), None)
        if kind is not None:
            pool = pools[kind]
            if primary is not None and kind == primary[0] and dataset.grain == "entity":
                values = list(pool)
            else:
                values = [pool[i] for i in rng.integers(0, len(pool), rows)]
            columns.append(pl.Series(spec.id, values))
        else:
            columns.append(_column(spec, rows, rng, where.get((dataset.id, spec.id))))
    return pl.DataFrame(columns)


def raw_frames(policies: Policies, n: int = 200, seed: int = 7) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    pools = entity_pools(rng, n)
    where = where_values(policies)
    return {d.id: dataset_frame(d, pools, rng, where) for d in policies.catalogue.values()}


def write_raw(directory: Path, frames: dict[str, pl.DataFrame]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for dataset_id, frame in frames.items():
        frame.write_parquet(directory / f"{dataset_id}.parquet")
    return directory
