"""A declarative training spec for certified training: what is trained, on which
features, with which hyper-parameters, written in a YAML or JSON file.

    model: mlp            # logistic (no hidden layer) or mlp
    hidden: [64, 32]      # mlp only: up to 4 layers of up to 512 units
    embedding_dim: 4
    features: [credit_level, total_assets]   # optional: a subset of the view's features
    epochs: 10
    batch_size: 512
    learning_rate: 0.5
    max_grad_norm: 1.0
    seed: 0
    epsilon: 2.0          # optional: at most the scenario's budget (default: all of it)

A spec is always private. Unknown keys are errors, and every error names the file, the
field and the value, and says what to do. `spec_sha256` is the digest of the validated
spec (defaults filled in, keys sorted), so the same training has the same digest
however the file is written — the service records it at submission and the approval
carries it. This module needs no torch (the service validates specs with it);
`shuyu.train.spec_training.fit_spec` trains one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from shuyu.errors import InputError
from shuyu.policy.base import SnakeId

MAX_HIDDEN_LAYERS = 4
MAX_HIDDEN_UNITS = 512
MODEL_FAMILIES = ("logistic", "mlp")
DEFAULT_HIDDEN = (64, 32)

_HINTS = {
    "model": f"use one of {', '.join(MODEL_FAMILIES)}",
    "hidden": f"give 1 to {MAX_HIDDEN_LAYERS} layer sizes of 1 to {MAX_HIDDEN_UNITS} units, "
    "e.g. [64, 32], and only for model: mlp",
    "embedding_dim": "use a whole number from 1 to 64",
    "features": "list feature names of the view, each once, or leave the key out for all",
    "epochs": "use a whole number from 1 to 1000",
    "batch_size": "use a whole number of at least 1 (the expected Poisson batch size)",
    "learning_rate": "use a number above 0",
    "max_grad_norm": "use a number above 0 (the per-sample clipping bound C)",
    "seed": "use a whole number of at least 0",
    "epsilon": "use a number above 0, at most the scenario's ε, or leave it out",
    "delta": "use a number above 0, at most the scenario's δ, or leave it out",
    "private": "a training spec is always private: remove the key or set it to true",
}


class TrainingSpec(BaseModel):
    """One certified training run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["logistic", "mlp"]
    hidden: tuple[int, ...] = ()  # mlp: default (64, 32)
    embedding_dim: int = Field(default=4, ge=1, le=64)
    features: tuple[SnakeId, ...] | None = Field(default=None, min_length=1)
    epochs: int = Field(default=10, ge=1, le=1000)
    batch_size: int = Field(default=512, ge=1)
    learning_rate: float = Field(default=0.5, gt=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    seed: int = Field(default=0, ge=0, lt=2**63)
    epsilon: float | None = Field(default=None, gt=0)
    delta: float | None = Field(default=None, gt=0, lt=1)
    private: Literal[True] = True
    _source: str = PrivateAttr(default="training spec")  # the file, for messages

    @model_validator(mode="before")
    @classmethod
    def _default_hidden(cls, data: Any) -> Any:
        # filled in before validation, so that the digest is the same written out or not
        if isinstance(data, dict) and data.get("model") == "mlp" and "hidden" not in data:
            return {**data, "hidden": list(DEFAULT_HIDDEN)}
        return data

    @model_validator(mode="after")
    def _hidden_fits_the_family(self) -> TrainingSpec:
        if self.model == "logistic" and self.hidden:
            raise ValueError("hidden: a logistic model has no hidden layer; use model: mlp")
        hidden = self.hidden
        if len(hidden) > MAX_HIDDEN_LAYERS or not all(1 <= h <= MAX_HIDDEN_UNITS for h in hidden):
            raise ValueError(
                f"hidden: at most {MAX_HIDDEN_LAYERS} layers of 1 to {MAX_HIDDEN_UNITS} units"
            )
        if self.model == "mlp" and not hidden:
            raise ValueError("hidden: an mlp needs at least one hidden layer")
        if self.features is not None and len(set(self.features)) != len(self.features):
            raise ValueError("features: a feature is listed more than once")
        return self

    @property
    def source(self) -> str:
        return self._source


def load_spec(path: Path | str) -> TrainingSpec:
    """Read and validate a spec file (`.json` as JSON, anything else as YAML)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "no such training spec", hint="check the path") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise InputError(
            str(path),
            f"is not valid {kind}: {exc}".replace("\n", " ")[:300],
            hint="fix the syntax",
        ) from None
    return parse_spec(data, str(path))


def parse_spec(data: Any, source: str = "training spec") -> TrainingSpec:
    """Validate a spec already read (a submission's `spec`); errors name `source`."""
    if not isinstance(data, dict):
        raise InputError(
            source,
            "must be a mapping of spec keys to values",
            value=type(data).__name__,
            hint="start with `model: logistic` or `model: mlp`",
        )
    try:
        spec = TrainingSpec.model_validate(data)
    except ValidationError as exc:
        raise _spec_error(Path(source), exc, data) from None
    spec._source = source
    return spec


def _spec_error(path: Path, exc: ValidationError, data: dict[str, Any]) -> InputError:
    """The first problem of a spec, as `file: field: reason (got value); what to do`."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    reason = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if not loc and ": " in reason:  # a check across fields names its field first
        field, reason = reason.split(": ", 1)
        loc, value = [field], data.get(field)
    field = loc[0] if loc else ""
    where = f"{path}: {'.'.join(loc)}"
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(TrainingSpec.model_fields)
        return InputError(where, "is not a spec key", hint=f"remove it; the keys are {allowed}")
    if error["type"] == "missing":
        return InputError(where, "is required", hint=_HINTS.get(field, ""))
    return InputError(where, reason, value=value, hint=_HINTS.get(field, ""))


def spec_sha256(spec: TrainingSpec) -> str:
    """SHA-256 of the validated spec as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(
        spec.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
