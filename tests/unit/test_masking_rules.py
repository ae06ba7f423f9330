"""Each masking rule on its own: what a value becomes, and the type it has afterwards."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import polars as pl
import pytest

from shuyu.data.field_types import POLARS_TYPES
from shuyu.data.masking.rules import BUILDERS, builds, clip_bounds, masked_expr
from shuyu.policy import load_policies
from shuyu.policy.base import FieldType
from shuyu.policy.masking_rules import (
    RULES,
    MaskingRuleBase,
    PartialMask,
    TopBottomCode,
    bucket_labels,
    masking_rule,
)
from shuyu.policy.models import FieldSpec

REFERENCE = dt.date(2026, 6, 30)


def spec(type_: str, masking: dict[str, object], role: str = "other") -> FieldSpec:
    return FieldSpec.model_validate(
        {
            "id": "x",
            "name": "字段",
            "name_en": "Field",
            "type": type_,
            "sensitivity": 2,
            "role": role,
            "masking": masking,
        }
    )


def apply(field: FieldSpec, values: list[object], dtype: pl.DataType | None = None) -> list[object]:
    frame = pl.DataFrame({"x": pl.Series(values, dtype=dtype or POLARS_TYPES[field.type])})
    bounds = (
        clip_bounds(frame["x"], field.masking) if isinstance(field.masking, TopBottomCode) else None
    )
    out = frame.select(
        masked_expr(field, pl.col("x"), reference=REFERENCE, bounds=bounds).alias("x")
    )
    assert out.dtypes[0] == POLARS_TYPES[field.masked_type], "type differs from masked_type"
    return out["x"].to_list()


def test_partial_mask_keeps_the_ends_of_a_phone_number() -> None:
    field = spec("string", {"rule": "partial", "keep_prefix": 3, "keep_suffix": 4})
    assert apply(field, ["13812341234", None]) == ["138****1234", None]


def test_partial_mask_hides_a_value_too_short_to_keep_both_ends() -> None:
    field = spec("string", {"rule": "partial", "keep_prefix": 3, "keep_suffix": 4})
    assert apply(field, ["1234567", "张三"]) == ["*******", "**"]


def test_partial_mask_uses_the_given_character_even_a_regex_special_one() -> None:
    field = spec(
        "string", {"rule": "partial", "keep_prefix": 1, "keep_suffix": 1, "mask_char": "$"}
    )
    assert apply(field, ["abcd"]) == ["a$$d"]


def test_dates_generalise_to_a_year_number_or_a_month_label() -> None:
    day = dt.date(2024, 5, 17)
    assert apply(spec("date", {"rule": "date", "to": "year"}), [day, None]) == [2024, None]
    assert apply(spec("date", {"rule": "date", "to": "month"}), [day]) == ["2024-05"]
    moment = dt.datetime(2024, 12, 31, 23, 59)
    assert apply(spec("datetime", {"rule": "date", "to": "month"}), [moment]) == ["2024-12"]


@pytest.mark.parametrize(
    ("born", "band"),
    [
        (dt.date(1990, 7, 1), "30-39"),  # 35 at the reference date
        (dt.date(1996, 6, 30), "30-39"),  # 30th birthday on the reference date
        (dt.date(1996, 7, 1), "20-29"),  # turns 30 the day after
        (dt.date(1946, 6, 30), "80+"),
        (dt.date(1930, 1, 1), "80+"),
        (dt.date(2027, 1, 1), "0-9"),  # born after the reference date: a data error, not -1
        (None, None),
    ],
)
def test_age_band_is_the_age_at_the_policy_reference_date(
    born: dt.date | None, band: str | None
) -> None:
    assert apply(spec("date", {"rule": "age_band", "width": 10, "top": 80}), [born]) == [band]


def test_age_band_from_ages_in_years_never_overlaps_the_top_band() -> None:
    field = spec("int", {"rule": "age_band", "width": 10, "top": 75})
    assert apply(field, [3, 70, 74, 75, 99]) == ["0-9", "70-74", "70-74", "75+", "75+"]


def test_region_cuts_codes_and_addresses_to_the_level() -> None:
    city = spec("string", {"rule": "region", "level": "city"})
    assert apply(city, ["341302", "安徽省宿州市埇桥区汴河路123号"]) == ["341300", "安徽省宿州市"]
    county = spec("string", {"rule": "region", "level": "county"})
    assert apply(county, ["安徽省宿州市埇桥区汴河路123号"]) == ["安徽省宿州市埇桥区"]


def test_bucket_labels_intervals_closed_on_the_left() -> None:
    field = spec("float", {"rule": "bucket", "edges": [10, 50, 1000, 5000]})
    got = apply(field, [5.0, 10.0, 49.99, 4999.9, 5000.0, 1e9, None])
    assert got == ["<10", "[10, 50)", "[10, 50)", "[1000, 5000)", ">=5000", ">=5000", None]
    assert bucket_labels([0.5, 2.0]) == ["<0.5", "[0.5, 2)", ">=2"]


def test_clip_by_values_and_by_quantiles_of_the_column() -> None:
    by_value = spec("float", {"rule": "clip", "lower": 0, "upper": 100})
    assert apply(by_value, [-5.0, 50.0, 500.0]) == [0.0, 50.0, 100.0]
    by_quantile = spec("float", {"rule": "clip", "upper_quantile": 0.9})
    values = [float(v) for v in range(1, 101)]
    clipped = apply(by_quantile, values)
    assert max(clipped) == pytest.approx(90.1)  # the 90th percentile, not the maximum 100
    assert clipped[:90] == values[:90]


def test_clip_keeps_integer_columns_integer() -> None:
    field = spec("int", {"rule": "clip", "lower": 0.5, "upper_quantile": 0.5})
    assert apply(field, [0, 1, 2, 3, 4, 5]) == [1, 1, 2, 2, 2, 2]


def test_keep_keeps_the_value() -> None:
    assert apply(spec("string", {"rule": "keep"}), ["煤矿", None]) == ["煤矿", None]


def test_every_catalogue_rule_yields_its_declared_masked_type() -> None:
    """The contract views rely on: the masked column's type is masked_type(field)."""
    policies = load_policies()
    samples: dict[FieldType, list[object]] = {
        FieldType.string: ["341302"],
        FieldType.int: [7],
        FieldType.float: [12.5],
        FieldType.bool: [True],
        FieldType.date: [dt.date(1990, 1, 2)],
        FieldType.datetime: [dt.datetime(2024, 3, 4, 5, 6)],
    }
    checked = 0
    for dataset in policies.catalogue.values():
        for field in dataset.fields:
            if field.masking.rule in {"drop", "pseudonym"}:
                continue
            apply(field, samples[field.type])
            checked += 1
    assert checked > 100


def test_every_expression_rule_has_exactly_one_builder_and_no_other_rule_has_one() -> None:
    expression_rules = {name for name, rule in RULES.items() if rule.column == "expression"}
    assert set(BUILDERS) == expression_rules
    assert {"keep", "partial", "date", "age_band", "region", "bucket", "clip"} <= set(BUILDERS)


def test_a_second_builder_for_a_rule_is_refused() -> None:
    with pytest.raises(TypeError, match="'partial' has two expression builders"):
        builds(PartialMask)(lambda col, rule, column: col)


def test_a_rule_name_can_be_declared_only_once() -> None:
    class Again(MaskingRuleBase):
        rule: Literal["keep"]

    with pytest.raises(TypeError, match="'keep' is declared twice"):
        masking_rule(Again)
    assert RULES["keep"] is not Again


def test_the_catalogue_parses_every_registered_rule_and_refuses_others() -> None:
    assert list(RULES) == [
        "keep", "drop", "pseudonym", "partial", "date", "age_band", "region", "bucket", "clip"
    ]  # fmt: skip
    for name, rule in RULES.items():
        if name in {"keep", "drop"}:
            assert isinstance(spec("string", {"rule": name}).masking, rule)
    with pytest.raises(ValueError, match="does not match any of the expected tags"):
        spec("string", {"rule": "shuffle"})
