"""Coal tables: mines, weighbridge sales records and the published monthly prices.

Prices follow a common market factor (trend plus an autocorrelated shock), a winter
and a summer peak, and a premium per coal type; each sale's unit price follows the
month's published price of its coal type, the mine's calorific value and transport.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import polars as pl

from shuyu.data import regions
from shuyu.data.generate import identifiers, names
from shuyu.data.generate.sampling import (
    expand,
    lookup,
    pick,
    pick_rows,
    stream,
    uniform_days,
    uniform_times,
)
from shuyu.data.generate.world import World

Table = tuple[str, pl.DataFrame]

# coal type: (base price 元/吨 at its reference calorific value, reference kcal/kg)
COAL_TYPES: dict[str, tuple[float, float]] = {
    "动力煤": (760.0, 5500.0),
    "焦煤": (1750.0, 6800.0),
    "1/3焦煤": (1380.0, 6500.0),
    "气煤": (1120.0, 6200.0),
    "无烟煤": (1250.0, 6500.0),
    "褐煤": (430.0, 4000.0),
}
# the seasonal swing of each calendar month: heating season and the summer power peak
SEASON = np.asarray([0.08, 0.04, -0.02, -0.06, -0.06, 0.0, 0.03, 0.04, 0.0, -0.03, 0.01, 0.07])
PRICE_YEARS = 6


def tables(world: World) -> Iterator[Table]:
    mines, mine_types, calorific, active, transport, capacity = _mines(world)
    yield "coal_mine", mines
    prices = _prices(world)
    yield "coal_price", prices
    yield (
        "coal_sales",
        _sales(
            world,
            prices,
            mine_types=mine_types,
            calorific=calorific,
            active=active,
            transport=transport,
            capacity=capacity,
        ),
    )


def _mines(
    world: World,
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    mi = world.mines
    rng = stream(world.seed, "table.coal_mine")
    n = mi.n
    open_pit = np.char.find(mi.name, "露天") >= 0
    method = np.where(
        open_pit,
        "露天",
        np.where(
            np.char.find(mi.name, "井工") >= 0,
            "井工",
            np.where(rng.random(n) < np.where(mi.ordos, 0.25, 0.0), "露天", "井工"),
        ),
    )
    production = pick(rng, ["在采", "技改", "停产", "在建"], n, [0.75, 0.1, 0.08, 0.07])
    operating = np.where((production == "停产") & (rng.random(n) < 0.5), "停业", "正常")
    transport = np.where(
        mi.ordos,
        pick(rng, ["铁路专用线", "公路", "铁路专用线+公路"], n, [0.25, 0.45, 0.3]),
        pick(rng, ["铁路专用线", "公路", "铁路专用线+公路"], n, [0.3, 0.3, 0.4]),
    )
    capacity = np.round(
        np.exp(
            rng.normal(
                np.where(mi.ordos, np.log(300.0), np.log(180.0)) + 0.6 * (method == "露天"), 0.7
            )
        ),
        0,
    )
    capacity = np.clip(capacity, 30.0, 3500.0)
    reserves = np.round(capacity * rng.uniform(20.0, 70.0, n), 1)
    calorific = np.round(
        np.where(mi.ordos, rng.normal(5500.0, 350.0, n), rng.normal(6100.0, 350.0, n)), 0
    )
    # what a seam yields follows its rank: high-calorific seams are coking coals
    primary = np.where(
        mi.ordos,
        np.where(calorific < 5000.0, "褐煤", np.where(calorific > 6000.0, "气煤", "动力煤")),
        np.select(
            [calorific > 6500.0, calorific > 6250.0, calorific > 6000.0, calorific > 5800.0],
            ["焦煤", "1/3焦煤", "无烟煤", "气煤"],
            "动力煤",
        ),
    )
    secondary = np.where(rng.random(n) < 0.3, np.where(mi.ordos, "动力煤", "气煤"), primary)
    types = np.column_stack([primary, secondary])
    frame = pl.DataFrame(
        {
            "mine_name": mi.name,
            "enterprise_name": world.enterprises.name[mi.owner],
            "operating_status": operating,
            "production_status": production,
            "mining_method": method,
            "transport_access": transport,
            "design_capacity": capacity,
            "reserves": reserves,
            "recoverable_reserves": np.round(reserves * rng.uniform(0.45, 0.75, n), 1),
            "calorific_value": calorific,
            "region_code": mi.county,
            "manager_name": np.asarray(names.person_names(rng, n), dtype=np.str_),
            "manager_mobile": np.asarray(identifiers.make_mobiles(rng, n), dtype=np.str_),
        }
    )
    active = production == "在采"
    return frame, types.astype(np.str_), calorific, active, transport, capacity


def _prices(world: World) -> pl.DataFrame:
    rng = stream(world.seed, "table.coal_price")
    last = np.datetime64(world.as_of.isoformat()[:7], "M")
    months = np.arange(last - PRICE_YEARS * 12 + 1, last + 1)
    t = np.arange(months.size) / 12.0
    shock = np.zeros(months.size)
    eps = rng.normal(0.0, 0.02, months.size)
    for i in range(1, months.size):  # an AR(1) over a few dozen months, not a big table
        shock[i] = 0.85 * shock[i - 1] + eps[i]
    month_of_year = months.astype(np.int64) % 12
    market = 1.0 + 0.03 * t + SEASON[month_of_year] + shock
    rows = []
    for coal, (base, _) in COAL_TYPES.items():
        own = rng.normal(0.0, 0.015, months.size)
        rows.append(
            pl.DataFrame(
                {
                    "year": (months.astype("datetime64[Y]").astype(np.int64) + 1970),
                    "month": month_of_year + 1,
                    "coal_type": np.full(months.size, coal),
                    "price": np.round(base * market * (1.0 + own), 1),
                }
            )
        )
    return pl.concat(rows)


def _sales(
    world: World,
    prices: pl.DataFrame,
    *,
    mine_types: np.ndarray,
    calorific: np.ndarray,
    active: np.ndarray,
    transport: np.ndarray,
    capacity: np.ndarray,
) -> pl.DataFrame:
    mi = world.mines
    ent = world.enterprises
    rng = stream(world.seed, "table.coal_sales")
    total = max(40 * mi.n, 2 * world.scale)
    weight = capacity * np.where(active, 1.0, 0.05)
    per_mine = np.bincount(pick_rows(rng, weight, total), minlength=mi.n)
    per_mine = np.maximum(per_mine, 1)  # every mine has at least its last shipment
    owner, _ = expand(per_mine)
    m = owner.size
    coal = np.where(rng.random(m) < 0.7, mine_types[owner, 0], mine_types[owner, 1])
    weighed_day = uniform_days(rng, world.as_of - dt.timedelta(days=729), world.as_of, m)
    weighed_at = uniform_times(rng, weighed_day, 0, 24)
    ym = weighed_day.astype("datetime64[M]").astype(np.int64)
    price_key = prices.select(
        ((pl.col("year") - 1970) * 12 + pl.col("month") - 1).alias("ym"), "coal_type", "price"
    )
    looked_up = (
        pl.DataFrame({"ym": ym, "coal_type": coal})
        .join(price_key, on=["ym", "coal_type"], how="left", maintain_order="left")
        .get_column("price")
        .to_numpy()
    )
    reference = lookup({k: v[1] for k, v in COAL_TYPES.items()}, coal)
    rail = np.char.find(transport[owner].astype(np.str_), "铁路") >= 0
    mine_effect = rng.normal(0.0, 0.03, mi.n)[owner]
    unit = looked_up * (calorific[owner] / reference) ** 0.8 * (1.0 + 0.03 * rail + mine_effect)
    unit = np.round(unit * np.exp(rng.normal(0.0, 0.02, m)), 2)
    tare = np.round(rng.uniform(14.5, 17.5, m), 2)
    net = np.round(rng.uniform(28.0, 33.5, m), 2)

    dest_cities = [
        f"{c.province}{c.name}" if c.province != c.name else c.name for c in regions.DESTINATIONS
    ]
    favourites = rng.integers(0, len(dest_cities), size=(mi.n, 4))
    destination = np.asarray(dest_cities)[favourites[owner, rng.integers(0, 4, m)]]

    customers = np.empty(m, dtype=object)
    plates = np.empty(m, dtype=object)
    v = world.vehicles
    for flag in (False, True):
        rows = np.flatnonzero(mi.ordos[owner] == flag)
        buyers = np.flatnonzero((ent.ordos == flag) & np.isin(ent.industry, ["F", "D", "C", "G"]))
        if buyers.size == 0:  # a tiny world: any local enterprise buys
            buyers = np.flatnonzero(ent.ordos == flag)
        customers[rows] = ent.name[buyers[rng.integers(0, buyers.size, rows.size)]]
        trucks = np.flatnonzero(v.ordos == flag)
        plates[rows] = v.plate[trucks[rng.integers(0, trucks.size, rows.size)]]
    sale_no = (
        pl.DataFrame({"c": mi.county[owner], "i": np.arange(1, m + 1)})
        .select(
            pl.concat_str([pl.lit("YX"), pl.col("c"), pl.col("i").cast(pl.String).str.zfill(10)])
        )
        .to_series()
    )
    return pl.DataFrame(
        {
            "sale_no": sale_no,
            "mine_name": mi.take("name", owner),
            "region_code": mi.county[owner],
            "customer_name": customers.astype(np.str_),
            "weighed_at": weighed_at,
            "gross_weight": np.round(tare + net, 2),
            "tare_weight": tare,
            "net_weight": net,
            "unit_price": unit,
            "total_price": np.round(unit * net, 2),
            "destination": destination,
            "coal_type": coal,
            "plate": plates.astype(np.str_),
        }
    )
