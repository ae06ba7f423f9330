"""The manifest of an authorised view: what a partner sandbox mounts, and how to read it.

A view directory holds, per scenario:

    <views>/<scenario>/train.parquet    mounted read-only into the partner's sandbox
    <views>/<scenario>/holdout.parquet  never mounted; the self-check's non-members
    <views>/<scenario>/view.json        this manifest (also embedded in both Parquet files
                                        under the schema metadata key b"shuyu.view")

Columns of both Parquet files: `entity_column` (a per-scenario one-way id of the entity,
not linkable to other scenarios' views), then every feature in order, then the label.
The model a partner trains takes exactly `feature_names` as inputs.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shuyu.errors import InputError
from shuyu.policy.models import DPBudget

MANIFEST_FILE = "view.json"
TRAIN_FILE = "train.parquet"
HOLDOUT_FILE = "holdout.parquet"
PARQUET_METADATA_KEY = b"shuyu.view"


class ViewColumn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: Literal["string", "int", "float", "bool", "date", "datetime"]
    dataset: str
    field: str
    agg: str | None = None


class ViewLabel(ViewColumn):
    task: Literal["classification", "regression"]


class ViewManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str
    entity: str
    entity_column: str = "entity_id"
    features: list[ViewColumn] = Field(min_length=1)
    label: ViewLabel
    dp: DPBudget  # the scenario's budget, so that training inside the sandbox can honour it
    train_rows: int = Field(ge=0)
    holdout_rows: int = Field(ge=0)
    train_sha256: str  # digest of train.parquet's bytes: the MLflow dataset digest
    holdout_sha256: str
    masked_digest: str  # digest of the masked inputs the view was built from
    created_at: dt.datetime

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2)


def read_manifest(view_dir: Path) -> ViewManifest:
    """Read `view.json` of one scenario's view directory, with a clear error if absent."""
    path = Path(view_dir) / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            str(path), "no view manifest here", hint="build views with `shuyu data views`"
        ) from None
    return parse_manifest(text, where=str(path))


def parse_manifest(text: str | bytes, *, where: str) -> ViewManifest:
    """A view manifest from its JSON (`where` names it in the error if it is not one)."""
    try:
        return ViewManifest.model_validate_json(text)
    except ValueError as exc:
        raise InputError(
            where,
            f"not a valid view manifest: {exc}".replace("\n", " "),
            hint="rebuild the view with `shuyu data views`",
        ) from None
