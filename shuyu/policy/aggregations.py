"""Aggregations of a feature over an entity's rows (`agg:` of a scenario feature): one
spec each, in one registry.

A spec says which masked field types the aggregation takes, the type of the view column
it makes, the value of an entity with no rows and whether only a count of rows reaches
the view. The scenario checks of `shuyu.policy.load` and the view builder
(`shuyu.data.views`, which registers the polars expression under the same name) read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from shuyu.policy.base import FieldType

_ANY = frozenset(FieldType)
_NUMBERS = frozenset({FieldType.int, FieldType.float, FieldType.bool})


@dataclass(frozen=True)
class AggregationSpec:
    name: str
    accepts: frozenset[FieldType]
    refusal: str  # why another type is refused: {agg}, {field} and {kind} are filled in
    output: Callable[[FieldType], FieldType]  # the view column's type from the field's
    empty: int | bool | None = None  # an entity without rows: 0 events, not unknown
    counts_only: bool = False  # only how many rows reach the view, never a value


def _same(kind: FieldType) -> FieldType:
    return kind


def _sum_type(kind: FieldType) -> FieldType:
    return FieldType.float if kind is FieldType.float else FieldType.int


_NEEDS_NUMBER = "{agg} needs a number, but the masked {field} is {kind}"

AGGREGATIONS: dict[str, AggregationSpec] = {
    spec.name: spec
    for spec in (
        AggregationSpec("count", _ANY, "", lambda _: FieldType.int, empty=0, counts_only=True),
        AggregationSpec("sum", _NUMBERS, _NEEDS_NUMBER, _sum_type, empty=0),
        AggregationSpec("mean", _NUMBERS, _NEEDS_NUMBER, lambda _: FieldType.float),
        AggregationSpec("min", _NUMBERS, _NEEDS_NUMBER, _same),
        AggregationSpec("max", _NUMBERS, _NEEDS_NUMBER, _same),
        AggregationSpec(
            "any",
            frozenset({FieldType.bool}),
            "any needs a bool field",
            lambda _: FieldType.bool,
            empty=False,
        ),
        AggregationSpec("n_distinct", _ANY, "", lambda _: FieldType.int, empty=0, counts_only=True),
        AggregationSpec("first", _ANY, "", _same),
    )
}

if TYPE_CHECKING:
    Aggregation = str
else:
    # a literal, so that a wrong name is refused with the list of the right ones
    Aggregation = Literal[tuple(AGGREGATIONS)]


def view_column_type(kind: FieldType, agg: str | None) -> FieldType:
    """The type of a view column: the masked field's, changed by its aggregation."""
    return kind if agg is None else AGGREGATIONS[agg].output(kind)
