"""Innovation: technology tags, patents and software copyrights, drawn from the
enterprise's latent `tech`."""

from __future__ import annotations

import numpy as np
import polars as pl

from shuyu.data.generate import names
from shuyu.data.generate.enterprises.timeline import since_established
from shuyu.data.generate.sampling import Ints, expand, pick, sigmoid, stream
from shuyu.data.generate.world import World


def tags(world: World) -> tuple[pl.DataFrame, Ints]:
    """The tags, and how many of the three each enterprise has."""
    ent = world.enterprises
    rng = stream(world.seed, "table.enterprise_tags")
    sme = rng.random(ent.n) < sigmoid(-2.0 + 1.3 * ent.tech)
    high = rng.random(ent.n) < sigmoid(-3.2 + 1.4 * ent.tech + 0.2 * np.log(ent.employees))
    special = rng.random(ent.n) < sigmoid(-4.2 + 1.2 * ent.tech + 0.4 * np.log(ent.employees))
    tagged = pl.DataFrame(
        {"uscc": ent.uscc, "is_tech_sme": sme, "is_high_tech": high, "is_specialised": special}
    )
    return tagged, sme.astype(np.int64) + high + special


_TITLE_OBJECT = [
    "煤矸石综合利用",
    "智能仓储调度",
    "农产品冷链保鲜",
    "输送带故障检测",
    "污水处理",
    "电力负荷预测",
    "建筑垃圾再生骨料",
    "新型复合材料",
]
_TITLE_KIND = ["方法", "装置", "系统", "设备及其控制方法"]


def patents(world: World) -> tuple[pl.DataFrame, Ints]:
    """The patents, and how many each enterprise holds."""
    ent = world.enterprises
    rng = stream(world.seed, "table.patent")
    counts = np.minimum(rng.poisson(np.exp(-2.8 + 1.2 * ent.tech)), 40)
    owner, _ = expand(counts)
    m = owner.size
    granted = since_established(world, rng, owner, 8 * 365)
    year = (granted.astype("datetime64[Y]").astype(np.int64) + 1970 - 2).astype(np.str_)
    pct = rng.random(m) < 0.08
    serial = pl.Series(np.arange(m, dtype=np.int64) + 100000).cast(pl.String).str.zfill(7)
    frame = pl.DataFrame({"y": year, "s": serial, "pct": pct, "c": rng.integers(0, 10, m)})
    patent_no = frame.select(
        pl.when(pl.col("pct"))
        .then(pl.concat_str([pl.lit("PCT/CN"), pl.col("y"), pl.lit("/"), pl.col("s")]))
        .otherwise(
            pl.concat_str(
                [
                    pl.lit("ZL"),
                    pl.col("y"),
                    pl.lit("1"),
                    pl.col("s"),
                    pl.lit("."),
                    pl.col("c").cast(pl.String),
                ]
            )
        )
    ).to_series()
    title = np.char.add(
        np.char.add("一种", pick(rng, _TITLE_OBJECT, m)),
        np.char.add("的", pick(rng, _TITLE_KIND, m)),
    )
    held = pl.DataFrame(
        {
            "uscc": ent.take("uscc", owner),
            "enterprise_name": ent.take("name", owner),
            "patent_title": title,
            "patent_no": patent_no,
            "inventor": np.asarray(list(names.person_names(rng, m)), dtype=np.str_),
            "patent_kind": np.where(pct, "PCT", "发明专利"),
            "granted_on": granted,
        }
    )
    return held, counts.astype(np.int64)


def software(world: World) -> tuple[pl.DataFrame, Ints]:
    """The software copyrights, and how many each enterprise holds."""
    ent = world.enterprises
    rng = stream(world.seed, "table.software_copyright")
    counts = np.minimum(
        rng.poisson(np.exp(-2.4 + 1.0 * ent.tech + 1.0 * (ent.industry == "I"))), 50
    )
    owner, _ = expand(counts)
    m = owner.size
    registered = since_established(world, rng, owner, 6 * 365)
    year = (registered.astype("datetime64[Y]").astype(np.int64) + 1970).astype(np.str_)
    reg_no = (
        pl.DataFrame({"y": year, "s": np.arange(m, dtype=np.int64)})
        .select(
            pl.concat_str([pl.col("y"), pl.lit("SR"), pl.col("s").cast(pl.String).str.zfill(7)])
        )
        .to_series()
    )
    title = np.char.add(
        pick(
            rng,
            ["智慧矿山", "物流调度", "企业资源", "安全生产监测", "电子招投标", "医保结算对账"],
            m,
        ),
        pick(rng, ["管理系统V1.0", "平台V2.0", "软件V1.0", "移动端应用V3.1"], m),
    )
    works = pl.DataFrame(
        {
            "uscc": ent.take("uscc", owner),
            "enterprise_name": ent.take("name", owner),
            "work_title": title,
            "registration_no": reg_no,
            "registered_on": registered,
        }
    )
    return works, counts.astype(np.int64)
