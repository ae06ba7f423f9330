"""One vectorised polars expression per masking rule of the catalogue.

Each builder takes the column's expression and its rule and returns the masked column,
of the type `shuyu.policy.masked_types.masked_type` promises. Pseudonyms need the key
and a look-up of unique values, so they live in `pseudonym`; `drop` is a column that is
simply not selected.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable
from typing import Any

import polars as pl

from shuyu.data import regions
from shuyu.policy.models import (
    AgeBand,
    Bucket,
    DateGeneralise,
    FieldSpec,
    FieldType,
    PartialMask,
    Pseudonym,
    RegionGeneralise,
    TopBottomCode,
)

POLARS_TYPES: dict[FieldType, pl.DataType] = {
    FieldType.string: pl.String(),
    FieldType.int: pl.Int64(),
    FieldType.float: pl.Float64(),
    FieldType.bool: pl.Boolean(),
    FieldType.date: pl.Date(),
    FieldType.datetime: pl.Datetime("us"),
}


def partial_mask(col: pl.Expr, rule: PartialMask) -> pl.Expr:
    """138****1234. A value no longer than prefix + suffix is masked whole: keeping both
    ends of it would keep all of it."""
    text = col.cast(pl.String)
    length = text.str.len_chars()
    keep = rule.keep_prefix + rule.keep_suffix
    stars = pl.lit("").str.pad_end((length - keep).clip(0), rule.mask_char)
    masked = pl.concat_str(text.str.head(rule.keep_prefix), stars, text.str.tail(rule.keep_suffix))
    whole = pl.lit("").str.pad_end(length.fill_null(0), rule.mask_char)
    return pl.when(length > keep).then(masked).when(text.is_not_null()).then(whole)


def generalise_date(col: pl.Expr, rule: DateGeneralise) -> pl.Expr:
    if rule.to == "year":
        return col.dt.year().cast(pl.Int64)
    return col.dt.strftime("%Y-%m")


def age_band(col: pl.Expr, rule: AgeBand, *, source: FieldType, reference: dt.date) -> pl.Expr:
    """`30-39` for the age at `reference`; `80+` at or above `top`. A birth date after
    the reference date (a data error) counts as age 0 rather than a negative band."""
    if source is FieldType.int:
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


def generalise_region(col: pl.Expr, rule: RegionGeneralise) -> pl.Expr:
    return regions.generalise_expr(col, rule.level)


def bucket_labels(edges: list[float]) -> list[str]:
    shown = [_number(e) for e in edges]
    inner = [f"[{a}, {b})" for a, b in itertools.pairwise(shown)]
    return [f"<{shown[0]}", *inner, f">={shown[-1]}"]


def bucket(col: pl.Expr, rule: Bucket) -> pl.Expr:
    """Numbers to `[a, b)` intervals; `<a` below the first edge, `>=z` from the last."""
    value = col.cast(pl.Float64)
    labels = bucket_labels(rule.edges)
    # a when-chain rather than polars' (deprecated, then experimental) binning functions
    chain: Any = pl.when(value < rule.edges[0]).then(pl.lit(labels[0]))
    for upper, label in zip(rule.edges[1:], labels[1:], strict=False):
        chain = chain.when(value < upper).then(pl.lit(label))
    result: pl.Expr = chain.when(value.is_not_null()).then(pl.lit(labels[-1])).otherwise(None)
    return result


Bounds = tuple[float | None, float | None]


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


def clip(col: pl.Expr, bounds: tuple[float | None, float | None], *, source: FieldType) -> pl.Expr:
    lower, upper = bounds
    if source is FieldType.int:
        # integer columns stay integers: the bounds move inwards to whole numbers
        low = None if lower is None else math.ceil(lower)
        high = None if upper is None else math.floor(upper)
        if low is not None and high is not None and high < low:
            high = low
        return col.cast(pl.Int64).clip(low, high)
    return col.cast(pl.Float64).clip(lower, upper)


def masked_expr(
    spec: FieldSpec,
    col: pl.Expr,
    *,
    reference: dt.date,
    bounds: tuple[float | None, float | None] | None = None,
) -> pl.Expr:
    """The masked column for every rule except pseudonym and drop."""
    rule = spec.masking
    if isinstance(rule, TopBottomCode):
        if bounds is None:
            raise ValueError(f"clip of {spec.id} needs its resolved bounds")
        return clip(col, bounds, source=spec.type)
    if isinstance(rule, AgeBand):
        return age_band(col, rule, source=spec.type, reference=reference)
    builders: dict[type, Callable[[pl.Expr, Any], pl.Expr]] = {
        PartialMask: partial_mask,
        DateGeneralise: generalise_date,
        RegionGeneralise: generalise_region,
        Bucket: bucket,
    }
    builder = builders.get(type(rule))
    if builder is not None:
        return builder(col, rule)
    if rule.rule == "keep":
        return col.cast(POLARS_TYPES[spec.type])
    raise ValueError(f"rule {rule.rule!r} of {spec.id} has no column expression")


def describe(spec: FieldSpec, bounds: tuple[float | None, float | None] | None = None) -> str:
    """The rule as one line for the masking report."""
    rule = spec.masking
    if isinstance(rule, TopBottomCode):
        low, high = bounds if bounds is not None else (None, None)
        shown = [
            f"lower {_number(low)}" if low is not None else "",
            f"upper {_number(high)}" if high is not None else "",
        ]
        return "clip: " + ", ".join(s for s in shown if s)
    texts = {
        PartialMask: lambda r: f"partial: keep {r.keep_prefix}+{r.keep_suffix}, mask {r.mask_char}",
        DateGeneralise: lambda r: f"date: to {r.to}",
        AgeBand: lambda r: f"age_band: width {r.width}, {r.top}+",
        RegionGeneralise: lambda r: f"region: to {r.level}",
        Bucket: lambda r: f"bucket: {', '.join(bucket_labels(r.edges))}",
    }
    text: Callable[[Any], str] | None = texts.get(type(rule))
    if text is not None:
        return text(rule)
    return f"pseudonym: namespace {rule.namespace}" if isinstance(rule, Pseudonym) else rule.rule


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
