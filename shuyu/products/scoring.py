"""Scoring subjects with a product's approved model: score, grade, contributing factors.

The feature table's columns are turned into the model's inputs once, at start, so that
a call gathers rows of ready arrays. A factor's contribution is what the subject's own
value of that feature adds to the score compared with the population's typical value
(the median of a number, the most frequent category), with every other feature the
subject's: the subject's row and one row per factor with that feature replaced, scored
in one onnxruntime call. Only declared factors the model reads are candidates; the
largest effects (at least `min_factor_effect`) are named by their labels, in the
direction they push — never the value, never an undeclared feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from shuyu.policy.models import ApiProduct, ProductFactor, ProductGrade
from shuyu.products.approved_model import ApprovedModel, ModelRefused
from shuyu.products.feature_table import FeatureTable


@dataclass(frozen=True)
class Factor:
    feature: str
    direction: Literal["raises", "lowers"]
    label: str
    label_en: str


@dataclass(frozen=True)
class Scored:
    score: float
    grade: ProductGrade
    factors: tuple[Factor, ...]


class ProductScorer:
    def __init__(self, product: ApiProduct, model: ApprovedModel, table: FeatureTable) -> None:
        self.product = product
        self.model = model
        self.table = table
        missing = [n for n in model.onnx.input_names if n not in table.frame.columns]
        if missing:
            raise ModelRefused(
                f"{model.label} reads {', '.join(missing)}, which the feature table of "
                f"{product.id} lacks: rebuild the table"
            )
        self._inputs = model.onnx.inputs(table.frame)
        self._factors: list[ProductFactor] = [
            f for f in product.factors if f.feature in self._inputs
        ]
        self._typical = {f.feature: _typical(self._inputs[f.feature]) for f in self._factors}

    def row_of(self, pseudonym: str) -> int | None:
        return self.table.rows.get(pseudonym)

    def score(self, rows: Sequence[int]) -> list[Scored]:
        if not rows:
            return []
        n, k = len(rows), len(self._factors)
        at = np.tile(np.asarray(rows, dtype=np.int64), k + 1)  # the rows, then once per factor
        feed = {name: values.take(at) for name, values in self._inputs.items()}
        for j, factor in enumerate(self._factors, start=1):
            feed[factor.feature][j * n : (j + 1) * n] = self._typical[factor.feature]
        out = self.model.onnx.predict(feed).astype(np.float64).reshape(k + 1, n)
        scores = out[0]
        effects = scores[None, :] - out[1:]  # [k, n]: what each factor's own value adds
        return [self._scored(float(scores[i]), effects[:, i]) for i in range(n)]

    def _scored(self, score: float, effects: np.ndarray) -> Scored:
        product = self.product
        order = np.argsort(-np.abs(effects), kind="stable")
        named: list[Factor] = []
        for j in order[: product.top_factors]:
            effect = float(effects[j])
            if abs(effect) < product.min_factor_effect:
                break
            factor = self._factors[int(j)]
            raises = effect > 0
            named.append(
                Factor(
                    feature=factor.feature,
                    direction="raises" if raises else "lowers",
                    label=factor.raises if raises else factor.lowers,
                    label_en=factor.raises_en if raises else factor.lowers_en,
                )
            )
        return Scored(score=score, grade=product.grade_of(score), factors=tuple(named))


def _typical(values: np.ndarray) -> float | int:
    """The population's typical value of one model input: the median of numbers, the
    most frequent category code."""
    if values.dtype.kind == "f":
        present = values[~np.isnan(values)]
        return float(np.median(present)) if present.size else float("nan")
    codes, counts = np.unique(values, return_counts=True)
    return int(codes[int(np.argmax(counts))])
