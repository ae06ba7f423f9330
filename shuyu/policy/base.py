"""What every policy module builds on: the strict model base, ids and the field types."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

SnakeId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]


class Strict(BaseModel):
    """Base for every policy model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldType(StrEnum):
    """The type of a catalogue field; `shuyu.data.field_types` maps each to its polars
    and Arrow column type."""

    string = "string"
    int = "int"
    float = "float"
    bool = "bool"
    date = "date"
    datetime = "datetime"
