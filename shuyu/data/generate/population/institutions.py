"""Hospitals and pharmacies of every county, and which one a record is made at."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shuyu.data import regions
from shuyu.data.generate.sampling import Bools, Ints
from shuyu.data.generate.world import Strings


@dataclass(frozen=True)
class Institutions:
    code: Strings
    name: Strings
    level: Strings
    county: Strings
    pharmacy: Bools


def institutions() -> Institutions:
    """Hospitals and pharmacies of each county, with 国家医保 style codes
    (H/P + county code + a 4-digit serial: ten digits, so no code reads as an 11-digit
    mobile number to the PII scans); the city's big hospitals sit in its seat."""
    code: list[str] = []
    name: list[str] = []
    level: list[str] = []
    county: list[str] = []
    pharmacy: list[bool] = []
    for c in regions.COUNTIES:
        seat = c.code in {"341302", "150602"}
        hospitals = [(f"{c.name}人民医院", "二级甲等"), (f"{c.name}中医医院", "二级甲等")]
        hospitals += [(f"{c.name}第二人民医院", "二级乙等")]
        hospitals += [(f"{c.name}{t}镇卫生院", "一级") for t in ("城关", "新集", "柳林")]
        if seat:
            short = c.city.removesuffix("市")
            hospitals += [
                (f"{c.city}立医院" if short == "宿州" else f"{c.city}中心医院", "三级甲等"),
                (f"{c.city}第一人民医院", "三级乙等"),
                (f"{c.city}中医院", "三级乙等"),
            ]
        for i, (n, lv) in enumerate(hospitals, start=1):
            code.append(f"H{c.code}{i:04d}")
            name.append(n)
            level.append(lv)
            county.append(c.code)
            pharmacy.append(False)
        for i in range(1, 9):
            code.append(f"P{c.code}{i:04d}")
            name.append(f"{c.name}{('国大', '益丰', '百姓', '老百姓')[i % 4]}大药房第{i}分店")
            level.append("无")
            county.append(c.code)
            pharmacy.append(True)
    return Institutions(
        np.asarray(code),
        np.asarray(name),
        np.asarray(level),
        np.asarray(county),
        np.asarray(pharmacy),
    )


def pick_institution(
    rng: np.random.Generator,
    inst: Institutions,
    county: Strings,
    *,
    pharmacy: bool | Bools,
    tertiary: float = 0.3,
) -> Ints:
    """An institution for each row: a pharmacy or a hospital; hospitals in the county,
    or with probability `tertiary` a big hospital of the city seat."""
    m = county.size
    want_pharmacy = np.broadcast_to(np.asarray(pharmacy), (m,))
    city = county.astype("<U4")
    go_seat = ~want_pharmacy & (rng.random(m) < tertiary)
    target_county = np.where(go_seat, np.where(city == "1506", "150602", "341302"), county)
    out = np.empty(m, dtype=np.int64)
    for c in np.unique(target_county):
        for ph in (False, True):
            rows = np.flatnonzero((target_county == c) & (want_pharmacy == ph))
            if rows.size == 0:
                continue
            pool = np.flatnonzero((inst.county == c) & (inst.pharmacy == ph))
            if not ph and c in {"150602", "341302"}:
                levels = inst.level[pool]
                w = np.where(np.char.startswith(levels, "三级"), 4.0, 1.0)
            else:
                w = np.ones(pool.size)
            out[rows] = pool[rng.choice(pool.size, size=rows.size, p=w / w.sum())]
    return out
