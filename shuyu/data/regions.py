"""Chinese administrative divisions (GB/T 2260) that shuyu's data lives in, and cutting
codes or addresses down to province, city or county.

The two seed plans cover 宿州市 (安徽省) and 鄂尔多斯市 (内蒙古自治区); their county-level
divisions are listed with their real codes. A handful of real cities that coal from both
is shipped to are listed as destinations. `generalise` works on any six-digit code and on
any address that spells 省/自治区/市 + 市/盟/州/地区 + 区/县/旗/市, not only the listed ones;
`generalise_expr` is the same thing for a whole polars column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

import polars as pl

from shuyu.errors import InputError

Plan = Literal["suzhou", "ordos"]
Level = Literal["province", "city", "county"]
LEVELS: tuple[Level, ...] = get_args(Level)


@dataclass(frozen=True)
class Province:
    code: str  # 340000
    name: str  # 安徽省
    short: str  # 安徽
    plate: str  # 皖: the character on licence plates


@dataclass(frozen=True)
class City:
    code: str
    name: str
    province: str
    province_code: str


@dataclass(frozen=True)
class County:
    code: str
    name: str
    city: str
    city_code: str
    province: str
    province_code: str
    plan: Plan


# fmt: off
PROVINCES: tuple[Province, ...] = tuple(
    Province(code, name, short, plate)
    for code, name, short, plate in [
        ("110000", "北京市", "北京", "京"), ("120000", "天津市", "天津", "津"),
        ("130000", "河北省", "河北", "冀"), ("140000", "山西省", "山西", "晋"),
        ("150000", "内蒙古自治区", "内蒙古", "蒙"), ("210000", "辽宁省", "辽宁", "辽"),
        ("220000", "吉林省", "吉林", "吉"), ("230000", "黑龙江省", "黑龙江", "黑"),
        ("310000", "上海市", "上海", "沪"), ("320000", "江苏省", "江苏", "苏"),
        ("330000", "浙江省", "浙江", "浙"), ("340000", "安徽省", "安徽", "皖"),
        ("350000", "福建省", "福建", "闽"), ("360000", "江西省", "江西", "赣"),
        ("370000", "山东省", "山东", "鲁"), ("410000", "河南省", "河南", "豫"),
        ("420000", "湖北省", "湖北", "鄂"), ("430000", "湖南省", "湖南", "湘"),
        ("440000", "广东省", "广东", "粤"), ("450000", "广西壮族自治区", "广西", "桂"),
        ("460000", "海南省", "海南", "琼"), ("500000", "重庆市", "重庆", "渝"),
        ("510000", "四川省", "四川", "川"), ("520000", "贵州省", "贵州", "贵"),
        ("530000", "云南省", "云南", "云"), ("540000", "西藏自治区", "西藏", "藏"),
        ("610000", "陕西省", "陕西", "陕"), ("620000", "甘肃省", "甘肃", "甘"),
        ("630000", "青海省", "青海", "青"), ("640000", "宁夏回族自治区", "宁夏", "宁"),
        ("650000", "新疆维吾尔自治区", "新疆", "新"), ("710000", "台湾省", "台湾", "台"),
        ("810000", "香港特别行政区", "香港", "港"), ("820000", "澳门特别行政区", "澳门", "澳"),
    ]
)

_SUZHOU = City("341300", "宿州市", "安徽省", "340000")
_ORDOS = City("150600", "鄂尔多斯市", "内蒙古自治区", "150000")


def _in(city: City, code: str, name: str, plan: Plan) -> County:
    return County(code, name, city.name, city.code, city.province, city.province_code, plan)


COUNTIES: tuple[County, ...] = (
    *(_in(_SUZHOU, code, name, "suzhou") for code, name in [
        ("341302", "埇桥区"), ("341321", "砀山县"), ("341322", "萧县"),
        ("341323", "灵璧县"), ("341324", "泗县"),
    ]),
    *(_in(_ORDOS, code, name, "ordos") for code, name in [
        ("150602", "东胜区"), ("150603", "康巴什区"), ("150621", "达拉特旗"),
        ("150622", "准格尔旗"), ("150623", "鄂托克前旗"), ("150624", "鄂托克旗"),
        ("150625", "杭锦旗"), ("150626", "乌审旗"), ("150627", "伊金霍洛旗"),
    ]),
)

PLAN_CITIES: dict[Plan, City] = {"suzhou": _SUZHOU, "ordos": _ORDOS}

# Where coal from 鄂尔多斯 and 宿州 goes: steel, power and the northern ports.
DESTINATIONS: tuple[City, ...] = tuple(
    City(code, name, province, code[:2] + "0000")
    for code, name, province in [
        ("130200", "唐山市", "河北省"), ("130300", "秦皇岛市", "河北省"),
        ("130900", "沧州市", "河北省"), ("120100", "天津市", "天津市"),
        ("370100", "济南市", "山东省"), ("371100", "日照市", "山东省"),
        ("320300", "徐州市", "江苏省"), ("320700", "连云港市", "江苏省"),
        ("210800", "营口市", "辽宁省"), ("330200", "宁波市", "浙江省"),
        ("310100", "上海市", "上海市"), ("340100", "合肥市", "安徽省"),
        ("340600", "淮北市", "安徽省"), ("410100", "郑州市", "河南省"),
        ("420100", "武汉市", "湖北省"), ("440100", "广州市", "广东省"),
        ("150100", "呼和浩特市", "内蒙古自治区"), ("150200", "包头市", "内蒙古自治区"),
    ]
)
# fmt: on

MUNICIPALITIES = frozenset({"北京市", "天津市", "上海市", "重庆市"})
PROVINCE_PREFIXES: frozenset[str] = frozenset(p.code[:2] for p in PROVINCES)
PLATE_CHARS: str = "".join(p.plate for p in PROVINCES if p.code[:2] not in {"71", "81", "82"})


def counties(plan: Plan | None = None) -> tuple[County, ...]:
    """The listed counties, of one plan or of both."""
    return tuple(c for c in COUNTIES if plan is None or c.plan == plan)


def county(code: str) -> County:
    for c in COUNTIES:
        if c.code == code:
            return c
    raise InputError(
        "county code",
        "is not one of the listed 宿州/鄂尔多斯 counties",
        value=code,
        hint="see shuyu.data.regions.COUNTIES",
    )


def is_region_code(value: str) -> bool:
    """Six digits whose first two are a real province-level code."""
    return (
        len(value) == 6 and value.isascii() and value.isdigit() and value[:2] in PROVINCE_PREFIXES
    )


# ---------------------------------------------------------------- addresses

_PROVINCE_FULL: dict[str, str] = {
    **{p.name: p.name for p in PROVINCES},
    **{p.short: p.name for p in PROVINCES},
}
_KNOWN_CITIES: tuple[City, ...] = (*PLAN_CITIES.values(), *DESTINATIONS)
_CITY_PROVINCE: dict[str, str] = {
    c.name: c.province for c in _KNOWN_CITIES if c.name not in MUNICIPALITIES
}
_COUNTY_CITY: dict[str, str] = {c.name: c.city for c in COUNTIES}
_COUNTY_PROVINCE: dict[str, str] = {c.name: c.province for c in COUNTIES}

# Full names before short ones so that 内蒙古自治区 is not read as 内蒙古 + 自治区.
_PROVINCE_ALT = "|".join(sorted(_PROVINCE_FULL, key=lambda name: (-len(name), name)))
_NOT_IN_NAME = r"省市区县旗路街道号巷弄村镇乡\s\d"
# The same pattern runs in Python's re (scalar) and polars' Rust regex (columns): no
# look-around, named groups only, lazy quantifiers, leftmost-first alternation.
ADDRESS_PATTERN = (
    r"^\s*"
    rf"(?P<province>{_PROVINCE_ALT})?"
    rf"(?P<city>[^{_NOT_IN_NAME}]{{1,10}}?(?:市|盟|自治州|地区))?"
    rf"(?P<county>市中区|[^{_NOT_IN_NAME}]{{1,10}}?(?:区|县|旗|市))?"
)
_ADDRESS_RE = re.compile(ADDRESS_PATTERN)
_CODE_RE = re.compile(r"^\s*(\d{6})\s*$")


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise InputError("region level", "must be province, city or county", value=level)


def generalise(value: str, level: Level) -> str | None:
    """Cut a region code or an address to `level`.

    341302 → 341300 (city) or 340000 (province); 安徽省宿州市埇桥区汴河路123号 →
    安徽省宿州市埇桥区 / 安徽省宿州市 / 安徽省. The province (and the city, for a listed
    county) is filled in when the address leaves it out and the city or county is known,
    so that one place always generalises to one string. None when nothing at `level`
    can be read from the value.
    """
    _check_level(level)
    code = _CODE_RE.match(value)
    if code is not None:
        digits = code.group(1)
        if digits[:2] not in PROVINCE_PREFIXES:
            return None
        return {"province": digits[:2] + "0000", "city": digits[:4] + "00", "county": digits}[level]
    match = _ADDRESS_RE.match(value)
    if match is None:  # pragma: no cover - every group is optional, so it always matches
        return None
    province = _PROVINCE_FULL.get(match["province"] or "")
    city: str | None = match["city"]
    county_name: str | None = match["county"]
    if province in MUNICIPALITIES:
        city = province
    else:
        if city is None and county_name is not None:
            city = _COUNTY_CITY.get(county_name)
        if province is None and city is not None:
            province = _CITY_PROVINCE.get(city)
        if province is None and county_name is not None and city == _COUNTY_CITY.get(county_name):
            province = _COUNTY_PROVINCE.get(county_name)
    return _compose(province, city, county_name, level)


def _compose(
    province: str | None, city: str | None, county_name: str | None, level: Level
) -> str | None:
    if level == "province":
        return province
    if city is None:
        return None
    city_part = city if province in MUNICIPALITIES else (province or "") + city
    if level == "city":
        return city_part
    return None if county_name is None else city_part + county_name


def generalise_expr(col: pl.Expr, level: Level) -> pl.Expr:
    """`generalise` over a string column, without a Python call per row."""
    _check_level(level)
    text = col.cast(pl.String)
    code = text.str.extract(r"^\s*(\d{6})\s*$", 1)
    code_ok = code.str.slice(0, 2).is_in(list(PROVINCE_PREFIXES))
    code_out = {
        "province": code.str.slice(0, 2) + pl.lit("0000"),
        "city": code.str.slice(0, 4) + pl.lit("00"),
        "county": code,
    }[level]

    parts = text.str.extract_groups(ADDRESS_PATTERN)
    raw_province = parts.struct.field("province")
    raw_city = parts.struct.field("city")
    county_name = parts.struct.field("county")
    province0 = raw_province.replace_strict(_PROVINCE_FULL, default=None, return_dtype=pl.String)
    is_muni = province0.is_in(list(MUNICIPALITIES)).fill_null(False)
    city1 = pl.coalesce(
        raw_city,
        county_name.replace_strict(_COUNTY_CITY, default=None, return_dtype=pl.String),
    )
    province1 = pl.coalesce(
        province0, city1.replace_strict(_CITY_PROVINCE, default=None, return_dtype=pl.String)
    )
    county_city = county_name.replace_strict(_COUNTY_CITY, default=None, return_dtype=pl.String)
    province2 = (
        pl.when(province1.is_null() & (city1 == county_city).fill_null(False))
        .then(county_name.replace_strict(_COUNTY_PROVINCE, default=None, return_dtype=pl.String))
        .otherwise(province1)
    )
    province = pl.when(is_muni).then(province0).otherwise(province2)
    city = pl.when(is_muni).then(province0).otherwise(city1)
    city_part = pl.when(is_muni).then(city).otherwise(pl.concat_str(province.fill_null(""), city))
    address_out = {
        "province": province,
        "city": city_part,
        "county": pl.concat_str(city_part, county_name),
    }[level]
    return (
        pl.when(code.is_not_null())
        .then(pl.when(code_ok).then(code_out).otherwise(pl.lit(None, pl.String)))
        .otherwise(address_out)
    )
