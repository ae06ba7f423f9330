"""Realistic Chinese names for the synthetic data: people, enterprises, street addresses
and coal mines in the plans' counties.

Everything is drawn from a `numpy.random.Generator`, so the same seed gives the same
names; draws are array operations over character tables, so 150 000 names take a
fraction of a second. Enterprise and mine names are distinct within one call (an
enterprise register does not repeat a name); person names repeat, as they do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shuyu.data.generate.identifiers import draw_distinct
from shuyu.data.regions import MUNICIPALITIES, County
from shuyu.errors import InputError

# Surnames with their share (%) of the population, after the 2020 census 百家姓 ranking;
# the rest of the mass is spread over the tail.
# fmt: off
_SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1), ("黄", 2.5),
    ("赵", 2.3), ("吴", 2.1), ("周", 2.1), ("徐", 1.7), ("孙", 1.5), ("马", 1.5), ("朱", 1.3),
    ("胡", 1.3), ("郭", 1.2), ("何", 1.2), ("林", 1.1), ("高", 1.1), ("罗", 1.1), ("郑", 1.0),
    ("梁", 1.0), ("谢", 0.8), ("宋", 0.8), ("唐", 0.8), ("许", 0.7), ("韩", 0.7), ("邓", 0.7),
    ("冯", 0.7), ("曹", 0.6), ("彭", 0.6), ("曾", 0.6), ("肖", 0.6), ("田", 0.5), ("董", 0.5),
    ("潘", 0.5), ("袁", 0.5), ("蔡", 0.5), ("蒋", 0.5), ("余", 0.5), ("于", 0.5), ("杜", 0.5),
    ("叶", 0.4), ("程", 0.4), ("魏", 0.4), ("苏", 0.4), ("吕", 0.4), ("丁", 0.4), ("任", 0.4),
    ("卢", 0.4), ("姚", 0.4), ("沈", 0.4), ("钟", 0.4), ("姜", 0.4), ("崔", 0.3), ("谭", 0.3),
    ("陆", 0.3), ("范", 0.3), ("汪", 0.3), ("廖", 0.3), ("石", 0.3), ("金", 0.3), ("韦", 0.3),
    ("贾", 0.3), ("夏", 0.3), ("付", 0.3), ("方", 0.3), ("邹", 0.2), ("熊", 0.2), ("白", 0.2),
    ("孟", 0.2), ("秦", 0.2), ("邱", 0.2), ("侯", 0.2), ("江", 0.2), ("尹", 0.2), ("薛", 0.2),
    ("闫", 0.2), ("段", 0.2), ("雷", 0.2), ("龙", 0.2), ("黎", 0.2), ("史", 0.2), ("陶", 0.2),
    ("贺", 0.2), ("毛", 0.2), ("郝", 0.2), ("顾", 0.2), ("龚", 0.2), ("邵", 0.2), ("万", 0.1),
    ("覃", 0.1), ("武", 0.1), ("钱", 0.1), ("戴", 0.1), ("严", 0.1), ("莫", 0.1), ("孔", 0.1),
    ("向", 0.1), ("常", 0.1), ("汤", 0.1), ("康", 0.1), ("易", 0.1), ("乔", 0.1), ("赖", 0.1),
    ("文", 0.1), ("牛", 0.1), ("樊", 0.1), ("葛", 0.1), ("邢", 0.1), ("安", 0.1), ("齐", 0.1),
    ("欧阳", 0.05), ("司马", 0.01), ("诸葛", 0.01), ("上官", 0.01),
)
# fmt: on
_MALE_CHARS = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭宁龙林阳建国志文海峰亮成东晨博洋"
_FEMALE_CHARS = "芳娜敏静丽艳娟霞燕秀玲桂英红梅琳雪婷慧颖倩琪欣悦佳怡雨萱晶蕾薇月兰凤洁丹妍"
_SHARED_CHARS = "子一思梓嘉文明晓小春新永云安金玉德荣心诗雅瑞嘉"
# Mongolian names, common in 鄂尔多斯, written in characters as a whole.
_MONGOLIAN = (
    "巴特尔", "额尔敦", "苏和", "朝鲁", "宝音", "孟和", "那顺", "乌力吉", "图门", "布仁",
    "乌云", "其其格", "萨仁", "娜仁", "高娃", "托雅", "格日勒", "斯琴", "塔娜", "阿拉坦",
)  # fmt: skip


def _pick(rng: np.random.Generator, items: Sequence[str], n: int) -> np.ndarray:
    return np.asarray(items, dtype=object)[rng.integers(0, len(items), size=n)]


def _chars(text: str) -> list[str]:
    return list(dict.fromkeys(text))


def person_names(
    rng: np.random.Generator,
    n: int,
    sexes: Sequence[str] | None = None,
    mongolian_share: float = 0.0,
) -> list[str]:
    """`n` person names: a surname by frequency and one or two given-name characters
    (three in four have two), chosen by sex when `sexes` (M/F or 男/女, one per name) is
    given. `mongolian_share` of the names are Mongolian names (for 鄂尔多斯)."""
    surnames = [s for s, _ in _SURNAMES]
    weights = np.array([w for _, w in _SURNAMES])
    if sexes is not None and len(sexes) != n:
        raise InputError("sexes", f"needs one value per name ({n})", value=len(sexes))
    male = (
        rng.random(n) < 0.5
        if sexes is None
        else np.fromiter((s in ("M", "男") for s in sexes), dtype=bool, count=n)
    )
    male_pool = _chars(_MALE_CHARS + _SHARED_CHARS)
    female_pool = _chars(_FEMALE_CHARS + _SHARED_CHARS)
    first = np.where(male, _pick(rng, male_pool, n), _pick(rng, female_pool, n))
    second = np.where(male, _pick(rng, male_pool, n), _pick(rng, female_pool, n))
    two = rng.random(n) < 0.75
    family = np.asarray(surnames, dtype=object)[
        rng.choice(len(surnames), size=n, p=weights / weights.sum())
    ]
    given = np.where(two, first + second, first)
    names = family + given
    mongol = rng.random(n) < mongolian_share
    if mongol.any():
        names[mongol] = _pick(rng, _MONGOLIAN, int(mongol.sum()))
    return [str(x) for x in names]


# ---------------------------------------------------------------- places and enterprises

_TRADE_CHARS = _chars(
    "鑫恒泰华盛源达通丰瑞宏祥昌隆兴德利金安博佳富汇聚诚信鸿永嘉荣天正伟中润宇创远航新"
    "海星辰明光峰众合力腾飞顺和益康辉建江山龙凯东方北晟煜灏"
)
# (行业, weight): what enterprises in 宿州 (agriculture, 砀山 pears, logistics) and
# 鄂尔多斯 (coal, energy, chemicals, cashmere) register as.
_INDUSTRIES: tuple[tuple[str, float], ...] = (
    ("商贸", 6), ("煤炭", 5), ("能源", 4), ("物流", 4), ("运输", 3), ("建材", 3),
    ("建筑工程", 3), ("农业科技", 3), ("食品", 2), ("机械设备", 2), ("化工", 2),
    ("矿业", 2), ("电子科技", 2), ("纺织", 1), ("医药", 1), ("果业", 1), ("羊绒制品", 1),
    ("房地产开发", 1), ("餐饮管理", 1), ("环保科技", 1), ("新材料", 1), ("电力", 1),
)  # fmt: skip
_FORMS: tuple[tuple[str, float], ...] = (
    ("有限公司", 0.7),
    ("有限责任公司", 0.2),
    ("股份有限公司", 0.07),
    ("集团有限公司", 0.03),
)
_STREETS_COMMON = (
    "人民路", "建设路", "解放路", "中山路", "文化路", "新华路", "幸福路", "和平路",
    "工业园路", "迎宾大道", "光明路", "团结路", "胜利路", "振兴路", "育才路", "花园路",
)  # fmt: skip
_STREETS_CITY: dict[str, tuple[str, ...]] = {
    "宿州市": ("汴河路", "淮海路", "银河路", "拂晓大道", "沱河路", "东昌路", "西昌路", "浍水路"),
    "鄂尔多斯市": (
        "鄂尔多斯大街",
        "天骄路",
        "伊金霍洛街",
        "宝日陶亥街",
        "达拉特路",
        "铁西路",
        "准格尔路",
        "乌审街",
    ),
}
_VILLAGE_FIRST = _chars("张王李刘陈杨赵黄周吴徐孙马胡朱郭何高林罗梁宋唐许韩冯邓曹彭")
_VILLAGE_LAST = ("庄", "集", "楼", "湖", "桥", "营", "寨", "店", "圩", "沟", "湾", "家")
# Real towns (镇/街道) of each listed county, by county code.
_TOWNS: dict[str, tuple[str, ...]] = {
    "341302": ("符离镇", "大店镇", "栏杆镇", "褚兰镇", "曹村镇"),
    "341321": ("砀城镇", "周寨镇", "李庄镇", "唐寨镇"),
    "341322": ("龙城镇", "黄口镇", "杨楼镇", "圣泉镇"),
    "341323": ("灵城镇", "虞姬镇", "韦集镇", "黄湾镇"),
    "341324": ("泗城镇", "大庄镇", "长沟镇", "墩集镇"),
    "150602": ("泊尔江海子镇", "罕台镇"),
    "150603": ("哈巴格希街道", "康新街道"),
    "150621": ("树林召镇", "王爱召镇", "白泥井镇"),
    "150622": ("薛家湾镇", "沙圪堵镇", "大路镇"),
    "150623": ("敖勒召其镇", "城川镇", "上海庙镇"),
    "150624": ("乌兰镇", "棋盘井镇", "蒙西镇"),
    "150625": ("锡尼镇", "独贵塔拉镇"),
    "150626": ("嘎鲁图镇", "图克镇", "乌审召镇"),
    "150627": ("阿勒腾席热镇", "乌兰木伦镇", "札萨克镇"),
}
_MINE_STEMS = (
    "巴彦", "乌兰", "纳林", "布尔台", "察哈尔", "哈尔乌素", "塔拉", "敖包", "昌汉", "色连",
    "门克庆", "黑岱", "罐子", "长滩", "宏景", "马家塔", "石圪台", "阿贵", "准能", "唐家会",
    "祁南", "桃园", "芦岭", "朱仙庄", "钱营孜", "邹庄",
)  # fmt: skip
_MINE_PLACES = ("沟", "梁", "塔", "壕", "庙", "湾", "滩", "")
_MINE_KINDS = (
    ("煤矿", 0.6),
    ("露天煤矿", 0.2),
    ("井工煤矿", 0.1),
    ("一号煤矿", 0.05),
    ("二号煤矿", 0.05),
)


def _weighted(rng: np.random.Generator, table: Sequence[tuple[str, float]], n: int) -> np.ndarray:
    w = np.array([x for _, x in table], dtype=float)
    return np.asarray([s for s, _ in table], dtype=object)[
        rng.choice(len(table), size=n, p=w / w.sum())
    ]


def _need_counties(counties: Sequence[County]) -> list[County]:
    pool = list(counties)
    if not pool:
        raise InputError(
            "counties", "need at least one county", hint="see shuyu.data.regions.COUNTIES"
        )
    return pool


def _trade_names(rng: np.random.Generator, n: int) -> np.ndarray:
    a, b, c = (_pick(rng, _TRADE_CHARS, n) for _ in range(3))
    names: np.ndarray = np.where(rng.random(n) < 0.85, a + b, a + b + c)
    return names


def enterprise_names(rng: np.random.Generator, n: int, counties: Sequence[County]) -> list[str]:
    """`n` distinct names `{地名}{字号}{行业}{组织形式}`, e.g. 宿州市鑫源商贸有限公司,
    准格尔旗恒泰煤炭有限责任公司, 安徽华盛物流股份有限公司; the place is a county, its
    city or its province (short form), drawn from `counties`."""
    pool = _need_counties(counties)
    places: list[str] = []
    for c in pool:
        province_short = c.province.removesuffix("省").removesuffix("自治区")
        places += [c.name, c.name, c.city, province_short]
    places = list(dict.fromkeys(places))

    def draw(k: int) -> list[str]:
        names = (
            _pick(rng, places, k)
            + _trade_names(rng, k)
            + _weighted(rng, _INDUSTRIES, k)
            + _weighted(rng, _FORMS, k)
        )
        return [str(x) for x in names]

    return draw_distinct(n, draw, "enterprise names")


def _county_prefix(c: County) -> str:
    if c.province in MUNICIPALITIES:
        return c.province + c.name
    return c.province + c.city + c.name


def addresses(rng: np.random.Generator, n: int, counties: Sequence[County]) -> list[str]:
    """`n` full addresses in `counties`: 安徽省宿州市埇桥区汴河路123号 in town, or
    安徽省宿州市萧县龙城镇张庄村45号 in the countryside (one in three)."""
    pool = _need_counties(counties)
    which = rng.integers(0, len(pool), size=n)
    rural = rng.random(n) < 1 / 3
    numbers = rng.integers(1, 400, size=n)
    street_pick = rng.integers(0, 1 << 30, size=n)
    town_pick = rng.integers(0, 1 << 30, size=n)
    villages = _pick(rng, _VILLAGE_FIRST, n) + _pick(rng, _VILLAGE_LAST, n) + "村"
    out = []
    for i in range(n):
        c = pool[which[i]]
        if rural[i]:
            towns = _TOWNS.get(c.code, ("城关镇",))
            tail = f"{towns[town_pick[i] % len(towns)]}{villages[i]}{numbers[i] % 120 + 1}号"
        else:
            streets = _STREETS_CITY.get(c.city, ()) + _STREETS_COMMON
            tail = f"{streets[street_pick[i] % len(streets)]}{numbers[i]}号"
        out.append(_county_prefix(c) + tail)
    return out


def mine_names(rng: np.random.Generator, n: int, counties: Sequence[County]) -> list[str]:
    """`n` distinct coal-mine names `{县}{地名}{煤矿|露天煤矿|…}`, e.g. 准格尔旗黑岱沟露天煤矿."""
    pool = _need_counties(counties)

    def draw(k: int) -> list[str]:
        names = (
            np.asarray([c.name for c in pool], dtype=object)[rng.integers(0, len(pool), size=k)]
            + _pick(rng, _MINE_STEMS, k)
            + _pick(rng, _MINE_PLACES, k)
            + _weighted(rng, _MINE_KINDS, k)
        )
        return [str(x) for x in names]

    return draw_distinct(n, draw, "mine names")
