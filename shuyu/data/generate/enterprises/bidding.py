"""Public procurement (公共资源交易): the tenders enterprises won."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from shuyu.data.generate.enterprises.timeline import since_established
from shuyu.data.generate.sampling import Floats, Ints, expand, pick, sigmoid, stream
from shuyu.data.generate.world import World


@dataclass(frozen=True)
class Awards:
    won: Ints  # tenders won per enterprise
    amount: Floats  # their total winning amount, 万元


_PURCHASERS = [
    "市住房和城乡建设局",
    "市交通运输局",
    "市教育局",
    "市卫生健康委员会",
    "市水务局",
    "市城市管理局",
    "市公安局",
    "市人民医院",
]
_PROJECTS = {
    "工程": ["道路改造工程", "老旧小区改造工程", "排水管网建设工程", "校舍维修工程"],
    "货物": ["办公设备采购项目", "医疗设备采购项目", "车辆采购项目", "教学设备采购项目"],
    "服务": ["物业管理服务项目", "信息系统运维服务项目", "道路保洁服务项目", "造价咨询服务项目"],
}


def bidding(world: World) -> tuple[pl.DataFrame, Awards]:
    """The awarded tenders, and what each enterprise won."""
    ent = world.enterprises
    rng = stream(world.seed, "table.bidding")
    size = np.log(ent.employees) - 2.3
    builder = np.isin(ent.industry, ["E", "I", "F", "L"])
    winner = rng.random(ent.n) < sigmoid(0.0 + 0.5 * size + 1.2 * builder - 0.3 * ent.risk)
    counts = np.where(winner, 1 + rng.poisson(np.exp(-0.3 + 0.4 * size)), 0)
    counts = np.minimum(counts, 30)
    owner, _ = expand(counts)
    m = owner.size
    category = np.where(
        ent.industry[owner] == "E",
        pick(rng, ["工程", "货物", "服务"], m, [0.8, 0.1, 0.1]),
        pick(rng, ["工程", "货物", "服务"], m, [0.15, 0.45, 0.4]),
    )
    method = pick(
        rng,
        ["公开招标", "邀请招标", "竞争性谈判", "竞争性磋商", "询价", "单一来源"],
        m,
        [0.55, 0.05, 0.1, 0.2, 0.07, 0.03],
    )
    budget = np.round(
        np.exp(rng.normal(4.0 + 0.3 * size[owner] + (category == "工程") * 1.0, 0.9)), 2
    )
    winning = np.round(budget * rng.uniform(0.82, 0.99, m), 2)
    published = since_established(world, rng, owner, 3 * 365, recent=40)
    opened = published + rng.integers(20, 35, m).astype("timedelta64[D]")
    city = np.where(ent.ordos[owner], "鄂尔多斯", "宿州")
    prefix = np.where(ent.ordos[owner], "EDSGG", "SZGG")
    year = (published.astype("datetime64[Y]").astype(np.int64) + 1970).astype(np.str_)
    project_no = (
        pl.DataFrame({"p": prefix, "y": year, "s": np.arange(1, m + 1)})
        .select(
            pl.concat_str(
                [pl.col("p"), pl.col("y"), pl.lit("-"), pl.col("s").cast(pl.String).str.zfill(6)]
            )
        )
        .to_series()
    )
    kinds = rng.integers(0, 4, m)
    project_name = np.empty(m, dtype=object)
    for cat, options in _PROJECTS.items():
        rows = category == cat
        project_name[rows] = np.asarray(options)[kinds[rows]]
    purchaser = np.char.add(city.astype(np.str_), pick(rng, _PURCHASERS, m))
    awards = Awards(
        won=counts.astype(np.int64),
        amount=np.bincount(owner, weights=winning, minlength=ent.n).astype(np.float64),
    )
    tenders = pl.DataFrame(
        {
            "project_no": project_no,
            "project_name": np.char.add(purchaser, project_name.astype(np.str_)),
            "budget_amount": budget,
            "published_on": published,
            "purchaser": purchaser,
            "winner_name": ent.take("name", owner),
            "winner_uscc": ent.take("uscc", owner),
            "winning_amount": winning,
            "tender_method": method,
            "bidder_count": np.where(method == "单一来源", 1, 3 + rng.poisson(4.0, m)).astype(
                np.int64
            ),
            "opened_on": opened,
            "project_category": category,
        }
    )
    return tenders, awards
