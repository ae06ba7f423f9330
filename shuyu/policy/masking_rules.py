"""The masking rules (脱敏规则) a catalogue field can name: one class per rule, registered.

A rule's class is its whole declaration: the parameters a catalogue entry's `masking:`
is parsed into, the field types it accepts, the type of the masked column and the line
the masking report shows. `@masking_rule` registers it under the name its `rule:`
literal gives, and everything that needs to know the rules (the catalogue's validation,
the error locations of `shuyu.policy.load`, masking, views, the report) reads `RULES`.

The polars expression of an `expression` rule is registered under the same name in
`shuyu.data.masking.rules`, with a test that every such rule has exactly one: this
package imports no polars, because the hub loads the policies without the data stack.
So adding a rule is one class here and one builder there.
"""

from __future__ import annotations

import functools
import itertools
import operator
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, TypeVar, get_args

from pydantic import Field, model_validator

from shuyu.policy.base import FieldType, SnakeId, Strict

Bounds = tuple[float | None, float | None]
ColumnKind = Literal["expression", "keyed", "dropped"]
"""How masking produces the column: a polars expression of the value alone, a keyed
pseudonym (needs the masking key, so it lives in `shuyu.data.masking.pseudonym`), or no
column at all."""

_NUMERIC = frozenset({FieldType.int, FieldType.float})
_TEMPORAL = frozenset({FieldType.date, FieldType.datetime})


class MaskingRuleBase(Strict):
    """What every rule declares; a rule overrides what differs from these defaults."""

    rule: str
    accepts: ClassVar[frozenset[FieldType]] = frozenset(FieldType)
    column: ClassVar[ColumnKind] = "expression"

    def masked_type(self, source: FieldType) -> FieldType:
        """The type of the masked column of a `source` field: most rules make labels."""
        return FieldType.string

    def describe(self, bounds: Bounds | None = None) -> str:
        """The rule with its parameters, one line of the masking report; `bounds` are a
        clip's bounds resolved against the column."""
        return self.rule


RULES: dict[str, type[MaskingRuleBase]] = {}
"""Every masking rule by name, in the order they are declared."""

R = TypeVar("R", bound=type[MaskingRuleBase])


def rule_name(rule: type[MaskingRuleBase]) -> str:
    """The name a rule class is written as in the catalogue (its `rule:` literal)."""
    (name,) = get_args(rule.model_fields["rule"].annotation)
    return str(name)


def masking_rule(rule: R) -> R:
    """Register a rule class under its name; a name can be declared only once."""
    name = rule_name(rule)
    if name in RULES:
        raise TypeError(f"masking rule {name!r} is declared twice")
    RULES[name] = rule
    return rule


@masking_rule
class Keep(MaskingRuleBase):
    rule: Literal["keep"]

    def masked_type(self, source: FieldType) -> FieldType:
        return source


@masking_rule
class Drop(MaskingRuleBase):
    rule: Literal["drop"]
    column: ClassVar[ColumnKind] = "dropped"


@masking_rule
class Pseudonym(MaskingRuleBase):
    """Keyed pseudonym (HMAC-SHA256). One namespace per kind of identifier, so that the
    same credit code gets the same pseudonym in every table (joins still work) while a
    person's ID and an enterprise's code can never be linked through their pseudonyms."""

    rule: Literal["pseudonym"]
    namespace: SnakeId
    accepts: ClassVar[frozenset[FieldType]] = frozenset({FieldType.string, FieldType.int})
    column: ClassVar[ColumnKind] = "keyed"

    def describe(self, bounds: Bounds | None = None) -> str:
        return f"pseudonym: namespace {self.namespace}"


@masking_rule
class PartialMask(MaskingRuleBase):
    """138****1234: keep a prefix and a suffix, mask the middle."""

    rule: Literal["partial"]
    keep_prefix: int = Field(default=3, ge=0)
    keep_suffix: int = Field(default=4, ge=0)
    mask_char: str = Field(default="*", min_length=1, max_length=1)
    accepts: ClassVar[frozenset[FieldType]] = frozenset({FieldType.string})

    def describe(self, bounds: Bounds | None = None) -> str:
        return f"partial: keep {self.keep_prefix}+{self.keep_suffix}, mask {self.mask_char}"


@masking_rule
class DateGeneralise(MaskingRuleBase):
    """A date or time to its year (a number) or its month (`2024-05`)."""

    rule: Literal["date"]
    to: Literal["year", "month"]
    accepts: ClassVar[frozenset[FieldType]] = _TEMPORAL

    def masked_type(self, source: FieldType) -> FieldType:
        return FieldType.int if self.to == "year" else FieldType.string

    def describe(self, bounds: Bounds | None = None) -> str:
        return f"date: to {self.to}"


@masking_rule
class AgeBand(MaskingRuleBase):
    """Birth date (or age in years) to a band such as `30-39`, ages at the masking
    policy's reference date; ages at or above `top` share one band (`80+`)."""

    rule: Literal["age_band"]
    width: int = Field(default=10, ge=1)
    top: int = Field(default=80, ge=1)
    accepts: ClassVar[frozenset[FieldType]] = _TEMPORAL | {FieldType.int}

    def describe(self, bounds: Bounds | None = None) -> str:
        return f"age_band: width {self.width}, {self.top}+"


@masking_rule
class RegionGeneralise(MaskingRuleBase):
    """Administrative codes (341302) or addresses (安徽省宿州市埇桥区…) cut to a level."""

    rule: Literal["region"]
    level: Literal["province", "city", "county"]
    accepts: ClassVar[frozenset[FieldType]] = frozenset({FieldType.string})

    def describe(self, bounds: Bounds | None = None) -> str:
        return f"region: to {self.level}"


@masking_rule
class Bucket(MaskingRuleBase):
    """Numbers to labelled intervals `[a, b)`; below the first edge `<a`, above `>=z`."""

    rule: Literal["bucket"]
    edges: list[float] = Field(min_length=1)
    accepts: ClassVar[frozenset[FieldType]] = _NUMERIC

    @model_validator(mode="after")
    def _ascending(self) -> Bucket:
        if any(b <= a for a, b in itertools.pairwise(self.edges)):
            raise ValueError("bucket edges must be strictly ascending")
        return self

    def describe(self, bounds: Bounds | None = None) -> str:
        return f"bucket: {', '.join(bucket_labels(self.edges))}"


@masking_rule
class TopBottomCode(MaskingRuleBase):
    """Clip numbers to [lower, upper], given as values or as quantiles of the column."""

    rule: Literal["clip"]
    lower: float | None = None
    upper: float | None = None
    lower_quantile: float | None = Field(default=None, ge=0, le=1)
    upper_quantile: float | None = Field(default=None, ge=0, le=1)
    accepts: ClassVar[frozenset[FieldType]] = _NUMERIC

    @model_validator(mode="after")
    def _one_bound_each(self) -> TopBottomCode:
        if self.lower is not None and self.lower_quantile is not None:
            raise ValueError("give lower or lower_quantile, not both")
        if self.upper is not None and self.upper_quantile is not None:
            raise ValueError("give upper or upper_quantile, not both")
        bounds = (self.lower, self.upper, self.lower_quantile, self.upper_quantile)
        if all(v is None for v in bounds):
            raise ValueError("clip needs at least one bound")
        return self

    def masked_type(self, source: FieldType) -> FieldType:
        return source

    def describe(self, bounds: Bounds | None = None) -> str:
        low, high = bounds if bounds is not None else (None, None)
        shown = [
            f"lower {_number(low)}" if low is not None else "",
            f"upper {_number(high)}" if high is not None else "",
        ]
        return "clip: " + ", ".join(s for s in shown if s)


def bucket_labels(edges: list[float]) -> list[str]:
    """The labels of a bucket rule's intervals, lowest first."""
    shown = [_number(e) for e in edges]
    inner = [f"[{a}, {b})" for a, b in itertools.pairwise(shown)]
    return [f"<{shown[0]}", *inner, f">={shown[-1]}"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


if TYPE_CHECKING:
    MaskingRule = MaskingRuleBase
else:
    # the catalogue's `masking:` is one of the registered rules, told apart by `rule:`
    MaskingRule = Annotated[
        functools.reduce(operator.or_, RULES.values()), Field(discriminator="rule")
    ]
