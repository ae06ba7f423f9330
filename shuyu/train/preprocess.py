"""Turn the view's columns into model inputs without spending privacy unaccounted for.

What the trained model carries out of the domain is the thing DP protects, so every
constant the preprocessing bakes into the exported model is a release too. The choices:

* **bool** features get a fixed vocabulary (`false`, `true`): nothing learnt from data.
* **string** features get a vocabulary of the values seen in the masked training split
  at least `min_category_count` times; rarer and unseen values share code 0 with
  missing ones. This set is data-dependent and NOT covered by ε. It is released because
  the masked zone is already k-anonymous over its quasi-identifiers (so every category
  of one is shared by ≥ k entities) and the string fields of the views are public code
  lists (industry sections, credit levels, statuses); the count threshold keeps rare
  values of the other fields out. Pass `vocabularies=` (public code lists) to make
  this step data-independent.
* **numeric** features (int, float, dates as days) are centred on their median and
  divided by their IQR/1.349, then clipped to ±`CLIP`. Two order statistics per feature
  over the whole split: also NOT covered by ε, a documented limitation (they are
  aggregates over every row, which the output rules would release anyway). Pass
  `numeric_bounds=` (public centre and scale per feature) to make it data-independent.

Whether the preprocessing was data-independent is recorded (`data_independent`) and
logged with the run, so the self-check and the reviewers see it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from shuyu.data.view_manifest import ViewColumn, ViewManifest
from shuyu.errors import InputError
from shuyu.onnx_model import model_inputs, numbers

CLIP = 5.0  # standardised values beyond ±5 carry outliers, not signal
BOOL_VOCABULARY = ("false", "true")
CATEGORICAL_TYPES = frozenset({"string", "bool"})


class NumericScaling(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    centre: float
    scale: float = Field(gt=0)


class FeatureEncoding(BaseModel):
    """How one feature enters the model: a category code or a standardised number."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: str
    kind: Literal["categorical", "numeric"]
    vocabulary: list[str] | None = None  # code i+1 is vocabulary[i]; 0 is unknown
    scaling: NumericScaling | None = None


class Preprocessor(BaseModel):
    """The fitted preprocessing, small enough to travel in the ONNX metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: list[FeatureEncoding]
    data_independent: bool
    min_category_count: int

    @property
    def numeric(self) -> list[FeatureEncoding]:
        return [f for f in self.features if f.kind == "numeric"]

    @property
    def categorical(self) -> list[FeatureEncoding]:
        return [f for f in self.features if f.kind == "categorical"]

    @property
    def vocabulary_sizes(self) -> list[int]:
        """Embedding table sizes: the vocabulary plus the unknown code."""
        return [len(f.vocabulary or ()) + 1 for f in self.categorical]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class EncodedFeatures:
    numeric: np.ndarray  # [N, n_numeric] float32, standardised and clipped
    codes: np.ndarray  # [N, n_categorical] int64


def _robust_scaling(values: np.ndarray) -> NumericScaling:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        # every value suppressed (k-anonymity does that to rare quasi-identifiers in a
        # small view): the feature stays an input of the model, carrying only "missing"
        return NumericScaling(centre=0.0, scale=1.0)
    q25, median, q75 = np.quantile(finite, [0.25, 0.5, 0.75])
    scale = float(q75 - q25) / 1.349  # the IQR of a normal is 1.349σ
    if not scale > 0:
        scale = float(np.std(finite)) or 1.0
    return NumericScaling(centre=float(median), scale=scale)


def fit_preprocessor(
    manifest: ViewManifest,
    frame: pl.DataFrame,
    *,
    min_category_count: int = 10,
    vocabularies: Mapping[str, Sequence[str]] | None = None,
    numeric_bounds: Mapping[str, NumericScaling] | None = None,
    features: Sequence[str] | None = None,
) -> Preprocessor:
    """The preprocessing of the view's features, or of the subset `features` (kept in
    the view's order)."""
    vocabularies = dict(vocabularies or {})
    numeric_bounds = dict(numeric_bounds or {})
    known = set(manifest.feature_names)
    for name in [*vocabularies, *numeric_bounds]:
        if name not in known:
            raise InputError(
                "preprocessing", "names a column that is not a feature of the view", value=name
            )
    chosen = _chosen_features(manifest, features)
    data_independent = True
    encodings: list[FeatureEncoding] = []
    for column in manifest.features:
        if column.name not in chosen:
            continue
        if column.type in CATEGORICAL_TYPES:
            if column.type == "bool":
                vocabulary = list(BOOL_VOCABULARY)
            elif column.name in vocabularies:
                vocabulary = [str(v) for v in vocabularies[column.name]]
            else:
                data_independent = False
                counts = frame[column.name].cast(pl.Utf8).drop_nulls().value_counts()
                frequent = counts.filter(pl.col("count") >= min_category_count)
                vocabulary = sorted(str(v) for v in frequent[column.name].to_list())
            encodings.append(
                FeatureEncoding(
                    name=column.name, type=column.type, kind="categorical", vocabulary=vocabulary
                )
            )
        else:
            if column.name in numeric_bounds:
                scaling = numeric_bounds[column.name]
            else:
                data_independent = False
                scaling = _robust_scaling(numbers(column.type, frame[column.name].to_numpy()))
            encodings.append(
                FeatureEncoding(name=column.name, type=column.type, kind="numeric", scaling=scaling)
            )
    return Preprocessor(
        features=encodings,
        data_independent=data_independent,
        min_category_count=min_category_count,
    )


def _chosen_features(manifest: ViewManifest, features: Sequence[str] | None) -> set[str]:
    names = manifest.feature_names
    if features is None:
        return set(names)
    unknown = [f for f in features if f not in names]
    if unknown:
        raise InputError(
            "features",
            f"not features of view {manifest.scenario}",
            value=unknown,
            hint=f"choose among {', '.join(names)}",
        )
    repeated = sorted({f for f in features if list(features).count(f) > 1})
    if repeated:
        raise InputError("features", "are listed more than once", value=repeated)
    if not features:
        raise InputError("features", "is empty", hint="name at least one feature, or leave it out")
    return set(features)


def standardise(scaling: NumericScaling, values: np.ndarray) -> np.ndarray:
    """The same arithmetic as the exported model's input layer (float32)."""
    centre, scale = np.float32(scaling.centre), np.float32(scaling.scale)
    z = (values.astype(np.float32) - centre) / scale
    z = np.where(np.isnan(z), np.float32(0), z)
    clipped: np.ndarray = np.clip(z, -CLIP, CLIP).astype(np.float32)
    return clipped


def encode(preprocessor: Preprocessor, frame: pl.DataFrame) -> EncodedFeatures:
    """The model's inputs as the network takes them: the exported model's raw inputs
    (`shuyu.onnx_model.model_inputs`), numbers standardised as its input layer does."""
    inputs = model_inputs(preprocessor, frame)
    numeric = [
        standardise(f.scaling, inputs[f.name])
        for f in preprocessor.numeric
        if f.scaling is not None
    ]
    codes = [inputs[f.name] for f in preprocessor.categorical]
    n = frame.height
    return EncodedFeatures(
        numeric=np.stack(numeric, axis=1) if numeric else np.zeros((n, 0), np.float32),
        codes=np.stack(codes, axis=1) if codes else np.zeros((n, 0), np.int64),
    )


def label_values(column: ViewColumn, frame: pl.DataFrame, task: str) -> np.ndarray:
    """The label as float32: 0/1 for classification (true/1 is the positive class)."""
    series = frame[column.name]
    if series.null_count():
        raise InputError(
            f"label {column.name}",
            "has missing values",
            value=series.null_count(),
            hint="the view must drop unlabelled rows",
        )
    values = series.cast(pl.Float64).to_numpy()
    if task == "classification" and not np.isin(values, (0.0, 1.0)).all():
        raise InputError(
            f"label {column.name}",
            "is not binary (0/1 or false/true)",
            hint="only binary classification is supported",
        )
    return values.astype(np.float32)
