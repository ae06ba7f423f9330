"""A product's in-domain feature table: the masked features of every subject, by pseudonym.

Built from the masked zone (never the raw tables) by the view builder's own feature
expressions, so that a subject's features are exactly what the model saw in training:
every entity of the scenario's spine, named by its masked key (the pseudonym the
product API computes from the consumer's identifier), with the product's declared
features and nothing else (no label, no per-scenario entity id). The table never leaves
the domain: the product service reads it at start and indexes it in memory.

    <tables>/<product>.parquet   column `subject`, then the declared features in the
                                 scenario's order; the manifest in the schema metadata
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

from shuyu.data.masking.mask import masked_digest
from shuyu.data.views import MaskedZone, feature_frame
from shuyu.errors import InputError
from shuyu.policy.aggregations import AGGREGATIONS
from shuyu.policy.models import ApiProduct, Policies

SUBJECT_COLUMN = "subject"
METADATA_KEY = b"shuyu.product_features"


class FeatureTableManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    product: str
    scenario: str
    features: list[str]
    rows: int
    masked_digest: str
    created_at: dt.datetime


def table_path(directory: Path, product_id: str) -> Path:
    return Path(directory) / f"{product_id}.parquet"


def build_feature_table(
    masked_dir: Path, policies: Policies, product: ApiProduct
) -> tuple[pl.DataFrame, FeatureTableManifest]:
    zone = MaskedZone(masked_dir)
    scenario = policies.scenario(product.scenario)
    spine = policies.dataset(scenario.spine)
    key = spine.keys[scenario.entity]
    table = (
        zone.read(spine.id, [key])
        .select(pl.col(key).alias(SUBJECT_COLUMN))
        .drop_nulls()
        .unique()
        .sort(SUBJECT_COLUMN)
    )
    declared = set(product.features)
    features = [f for f in scenario.features if f.name in declared]
    for feature in features:
        values, _column = feature_frame(zone, policies, scenario, feature)
        values = values.rename({values.columns[0]: SUBJECT_COLUMN})
        table = table.join(values, on=SUBJECT_COLUMN, how="left", maintain_order="left")
        empty = AGGREGATIONS[feature.agg].empty if feature.agg is not None else None
        if empty is not None:
            table = table.with_columns(pl.col(feature.name).fill_null(empty))
    used = {f.dataset for f in features} | {spine.id}
    manifest = FeatureTableManifest(
        product=product.id,
        scenario=scenario.id,
        features=[f.name for f in features],
        rows=table.height,
        masked_digest=masked_digest({d: zone.digest(d) for d in sorted(used)}),
        created_at=dt.datetime.now(dt.UTC),
    )
    return table, manifest


def write_feature_table(
    directory: Path, table: pl.DataFrame, manifest: FeatureTableManifest
) -> Path:
    """`<directory>/<product>.parquet`, replaced atomically, readable by its owner only
    (it is masked data, but of every subject)."""
    target = table_path(directory, manifest.product)
    target.parent.mkdir(parents=True, exist_ok=True)
    arrow = table.to_arrow().replace_schema_metadata(
        {METADATA_KEY: manifest.model_dump_json().encode("utf-8")}
    )
    staging = target.with_name(f".{target.name}.tmp")
    pq.write_table(arrow, staging, compression="zstd")
    staging.chmod(0o600)
    os.replace(staging, target)
    return target


@dataclass(frozen=True)
class FeatureTable:
    """A product's feature table in memory: its frame and the row of each pseudonym."""

    manifest: FeatureTableManifest
    frame: pl.DataFrame  # the declared features only, in the table's order
    rows: dict[str, int]

    @classmethod
    def load(cls, path: Path, product: ApiProduct) -> FeatureTable:
        path = Path(path)
        try:
            raw = (pq.read_schema(path).metadata or {}).get(METADATA_KEY)
        except FileNotFoundError:
            raise InputError(
                str(path),
                f"no feature table for product {product.id} (产品特征表不存在)",
                hint="build it with `shuyu products features --masked DIR`",
            ) from None
        if raw is None:
            raise InputError(str(path), "not a product feature table (no manifest)")
        manifest = FeatureTableManifest.model_validate_json(raw)
        if manifest.product != product.id or manifest.scenario != product.scenario:
            raise InputError(
                str(path),
                f"is the table of {manifest.product} ({manifest.scenario}), not {product.id}",
            )
        frame = pl.read_parquet(path)
        undeclared = [c for c in frame.columns[1:] if c not in product.features]
        if frame.columns[:1] != [SUBJECT_COLUMN] or undeclared:
            raise InputError(
                str(path),
                f"holds columns the product does not declare: {', '.join(undeclared)}"
                if undeclared
                else f"has no {SUBJECT_COLUMN} column first",
                hint="rebuild it with `shuyu products features`",
            )
        subjects = frame[SUBJECT_COLUMN].to_list()
        return cls(
            manifest=manifest,
            frame=frame.drop(SUBJECT_COLUMN),
            rows={s: i for i, s in enumerate(subjects)},
        )
