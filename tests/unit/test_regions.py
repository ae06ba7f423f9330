"""Administrative divisions of the plans, and generalising codes and addresses to a level
the same way value by value and column by column."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shuyu.data.generate import names
from shuyu.data.regions import (
    COUNTIES,
    DESTINATIONS,
    PLAN_CITIES,
    counties,
    county,
    generalise,
    generalise_expr,
)
from shuyu.errors import InputError


def test_plan_counties_sit_in_their_city_and_province() -> None:
    assert [c.name for c in counties("suzhou")] == ["埇桥区", "砀山县", "萧县", "灵璧县", "泗县"]
    assert len(counties("ordos")) == 9
    for c in COUNTIES:
        city = PLAN_CITIES[c.plan]
        assert (c.city, c.city_code, c.province, c.province_code) == (
            city.name, city.code, city.province, city.province_code,
        )  # fmt: skip
        assert c.code[:4] == c.city_code[:4]
        assert c.code[:2] == c.province_code[:2]
    assert county("150622").name == "准格尔旗"
    with pytest.raises(InputError, match="999999"):
        county("999999")


def test_destination_codes_are_cities_of_their_province() -> None:
    for city in DESTINATIONS:
        assert city.code.endswith("00")
        assert not city.code.endswith("0000")
        assert city.code[:2] + "0000" == city.province_code


@pytest.mark.parametrize(
    ("value", "province", "city", "county_"),
    [
        ("341302", "340000", "341300", "341302"),
        (" 150627 ", "150000", "150600", "150627"),
        ("120103", "120000", "120100", "120103"),
        ("991302", None, None, None),
        ("安徽省宿州市埇桥区汴河路123号", "安徽省", "安徽省宿州市", "安徽省宿州市埇桥区"),
        ("内蒙古自治区鄂尔多斯市准格尔旗薛家湾镇", "内蒙古自治区", "内蒙古自治区鄂尔多斯市",
         "内蒙古自治区鄂尔多斯市准格尔旗"),
        # Short forms and left-out levels still give the one canonical string.
        ("安徽宿州市萧县龙城镇", "安徽省", "安徽省宿州市", "安徽省宿州市萧县"),
        ("宿州市埇桥区汴河路", "安徽省", "安徽省宿州市", "安徽省宿州市埇桥区"),
        ("砀山县城关镇", "安徽省", "安徽省宿州市", "安徽省宿州市砀山县"),
        ("内蒙古鄂尔多斯市", "内蒙古自治区", "内蒙古自治区鄂尔多斯市", None),
        # Cities that are not in the table, and municipalities.
        ("河北省唐山市丰南区钢城路8号", "河北省", "河北省唐山市", "河北省唐山市丰南区"),
        ("湖北省恩施土家族苗族自治州恩施市", "湖北省", "湖北省恩施土家族苗族自治州",
         "湖北省恩施土家族苗族自治州恩施市"),
        ("天津市河西区友谊路12号", "天津市", "天津市", "天津市河西区"),
        ("北京朝阳区", "北京市", "北京市", "北京市朝阳区"),
        ("山东省济南市市中区经四路", "山东省", "山东省济南市", "山东省济南市市中区"),
        ("汴河路123号", None, None, None),
        ("", None, None, None),
    ],
)  # fmt: skip
def test_generalise(
    value: str, province: str | None, city: str | None, county_: str | None
) -> None:
    expected = {"province": province, "city": city, "county": county_}
    frame = pl.DataFrame({"v": [value]})
    for level, want in expected.items():
        assert generalise(value, level) == want  # type: ignore[arg-type]
        assert frame.select(generalise_expr(pl.col("v"), level))["v"].to_list() == [want]  # type: ignore[arg-type]


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(InputError, match="town"):
        generalise("341302", "town")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="town"):
        generalise_expr(pl.col("v"), "town")  # type: ignore[arg-type]


def test_generated_addresses_generalise_to_their_county() -> None:
    rng = np.random.default_rng(5)
    for c in COUNTIES:
        for address in names.addresses(rng, 20, [c]):
            assert generalise(address, "county") == c.province + c.city + c.name
            assert generalise(address, "city") == c.province + c.city


places = st.sampled_from(
    ["安徽省", "安徽", "内蒙古自治区", "天津市", "北京", "宿州市", "鄂尔多斯市", "唐山市",
     "埇桥区", "准格尔旗", "萧县", "河西区", "市中区", "恩施土家族苗族自治州", "汴河路", "12号", "镇",
     "341302", " ", "市", "区"]
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.lists(places, max_size=5).map("".join), st.text(max_size=12)),
        min_size=1,
        max_size=40,
    )
)
def test_vectorised_generalise_agrees_with_scalar(values: list[str]) -> None:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    for level in ("province", "city", "county"):
        got = frame.select(generalise_expr(pl.col("v"), level))["v"].to_list()
        assert got == [generalise(v, level) for v in values]
