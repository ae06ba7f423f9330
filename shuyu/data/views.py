"""`shuyu data views`: the authorised view of each scenario, from the masked zone.

A view starts from the entities of the scenario's spine dataset, adds each feature and
the label (aggregated per entity where a dataset has many rows per entity, over the rows
a `where` allows), and keeps nothing else. Entities are named by a one-way id derived
per scenario from the masking key, so that two scenarios' views cannot be joined, and
are split into train and holdout by that id: the same entity always lands on the same
side, whatever the order of the input rows.

Views are only ever built from a masked zone: the masking report must be there and
every file's digest must match it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from shuyu.data.field_types import POLARS_TYPES
from shuyu.data.masking.mask import masked_digest
from shuyu.data.masking.pseudonym import KeyedHasher, letters
from shuyu.data.masking.report import REPORT_JSON, MaskingReport
from shuyu.data.view_manifest import (
    HOLDOUT_FILE,
    MANIFEST_FILE,
    PARQUET_METADATA_KEY,
    TRAIN_FILE,
    ViewColumn,
    ViewLabel,
    ViewManifest,
)
from shuyu.errors import InputError
from shuyu.fsutil import atomic_write_text, file_sha256, staged_directory
from shuyu.policy.aggregations import AGGREGATIONS, view_column_type
from shuyu.policy.base import FieldType
from shuyu.policy.models import Feature, Label, Policies, Scenario

ENTITY_COLUMN = "entity_id"
_SPLIT = "_holdout"
_KEY = "_key"


# ---------------------------------------------------------------- the masked zone


class MaskedZone:
    """A masked directory whose files match its masking report."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        path = self.directory / REPORT_JSON
        try:
            self.report = MaskingReport.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(
                str(self.directory),
                "not a masked directory: no masking_report.json (views are built only "
                "from masked data; 视图只能由脱敏数据生成)",
                hint="run `shuyu data mask --raw RAW --out DIR` and pass that DIR",
            ) from None
        except ValueError as exc:
            raise InputError(
                str(path),
                f"not a valid masking report: {exc}".replace("\n", " ")[:300],
                hint="re-run `shuyu data mask`",
            ) from None
        self._checked: dict[str, str] = {}

    def digest(self, dataset_id: str) -> str:
        """The dataset's file digest, after checking the file is the one masked."""
        if dataset_id in self._checked:
            return self._checked[dataset_id]
        entry = self.report.dataset(dataset_id)
        if entry is None:
            raise InputError(
                str(self.directory),
                f"dataset {dataset_id} is not in the masked zone",
                hint="add its raw table and re-run `shuyu data mask`",
            )
        path = self.directory / entry.file
        if not path.is_file() or file_sha256(path) != entry.sha256:
            raise InputError(
                str(path),
                "missing or changed since masking (digest differs from masking_report.json)",
                hint="re-run `shuyu data mask`",
            )
        self._checked[dataset_id] = entry.sha256
        return entry.sha256

    def read(self, dataset_id: str, columns: list[str]) -> pl.DataFrame:
        self.digest(dataset_id)
        return pl.read_parquet(self.directory / f"{dataset_id}.parquet", columns=columns)


# ---------------------------------------------------------------- columns


# the expression of each aggregation of `shuyu.policy.aggregations`, given the masked
# field's type (a test holds the two to the same names)
AGGREGATION_EXPRESSIONS: dict[str, Callable[[pl.Expr, FieldType], pl.Expr]] = {
    "count": lambda c, _: c.count(),
    # true values count as 1: a sum of flags is how many are set
    "sum": lambda c, kind: (c.cast(pl.Int64) if kind is FieldType.bool else c).sum(),
    "mean": lambda c, _: c.cast(pl.Float64).mean(),
    "min": lambda c, _: c.min(),
    "max": lambda c, _: c.max(),
    "any": lambda c, _: c.any(),
    "n_distinct": lambda c, _: c.drop_nulls().n_unique(),
    "first": lambda c, _: c.first(),
}


def _where_values(values: list[str | int | bool], dtype: pl.DataType) -> pl.Series:
    if dtype == pl.String:
        return pl.Series([str(v) for v in values], dtype=pl.String)
    return pl.Series(values).cast(dtype)


def feature_frame(
    zone: MaskedZone, policies: Policies, scenario: Scenario, feature: Feature
) -> tuple[pl.DataFrame, ViewColumn]:
    """(entity key, value) for one feature or the label."""
    dataset = policies.dataset(feature.dataset)
    key = dataset.keys.get(scenario.entity)
    if key is None:  # the policy loader refuses this; a statistic dataset has no entity
        raise InputError(
            f"scenario {scenario.id}: {feature.name}",
            f"dataset {dataset.id} has no {scenario.entity.value} key to join on",
        )
    spec = dataset.field(feature.field)
    kind = spec.masked_type
    columns = [key, feature.field]
    if feature.where is not None and feature.where.field not in columns:
        columns.append(feature.where.field)
    table = zone.read(dataset.id, columns).filter(pl.col(key).is_not_null())
    if feature.where is not None:
        wanted = _where_values(feature.where.values, table.schema[feature.where.field])
        table = table.filter(pl.col(feature.where.field).is_in(wanted.implode()))
    out_type = view_column_type(kind, feature.agg)
    if feature.agg is None:
        values = table.unique(subset=[key], keep="first", maintain_order=True).select(
            pl.col(key).alias(_KEY), pl.col(feature.field).alias(feature.name)
        )
    else:
        aggregate = AGGREGATION_EXPRESSIONS[feature.agg](pl.col(feature.field), kind)
        values = table.group_by(key).agg(aggregate.alias(feature.name))
        values = values.rename({key: _KEY})
    values = values.with_columns(pl.col(feature.name).cast(POLARS_TYPES[out_type]))
    common = {"name": feature.name, "type": out_type.value, "dataset": dataset.id}
    if isinstance(feature, Label):
        column: ViewColumn = ViewLabel(
            **common, field=feature.field, agg=feature.agg, task=feature.task
        )
    else:
        column = ViewColumn(**common, field=feature.field, agg=feature.agg)
    return values, column


# ---------------------------------------------------------------- one view


def scenario_hasher(key: bytes, scenario_id: str) -> KeyedHasher:
    """The per-scenario key that names entities in this scenario's view only."""
    return KeyedHasher(KeyedHasher(key).derive(f"shuyu.view:{scenario_id}"))


def entity_ids(hasher: KeyedHasher, keys: list[str], holdout_fraction: float) -> pl.DataFrame:
    """(key, entity_id, holdout) for each entity key: one HMAC names and splits it."""
    digests = hasher.digests(b"", (k.encode("utf-8") for k in keys))
    limit = int(holdout_fraction * 2**32)
    return pl.DataFrame(
        {
            _KEY: keys,
            ENTITY_COLUMN: [letters(d) for d in digests],
            _SPLIT: [int.from_bytes(d[16:20], "big") < limit for d in digests],
        },
        schema={_KEY: pl.String, ENTITY_COLUMN: pl.String, _SPLIT: pl.Boolean},
    )


def build_view(
    zone: MaskedZone, policies: Policies, scenario: Scenario, *, key: bytes
) -> tuple[pl.DataFrame, pl.DataFrame, ViewManifest]:
    """(train, holdout, manifest without file digests) for one scenario."""
    spine = policies.dataset(scenario.spine)
    spine_key = spine.keys[scenario.entity]
    entities = (
        zone.read(spine.id, [spine_key])
        .select(pl.col(spine_key).alias(_KEY))
        .drop_nulls()
        .unique()
        .sort(_KEY)
    )
    table = entities
    columns: list[ViewColumn] = []
    for feature in scenario.features:
        values, column = feature_frame(zone, policies, scenario, feature)
        table = table.join(values, on=_KEY, how="left", maintain_order="left")
        empty = AGGREGATIONS[feature.agg].empty if feature.agg is not None else None
        if empty is not None:
            table = table.with_columns(pl.col(feature.name).fill_null(empty))
        columns.append(column)
    label_values, label = feature_frame(zone, policies, scenario, scenario.label)
    # no label, no example: an entity without a loan of this product has no outcome
    table = table.join(label_values, on=_KEY, how="inner", maintain_order="left")
    table = table.filter(pl.col(scenario.label.name).is_not_null())

    ids = entity_ids(
        scenario_hasher(key, scenario.id), table[_KEY].to_list(), scenario.holdout_fraction
    )
    table = table.join(ids, on=_KEY, how="left").sort(ENTITY_COLUMN)
    names = [ENTITY_COLUMN, *scenario.feature_names, scenario.label.name]
    train = table.filter(~pl.col(_SPLIT)).select(names)
    holdout = table.filter(pl.col(_SPLIT)).select(names)
    assert isinstance(label, ViewLabel)
    manifest = ViewManifest(
        scenario=scenario.id,
        entity=scenario.entity.value,
        entity_column=ENTITY_COLUMN,
        features=columns,
        label=label,
        dp=scenario.dp,
        train_rows=train.height,
        holdout_rows=holdout.height,
        train_sha256="",
        holdout_sha256="",
        masked_digest=masked_digest({d: zone.digest(d) for d in scenario.datasets}),
        created_at=dt.datetime.now(dt.UTC),
    )
    return train, holdout, manifest


def write_view(
    directory: Path, train: pl.DataFrame, holdout: pl.DataFrame, manifest: ViewManifest
) -> ViewManifest:
    """Both splits with the manifest in their schema metadata, then `view.json` with the
    files' digests. The embedded copy cannot hold the digest of the file it is in, so
    its digests are empty: `view.json` is the authority for them."""
    embedded = manifest.to_json().encode("utf-8")
    for frame, name in ((train, TRAIN_FILE), (holdout, HOLDOUT_FILE)):
        arrow = frame.to_arrow()
        arrow = arrow.replace_schema_metadata({PARQUET_METADATA_KEY: embedded})
        pq.write_table(arrow, directory / name, compression="zstd")
    final = manifest.model_copy(
        update={
            "train_sha256": file_sha256(directory / TRAIN_FILE),
            "holdout_sha256": file_sha256(directory / HOLDOUT_FILE),
        }
    )
    atomic_write_text(directory / MANIFEST_FILE, final.to_json() + "\n")
    return final


def build_views(
    masked_dir: Path,
    out_dir: Path,
    *,
    policies: Policies,
    key: bytes,
    scenario_id: str | None = None,
) -> list[ViewManifest]:
    """Every scenario's view (or one), each view directory written atomically."""
    if scenario_id is not None and scenario_id not in policies.scenarios:
        raise InputError(
            "--scenario",
            "unknown scenario",
            value=scenario_id,
            hint=f"one of {', '.join(sorted(policies.scenarios))}",
        )
    zone = MaskedZone(masked_dir)
    chosen = [scenario_id] if scenario_id is not None else sorted(policies.scenarios)
    built = [(s, *build_view(zone, policies, policies.scenario(s), key=key)) for s in chosen]
    manifests = []
    out_dir = Path(out_dir)
    for sid, train, holdout, manifest in built:
        with staged_directory(out_dir / sid) as staging:
            manifests.append(write_view(staging, train, holdout, manifest))
    return manifests


def read_embedded_manifest(path: Path) -> ViewManifest:
    """The manifest stored in a view Parquet file's schema metadata."""
    metadata = pq.read_schema(path).metadata or {}
    raw = metadata.get(PARQUET_METADATA_KEY)
    if raw is None:
        raise InputError(str(path), "no shuyu view manifest in the Parquet metadata")
    return ViewManifest.model_validate_json(raw)
