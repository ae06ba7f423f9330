"""Scoring a production batch with an approved ONNX model, and saying why: each subject's
score, a grade, and the labels of the features that raise its score most — the labels
of features, never their values.

Why a score is high is measured by occlusion: each feature in turn is set to what the
model treats as unknown (NaN for a number, which the graph standardises to the training
centre; code 0 for a category) and the subject scored again; the drop in score is that
feature's effect. Effects are exact for the model at hand (no surrogate), cost one
scoring pass per feature, and need only onnxruntime (`shuyu.onnx_model`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from shuyu.errors import InputError
from shuyu.onnx_model import UNKNOWN_CODE, OnnxModel
from shuyu.policy.models import Policies

_AGG_LABEL = {
    "sum": "{field}合计",
    "mean": "{field}均值",
    "min": "{field}最小值",
    "max": "{field}最大值",
    "any": "存在{field}",
    "n_distinct": "{field}种类数",
    "first": "{field}",
}


@dataclass(frozen=True)
class Grade:
    """Scores below `below` (and at or above the previous grade's) get `code`."""

    code: str
    below: float
    name: str
    name_en: str


def grade_of(score: float, grades: Sequence[Grade]) -> Grade:
    for grade in grades:
        if score < grade.below:
            return grade
    return grades[-1]


def feature_labels(policies: Policies, scenario_id: str) -> dict[str, str]:
    """A Chinese label for each feature of a scenario, from the catalogue: the field's
    name, with what the aggregation made of it (计数 of a dataset's records, 合计 …)."""
    scenario = policies.scenario(scenario_id)
    labels: dict[str, str] = {}
    for feature in scenario.features:
        dataset = policies.dataset(feature.dataset)
        field = dataset.field(feature.field).name
        if feature.agg == "count":
            label = f"{dataset.name}记录数"
        elif feature.agg is not None:
            label = _AGG_LABEL[feature.agg].format(field=field)
        else:
            label = field
        if feature.where is not None:
            label += "（" + "、".join(str(v) for v in feature.where.values) + "）"
        labels[feature.name] = label
    return labels


def factor_effects(model: OnnxModel, batch: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(scores [N], effects [N, F]): each feature's effect on each subject's score, in the
    order of `model.input_names`."""
    inputs = model.inputs(batch)
    scores = model.predict(inputs).astype(np.float64)
    effects = np.zeros((scores.shape[0], len(model.input_names)), dtype=np.float64)
    for j, name in enumerate(model.input_names):
        occluded = dict(inputs)
        original = inputs[name]
        neutral = UNKNOWN_CODE if original.dtype == np.int64 else np.nan
        occluded[name] = np.full_like(original, neutral)
        effects[:, j] = scores - model.predict(occluded).astype(np.float64)
    return scores, effects


def explain(
    model: OnnxModel,
    batch: pl.DataFrame,
    *,
    key: str,
    labels: Mapping[str, str],
    top: int = 3,
    min_effect: float = 0.005,
) -> pl.DataFrame:
    """`key`, `score` and `factor_1` … `factor_<top>`: the labels of the features that
    raise the subject's score most (by at least `min_effect`), empty where fewer do."""
    if key not in batch.columns:
        raise InputError("batch", "lacks the key column", value=key)
    missing = [n for n in model.input_names if n not in labels]
    if missing:
        raise InputError("labels", "lack features the model reads", value=missing)
    scores, effects = factor_effects(model, batch)
    order = np.argsort(-effects, axis=1, kind="stable")[:, :top]
    names = np.asarray([labels[n] for n in model.input_names], dtype=object)
    columns: dict[str, object] = {key: batch.get_column(key), "score": np.round(scores, 4)}
    for k in range(top):
        picked = order[:, k] if k < order.shape[1] else np.zeros(len(scores), dtype=int)
        strong = effects[np.arange(len(scores)), picked] >= min_effect
        columns[f"factor_{k + 1}"] = np.where(strong, names[picked], "").astype(str)
    return pl.DataFrame(columns)


def with_grades(frame: pl.DataFrame, grades: Sequence[Grade], *, column: str) -> pl.DataFrame:
    """`frame` with the grade code of its `score` in `column`, after `score`."""
    if not grades or [g.below for g in grades] != sorted(g.below for g in grades):
        raise InputError("grades", "list grades by increasing `below`")
    codes = [grade_of(float(s), grades).code for s in frame.get_column("score").to_list()]
    at = frame.columns.index("score") + 1
    return frame.insert_column(at, pl.Series(column, codes, dtype=pl.String))


def pricing_factors(
    scores: np.ndarray | pl.Series,
    base_rate: float,
    *,
    floor: float = 0.7,
    cap: float = 1.5,
    step: float = 0.05,
) -> np.ndarray:
    """Premium relativities: each subject's claim probability over the base rate, rounded
    to `step` and kept within [floor, cap] (费率调整系数)."""
    if base_rate <= 0:
        raise InputError("base_rate", "must be above 0", value=base_rate)
    ratio = np.asarray(scores, dtype=np.float64) / base_rate
    return np.clip(np.round(ratio / step) * step, floor, cap).round(2)
