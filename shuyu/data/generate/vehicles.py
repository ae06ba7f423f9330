"""Freight vehicle tables: registration, operation, violations, accidents, annual
inspection, and the insurer's claims.

Claims follow the recorded violations and accidents, the distance driven and the
vehicle's latent driving risk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import polars as pl

from shuyu.data.generate.sampling import (
    day,
    expand,
    lookup,
    numbered,
    pick,
    sigmoid,
    stream,
    uniform_days,
    uniform_times,
)
from shuyu.data.generate.world import Strings, World, county_codes, county_name

Table = tuple[str, pl.DataFrame]

VEHICLE_TYPES = [
    "重型半挂牵引车",
    "重型自卸货车",
    "重型厢式货车",
    "重型仓栅式货车",
    "中型厢式货车",
    "轻型厢式货车",
]
BRANDS = ["中国重汽", "一汽解放", "东风商用车", "陕汽重卡", "北奔重汽", "福田欧曼", "江淮格尔发"]
VIOLATIONS = [
    "超载",
    "超速",
    "疲劳驾驶",
    "闯红灯",
    "违法停车",
    "不按规定车道行驶",
    "未按规定安装使用卫星定位装置",
]
ROADS = {
    "1506": ["G109国道", "G210国道", "荣乌高速", "包茂高速", "S215省道", "沿黄公路"],
    "3413": ["G206国道", "G311国道", "京台高速", "泗许高速", "S101省道", "宿蒙路"],
}
# one-way distance of a trip by route scope (km)
ROUTE_KM = {"市内": 40.0, "省内": 220.0, "跨省": 800.0}


def tables(world: World) -> Iterator[Table]:
    v = world.vehicles
    ent = world.enterprises
    rng = stream(world.seed, "vehicles.state")
    n = v.n
    vtype = np.where(
        v.ordos,
        pick(rng, VEHICLE_TYPES, n, [0.5, 0.25, 0.1, 0.05, 0.05, 0.05]),
        pick(rng, VEHICLE_TYPES, n, [0.3, 0.15, 0.2, 0.15, 0.1, 0.1]),
    )
    brand = pick(rng, BRANDS, n, [0.2, 0.2, 0.15, 0.2, 0.1, 0.1, 0.05])
    age_years = rng.uniform(0.2, 13.0, n)
    manufactured = day(world.as_of) - (age_years * 365.25).astype("timedelta64[D]")
    registered = manufactured + rng.integers(7, 120, n).astype("timedelta64[D]")
    registered = np.minimum(registered, day(world.as_of))
    route = np.where(
        v.ordos,
        pick(rng, list(ROUTE_KM), n, [0.2, 0.35, 0.45]),
        pick(rng, list(ROUTE_KM), n, [0.35, 0.4, 0.25]),
    )
    cargo = np.where(
        v.ordos,
        pick(
            rng,
            ["煤炭", "砂石建材", "普通货物", "危险化学品", "冷链食品", "农产品"],
            n,
            [0.55, 0.15, 0.15, 0.06, 0.04, 0.05],
        ),
        pick(
            rng,
            ["煤炭", "砂石建材", "普通货物", "危险化学品", "冷链食品", "农产品"],
            n,
            [0.15, 0.2, 0.35, 0.05, 0.1, 0.15],
        ),
    )
    per_trip = lookup(ROUTE_KM, route)
    trips = np.clip(
        np.round(np.exp(rng.normal(np.log(2400.0 / per_trip) + 0.6, 0.4))), 1, 150
    ).astype(np.int64)
    exposure = np.log(trips * per_trip / 2000.0)  # log of monthly distance, about 0 on average

    yield (
        "vehicle_basic",
        pl.DataFrame(
            {
                "vin": v.vin,
                "plate": v.plate,
                "vehicle_type": vtype,
                "brand": brand,
                "owner_name": ent.take("name", v.owner),
                "owner_uscc": ent.take("uscc", v.owner),
                "manufactured_on": manufactured,
                "registered_on": registered,
            }
        ),
    )
    yield (
        "truck_operation",
        pl.DataFrame(
            {
                "vin": v.vin,
                "plate": v.plate,
                "route_scope": route,
                "cargo_type": cargo,
                "trips_per_month": trips,
            }
        ),
    )

    counts_by_type = np.column_stack(
        [
            rng.poisson(
                np.exp(-0.6 + 0.6 * v.risk + 0.4 * exposure + 0.6 * (cargo == "煤炭"))
            ),  # 超载
            rng.poisson(np.exp(-0.4 + 0.5 * v.risk + 0.5 * exposure)),  # 超速
            rng.poisson(np.exp(-1.3 + 0.6 * v.risk + 0.7 * exposure)),  # 疲劳驾驶
            rng.poisson(np.exp(-1.8 + 0.3 * v.risk)),
            rng.poisson(np.exp(-1.0 + 0.2 * v.risk)),
            rng.poisson(np.exp(-1.5 + 0.3 * v.risk)),
            rng.poisson(np.exp(-2.5 + 0.3 * v.risk)),
        ]
    )
    counts_by_type = np.minimum(counts_by_type, 20)
    yield "traffic_violation", _violations(world, counts_by_type, vtype)

    accidents = np.minimum(rng.poisson(np.exp(-2.0 + 0.5 * v.risk + 0.5 * exposure)), 6)
    yield "traffic_accident", _accidents(world, accidents, vtype)

    overdue = rng.random(n) < sigmoid(-3.0 + 0.8 * v.risk)
    last = day(world.as_of) - np.where(
        overdue, rng.integers(366, 900, n), rng.integers(0, 365, n)
    ).astype("timedelta64[D]")
    yield (
        "annual_inspection",
        pl.DataFrame(
            {"vin": v.vin, "plate": v.plate, "last_inspected_on": np.maximum(last, registered)}
        ),
    )
    yield (
        "truck_claim",
        _claims(
            world,
            counts_by_type=counts_by_type,
            accidents=accidents,
            exposure=exposure,
            age_years=age_years,
            overdue=overdue,
        ),
    )


def _locations(rng: np.random.Generator, county_of_row: Strings) -> Strings:
    city = county_of_row.astype("<U4")
    road = np.where(
        city == "1506",
        pick(rng, ROADS["1506"], county_of_row.size),
        pick(rng, ROADS["3413"], county_of_row.size),
    )
    km = rng.integers(1, 300, county_of_row.size).astype(np.str_)
    return np.char.add(np.char.add(np.char.add(county_name(county_of_row), road), "K"), km)


def _vehicle_counties(world: World, rng: np.random.Generator, owner: np.ndarray) -> Strings:
    """Where a vehicle's events happen: its owner's county mostly, elsewhere in the city
    otherwise."""
    v = world.vehicles
    home = world.enterprises.county[v.owner[owner]]
    away_ordos = pick(rng, county_codes(True), owner.size)
    away_suzhou = pick(rng, county_codes(False), owner.size)
    away = np.where(v.ordos[owner], away_ordos, away_suzhou)
    return np.where(rng.random(owner.size) < 0.6, home, away)


def _violations(world: World, counts_by_type: np.ndarray, vtype: Strings) -> pl.DataFrame:
    v = world.vehicles
    rng = stream(world.seed, "table.traffic_violation")
    owner, _ = expand(counts_by_type.sum(axis=1))
    kind = np.repeat(np.tile(np.arange(len(VIOLATIONS)), v.n), counts_by_type.reshape(-1))
    m = owner.size
    when = uniform_times(
        rng, uniform_days(rng, world.as_of - dt.timedelta(days=729), world.as_of, m), 0, 24
    )
    return pl.DataFrame(
        {
            "vin": v.take("vin", owner),
            "plate": v.take("plate", owner),
            "vehicle_type": vtype[owner],
            "violation_type": np.asarray(VIOLATIONS)[kind],
            "occurred_at": when,
            "location": _locations(rng, _vehicle_counties(world, rng, owner)),
        }
    )


def _accidents(world: World, counts: np.ndarray, vtype: Strings) -> pl.DataFrame:
    v = world.vehicles
    rng = stream(world.seed, "table.traffic_accident")
    owner, _ = expand(counts)
    m = owner.size
    kind = pick(
        rng,
        ["追尾", "刮擦", "侧翻", "碰撞行人", "碰撞非机动车", "单车事故"],
        m,
        [0.35, 0.3, 0.1, 0.05, 0.1, 0.1],
    )
    injured = np.where(
        np.isin(kind, ["碰撞行人", "碰撞非机动车", "侧翻"]),
        1 + rng.poisson(0.4, m),
        rng.poisson(0.3, m),
    )
    when = uniform_times(
        rng, uniform_days(rng, world.as_of - dt.timedelta(days=729), world.as_of, m), 0, 24
    )
    return pl.DataFrame(
        {
            "vin": v.take("vin", owner),
            "plate": v.take("plate", owner),
            "vehicle_type": vtype[owner],
            "accident_type": kind,
            "occurred_at": when,
            "location": _locations(rng, _vehicle_counties(world, rng, owner)),
            "injured": injured.astype(np.int64),
        }
    )


def _claims(
    world: World,
    *,
    counts_by_type: np.ndarray,
    accidents: np.ndarray,
    exposure: np.ndarray,
    age_years: np.ndarray,
    overdue: np.ndarray,
) -> pl.DataFrame:
    v = world.vehicles
    rng = stream(world.seed, "table.truck_claim")
    insured = rng.random(v.n) < 0.85
    idx = np.flatnonzero(insured)
    r = idx.size
    c = counts_by_type[idx]
    logit = (
        -2.3
        + 0.5 * np.log1p(c[:, 0])
        + 0.4 * np.log1p(c[:, 1])
        + 0.5 * np.log1p(c[:, 2])
        + 0.9 * np.minimum(accidents[idx], 3)
        + 0.5 * exposure[idx]
        + 0.05 * age_years[idx]
        + 0.4 * overdue[idx]
        + 0.3 * v.risk[idx]
        + rng.normal(0.0, 0.3, r)
    )
    has_claim = rng.random(r) < sigmoid(logit)
    claims = np.where(has_claim, 1 + rng.poisson(0.3 + 0.2 * accidents[idx]), 0).astype(np.int64)
    amount = np.where(has_claim, np.round(claims * np.exp(rng.normal(9.3, 0.9, r)), 2), 0.0)
    return pl.DataFrame(
        {
            "policy_no": numbered("HC", np.arange(1, r + 1), 14),
            "vin": v.take("vin", idx),
            "claim_count": claims,
            "claim_amount": amount,
            "has_claim": has_claim,
        }
    )
