"""One vectorised polars expression per masking rule of the catalogue.

Each builder is registered with `@builds(Rule)` against a rule declared in
`shuyu.policy.masking_rules` (as Opacus registers a grad sampler against a layer type),
takes the column's expression, its rule and what else it needs to know about the column
(`Column`), and returns the masked column, of the type the rule's `masked_type`
promises. Every `expression` rule has exactly one builder (tested); pseudonyms need the
key and live in `pseudonym`; `drop` is a column that is simply not selected.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import polars as pl

from shuyu.data import regions
from shuyu.data.field_types import POLARS_TYPES
from shuyu.policy.base import FieldType
from shuyu.policy.masking_rules import (
    AgeBand,
    Bounds,
    Bucket,
    DateGeneralise,
    Keep,
    MaskingRuleBase,
    PartialMask,
    RegionGeneralise,
    TopBottomCode,
    bucket_labels,
    rule_name,
)
from shuyu.policy.models import FieldSpec


@dataclass(frozen=True)
class Column:
    """What a builder may need besides the rule: the field, its declared type, the
    masking policy's reference date and, for a clip, its bounds resolved on the data."""

    field: str
    source: FieldType
    reference: dt.date
    bounds: Bounds | None = None


Expression = Callable[[pl.Expr, Any, Column], pl.Expr]


@dataclass(frozen=True)
class Builder:
    expression: Expression
    # whether the expression is costly per row, on columns that usually hold few
    # distinct values (a county, a birth date): computing each value once and joining
    # back is then far cheaper (masking still decides by the column's distinct count)
    per_distinct_value: Callable[[Any], bool]


BUILDERS: dict[str, Builder] = {}
E = TypeVar("E", bound=Expression)


def builds(
    rule: type[MaskingRuleBase], *, per_distinct_value: bool | Callable[[Any], bool] = False
) -> Callable[[E], E]:
    """Register the expression of `rule`; a rule can have only one."""
    name = rule_name(rule)
    costly = per_distinct_value if callable(per_distinct_value) else lambda _: per_distinct_value

    def register(expression: E) -> E:
        if name in BUILDERS:
            raise TypeError(f"masking rule {name!r} has two expression builders")
        BUILDERS[name] = Builder(expression, costly)
        return expression

    return register


@builds(Keep)
def keep(col: pl.Expr, rule: Keep, column: Column) -> pl.Expr:
    return col.cast(POLARS_TYPES[column.source])


@builds(PartialMask)
def partial_mask(col: pl.Expr, rule: PartialMask, column: Column) -> pl.Expr:
    """138****1234. A value no longer than prefix + suffix is masked whole: keeping both
    ends of it would keep all of it."""
    text = col.cast(pl.String)
    length = text.str.len_chars()
    keep = rule.keep_prefix + rule.keep_suffix
    stars = pl.lit("").str.pad_end((length - keep).clip(0), rule.mask_char)
    masked = pl.concat_str(text.str.head(rule.keep_prefix), stars, text.str.tail(rule.keep_suffix))
    whole = pl.lit("").str.pad_end(length.fill_null(0), rule.mask_char)
    return pl.when(length > keep).then(masked).when(text.is_not_null()).then(whole)


# formatting a month is costly per row; a year is one cheap field
@builds(DateGeneralise, per_distinct_value=lambda rule: rule.to == "month")
def generalise_date(col: pl.Expr, rule: DateGeneralise, column: Column) -> pl.Expr:
    if rule.to == "year":
        return col.dt.year().cast(pl.Int64)
    return col.dt.strftime("%Y-%m")


@builds(AgeBand, per_distinct_value=True)
def age_band(col: pl.Expr, rule: AgeBand, column: Column) -> pl.Expr:
    """`30-39` for the age at the reference date; `80+` at or above `top`. A birth date
    after the reference date (a data error) counts as age 0 rather than a negative band."""
    reference = column.reference
    if column.source is FieldType.int:
        age = col.cast(pl.Int64)
    else:
        born = col.cast(pl.Date)
        before_birthday = (born.dt.month() > reference.month) | (
            (born.dt.month() == reference.month) & (born.dt.day() > reference.day)
        )
        age = (
            pl.lit(reference.year) - born.dt.year().cast(pl.Int64) - before_birthday.cast(pl.Int64)
        )
    age = pl.max_horizontal(age, pl.lit(0))
    low = (age // rule.width) * rule.width
    high = pl.min_horizontal(low + (rule.width - 1), pl.lit(rule.top - 1))
    band = pl.format("{}-{}", low, high)
    top = pl.lit(f"{rule.top}+")
    # max_horizontal turns a null age into 0: keep missing birth dates missing
    return pl.when(col.is_null()).then(None).when(age >= rule.top).then(top).otherwise(band)


@builds(RegionGeneralise, per_distinct_value=True)
def generalise_region(col: pl.Expr, rule: RegionGeneralise, column: Column) -> pl.Expr:
    return regions.generalise_expr(col, rule.level)


@builds(Bucket)
def bucket(col: pl.Expr, rule: Bucket, column: Column) -> pl.Expr:
    """Numbers to `[a, b)` intervals; `<a` below the first edge, `>=z` from the last."""
    value = col.cast(pl.Float64)
    labels = bucket_labels(rule.edges)
    # a when-chain rather than polars' (deprecated, then experimental) binning functions
    chain: Any = pl.when(value < rule.edges[0]).then(pl.lit(labels[0]))
    for upper, label in zip(rule.edges[1:], labels[1:], strict=False):
        chain = chain.when(value < upper).then(pl.lit(label))
    result: pl.Expr = chain.when(value.is_not_null()).then(pl.lit(labels[-1])).otherwise(None)
    return result


def clip_bounds(values: pl.Series, rule: TopBottomCode) -> Bounds:
    """The rule's bounds, quantiles resolved against the column being masked."""
    return clip_bounds_of(values.to_frame("x"), [("x", rule)])["x"]


def clip_bounds_of(
    frame: pl.DataFrame, clips: list[tuple[str, TopBottomCode]]
) -> dict[str, Bounds]:
    """Bounds of several clip rules, every quantile computed in one parallel pass."""
    wanted = [
        pl.col(column).cast(pl.Float64).quantile(q, interpolation="linear").alias(f"{column}:{q}")
        for column, rule in clips
        for q in (rule.lower_quantile, rule.upper_quantile)
        if q is not None
    ]
    found = frame.select(wanted).row(0, named=True) if wanted else {}

    def resolve(column: str, value: float | None, quantile: float | None) -> float | None:
        if value is not None or quantile is None:
            return value
        q = found.get(f"{column}:{quantile}")
        return None if q is None or math.isnan(q) else float(q)

    return {
        column: (
            resolve(column, rule.lower, rule.lower_quantile),
            resolve(column, rule.upper, rule.upper_quantile),
        )
        for column, rule in clips
    }


@builds(TopBottomCode)
def clip(col: pl.Expr, rule: TopBottomCode, column: Column) -> pl.Expr:
    if column.bounds is None:
        raise ValueError(f"clip of {column.field} needs its resolved bounds")
    lower, upper = column.bounds
    if column.source is FieldType.int:
        # integer columns stay integers: the bounds move inwards to whole numbers
        low = None if lower is None else math.ceil(lower)
        high = None if upper is None else math.floor(upper)
        if low is not None and high is not None and high < low:
            high = low
        return col.cast(pl.Int64).clip(low, high)
    return col.cast(pl.Float64).clip(lower, upper)


def masked_expr(
    spec: FieldSpec, col: pl.Expr, *, reference: dt.date, bounds: Bounds | None = None
) -> pl.Expr:
    """The masked column of `spec` (every rule but a keyed or dropped one)."""
    builder = BUILDERS.get(spec.masking.rule)
    if builder is None:
        raise ValueError(f"rule {spec.masking.rule!r} of {spec.id} has no column expression")
    return builder.expression(col, spec.masking, Column(spec.id, spec.type, reference, bounds))
