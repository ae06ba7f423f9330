"""A trained shuyu model as ONNX, for scoring where there is no torch: a production run,
the review gate, a notebook without the training stack.

The model takes one input per feature it was trained on, named as the view's column,
shape [N]: numbers (int, float, dates as days since 1970-01-01) as float32 with NaN for
missing, strings and bools as int64 category codes (vocabulary position + 1, 0 for
missing or unknown). The vocabularies and the numeric types travel in the model's
metadata (`shuyu.preprocessing`), so a frame of view columns becomes the model's inputs
with nothing but numpy; the standardisation is inside the graph.

This module imports only numpy, onnx, onnxruntime and json (and shuyu's errors):
keep it that way, a container without torch or polars must be able to use it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import onnx

from shuyu.errors import InputError

OUTPUT_NAME = "score"
PREPROCESSING_KEY = "shuyu.preprocessing"
_MICROSECONDS_PER_DAY = 86_400_000_000
UNKNOWN_CODE = 0  # missing, rare and unseen categories


class _Dumps(Protocol):
    """A pydantic model (the training side's `Preprocessor`)."""

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


Preprocessing = Mapping[str, Any] | _Dumps
"""The `shuyu.preprocessing` metadata: its JSON, or the `Preprocessor` it was made from."""


class OnnxModel:
    """A shuyu ONNX model and what it needs to score a frame of view columns."""

    def __init__(self, proto: onnx.ModelProto) -> None:
        self.proto = proto
        self._session: Any = None

    @classmethod
    def load(cls, source: ModelSource) -> OnnxModel:
        """From a model, its serialised bytes or a file."""
        if isinstance(source, OnnxModel):
            return source
        if isinstance(source, onnx.ModelProto):
            return cls(source)
        if isinstance(source, bytes):
            return cls(onnx.load_from_string(source))
        try:
            return cls(onnx.load(os.fspath(source)))
        except FileNotFoundError:
            raise InputError(str(source), "no such ONNX model file") from None

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.proto.graph.input]

    @property
    def metadata(self) -> dict[str, str]:
        """The model's `shuyu.*` metadata (scenario, view digest, ε, δ, preprocessing)."""
        return {p.key: p.value for p in self.proto.metadata_props if p.key.startswith("shuyu.")}

    @property
    def preprocessing(self) -> dict[str, Any]:
        raw = self.metadata.get(PREPROCESSING_KEY)
        if raw is None:
            raise InputError(
                "ONNX model",
                f"has no {PREPROCESSING_KEY} metadata",
                hint="score only models exported by shuyu.train",
            )
        parsed: dict[str, Any] = json.loads(raw)
        return parsed

    def inputs(self, frame: Any) -> dict[str, np.ndarray]:
        """The model's inputs from a frame (polars, or a mapping) of view columns."""
        return model_inputs(self.preprocessing, frame)

    def predict(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """`score` for every row: the positive class's probability, or the prediction."""
        missing = [name for name in self.input_names if name not in inputs]
        if missing:
            raise InputError("model inputs", "lack inputs the model needs", value=missing)
        if self._session is None:
            import onnxruntime as ort  # noqa: PLC0415 - only when scoring

            self._session = ort.InferenceSession(
                self.proto.SerializeToString(), providers=["CPUExecutionProvider"]
            )
        result = self._session.run([OUTPUT_NAME], {n: inputs[n] for n in self.input_names})
        return np.asarray(result[0])

    def score(self, frame: Any) -> np.ndarray:
        return self.predict(self.inputs(frame))


ModelSource = OnnxModel | onnx.ModelProto | bytes | str | os.PathLike[str]
"""A model, its serialised bytes or the path of its file."""


def onnx_predict(model: ModelSource, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    return OnnxModel.load(model).predict(inputs)


# ---------------------------------------------------------------- view columns to inputs


def model_inputs(preprocessing: Preprocessing, frame: Any) -> dict[str, np.ndarray]:
    """One array per feature, as the exported model takes them: float32 numbers (NaN for
    missing), int64 codes for strings and bools. `frame` is a polars DataFrame or a
    mapping of column name to values; only the model's features are read."""
    features: Sequence[Mapping[str, Any]] = _as_json(preprocessing)["features"]
    columns = set(frame.columns) if hasattr(frame, "columns") else set(frame)
    out: dict[str, np.ndarray] = {}
    for feature in features:
        name = feature["name"]
        if name not in columns:
            raise InputError("data", "lacks a feature the model needs", value=name)
        values = _values(frame[name])
        if feature["kind"] == "categorical":
            out[name] = category_codes(feature["vocabulary"] or [], feature["type"], values)
        else:
            out[name] = numbers(feature["type"], values).astype(np.float32)
    return out


def numbers(column_type: str, values: np.ndarray) -> np.ndarray:
    """The float64 numbers a numeric feature stands for (NaN for missing): dates as days
    since 1970-01-01, times as fractional days."""
    if column_type == "date":
        days = values.astype("datetime64[D]")
        return np.where(np.isnat(days), np.nan, days.astype(np.int64).astype(np.float64))
    if column_type == "datetime":
        moments = values.astype("datetime64[us]")
        exact = moments.astype(np.int64) / _MICROSECONDS_PER_DAY
        return np.where(np.isnat(moments), np.nan, exact)
    if values.dtype == object:
        return np.asarray([np.nan if v is None else float(v) for v in values], np.float64)
    return values.astype(np.float64)


def category_codes(vocabulary: Sequence[str], column_type: str, values: np.ndarray) -> np.ndarray:
    """Vocabulary position + 1 of each value, 0 for missing or unknown; bools are the
    words `true` and `false`."""
    codes = np.full(values.shape[0], UNKNOWN_CODE, dtype=np.int64)
    # a value listed twice keeps its last position, as a dict of the list would
    lookup = {value: code for code, value in enumerate(vocabulary, start=1)}
    labels, present = _labels(column_type, values)
    if not lookup or not present.any():
        return codes
    known = np.asarray(sorted(lookup), dtype=np.str_)
    known_codes = np.asarray([lookup[k] for k in known.tolist()], dtype=np.int64)
    wanted = labels[present]
    at = np.minimum(np.searchsorted(known, wanted), known.size - 1)
    hit = known[at] == wanted
    found = codes[present]
    found[hit] = known_codes[at[hit]]
    codes[present] = found
    return codes


def _labels(column_type: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(text of each value, whether it is present) for a categorical column."""
    if values.dtype == object:
        present = np.asarray([v is not None for v in values], dtype=bool)
    else:
        present = np.ones(values.shape[0], dtype=bool)
    if column_type == "bool":
        text = np.full(values.shape[0], "", dtype="<U5")
        text[present] = np.where(values[present].astype(bool), "true", "false")
        return text, present
    text = np.where(present, values, "").astype(np.str_)
    return text, present


def _values(column: Any) -> np.ndarray:
    to_numpy = getattr(column, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy is not None else column)


def _as_json(preprocessing: Preprocessing) -> Mapping[str, Any]:
    if isinstance(preprocessing, Mapping):
        return preprocessing
    return preprocessing.model_dump(mode="json")
