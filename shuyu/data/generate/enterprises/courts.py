"""Courts and credit: judicial cases, the joint-punishment blacklists and the credit
bureau's ratings, which see what the courts and blacklists record."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from shuyu.data.generate.enterprises.timeline import since_established
from shuyu.data.generate.sampling import Bools, Floats, day, expand, pick, sigmoid, stream
from shuyu.data.generate.world import World, county_name


@dataclass(frozen=True)
class CourtRecord:
    """What the courts record about each enterprise."""

    enforced: Bools  # had a judgment enforced against it
    dishonest: Bools  # listed as a dishonest judgment debtor (失信被执行人)


_CAUSES = [
    "买卖合同纠纷",
    "金融借款合同纠纷",
    "劳动争议",
    "建设工程施工合同纠纷",
    "民间借贷纠纷",
    "租赁合同纠纷",
    "服务合同纠纷",
]
_COURT_CODE = {"3413": "皖13", "1506": "蒙06"}


def judicial(world: World) -> tuple[pl.DataFrame, CourtRecord]:
    """The cases, and what they say about each enterprise."""
    ent = world.enterprises
    rng = stream(world.seed, "table.judicial_case")
    counts = rng.poisson(np.exp(-1.8 + 0.9 * ent.risk + 0.15 * np.log(ent.employees)))
    counts = np.minimum(counts, 30)
    owner, _ = expand(counts)
    m = owner.size
    risk = ent.risk[owner]
    defendant = rng.random(m) < sigmoid(0.0 + 0.8 * risk)
    role = np.where(
        defendant,
        pick(rng, ["被告", "被执行人"], m, [0.7, 0.3]),
        pick(rng, ["原告", "第三人"], m, [0.9, 0.1]),
    )
    enforced = defendant & (rng.random(m) < sigmoid(-1.5 + 0.9 * risk))
    dishonest = enforced & (rng.random(m) < sigmoid(-1.0 + 0.8 * risk))
    filed_on = since_established(world, rng, owner, 3 * 365, recent=1)
    year = (filed_on.astype("datetime64[Y]").astype(np.int64) + 1970).astype(np.str_)
    county = ent.county[owner]
    court_prefix = np.where(county.astype("<U4") == "1506", "蒙06", "皖13")
    kind = np.where(enforced, "执", pick(rng, ["民初", "民终"], m, [0.85, 0.15]))
    serial = pl.Series(np.arange(1, m + 1, dtype=np.int64) % 100000 + 1).cast(pl.String)
    case_no = (
        pl.DataFrame(
            {
                "y": year,
                "p": court_prefix,
                "c": county.astype("<U6"),
                "k": kind,
                "s": serial,
                "i": np.arange(1, m + 1),
            }
        )
        .select(
            pl.concat_str(
                [
                    pl.lit("("),
                    pl.col("y"),
                    pl.lit(")"),
                    pl.col("p"),
                    pl.col("c").str.slice(4, 2),
                    pl.col("k"),
                    pl.col("i").cast(pl.String),
                    pl.lit("号"),
                ]
            )
        )
        .to_series()
    )
    judgment = np.where(
        enforced,
        "终结本次执行程序",
        pick(
            rng,
            ["原告胜诉", "部分支持", "驳回诉讼请求", "调解结案", "撤诉"],
            m,
            [0.35, 0.2, 0.1, 0.25, 0.1],
        ),
    )
    amount = np.where(enforced, np.round(np.exp(rng.normal(11.5 + 0.3 * risk, 1.0)), 2), np.nan)
    bankruptcy = rng.random(m) < sigmoid(-6.5 + 1.2 * risk)
    record = CourtRecord(
        enforced=np.bincount(owner, weights=enforced, minlength=ent.n) > 0,
        dishonest=np.bincount(owner, weights=dishonest, minlength=ent.n) > 0,
    )
    cases = pl.DataFrame(
        {
            "uscc": ent.take("uscc", owner),
            "enterprise_name": ent.take("name", owner),
            "case_no": case_no,
            "cause": pick(rng, _CAUSES, m, [0.3, 0.15, 0.15, 0.12, 0.12, 0.08, 0.08]),
            "filed_on": filed_on,
            "court": np.char.add(county_name(county), "人民法院"),
            "party_role": role,
            "judgment": judgment,
            "is_dishonest_debtor": dishonest,
            "is_enforced": enforced,
            "enforced_amount": pl.Series(amount).fill_nan(None),
            "bankruptcy": bankruptcy,
        }
    )
    return cases, record


_BLACKLIST = [
    ("重大税收违法失信主体", "市税务局"),
    ("拖欠农民工工资失信联合惩戒对象", "市人社局"),
    ("失信被执行人", "市中级人民法院"),
    ("安全生产领域失信生产经营单位", "市应急管理局"),
    ("环境保护领域严重失信", "市生态环境局"),
]


def blacklist(world: World, dishonest: Bools) -> tuple[pl.DataFrame, Bools]:
    """The listings (dishonest debtors are listed more often), and who is listed."""
    ent = world.enterprises
    rng = stream(world.seed, "table.credit_blacklist")
    counts = np.minimum(rng.poisson(np.exp(-4.2 + 1.1 * ent.risk + 0.8 * dishonest)), 3)
    owner, _ = expand(counts)
    m = owner.size
    which = rng.integers(0, len(_BLACKLIST), m)
    listed = since_established(world, rng, owner, 4 * 365, recent=30)
    delisted = listed + rng.integers(180, 3 * 365, m).astype("timedelta64[D]")
    still = (delisted > day(world.as_of)) | (rng.random(m) < 0.4)
    listings = pl.DataFrame(
        {
            "uscc": ent.take("uscc", owner),
            "enterprise_name": ent.take("name", owner),
            "legal_rep_name": ent.take("legal_rep", owner),
            "reason": np.asarray([r for r, _ in _BLACKLIST])[which],
            "listed_on": listed,
            "reporting_authority": np.asarray([a for _, a in _BLACKLIST])[which],
            "delisted_on": pl.Series("d", delisted).set(pl.Series(still), None),
        }
    )
    return listings, counts > 0


def credit_rating(
    world: World, record: CourtRecord, blacklisted: Bools, tax_arrears: Floats
) -> tuple[pl.DataFrame, Floats]:
    """The bureau's ratings, and each as a score from 0 (A) to 3 (D)."""
    ent = world.enterprises
    rng = stream(world.seed, "table.credit_rating")
    # the bureau sees the same records the partner sees, plus what only it knows
    score = (
        0.6 * ent.risk
        + 0.8 * record.dishonest
        + 0.6 * blacklisted
        + 0.4 * (tax_arrears > 0)
        + rng.normal(0.0, 0.7, ent.n)
    )
    cut = np.quantile(score, [0.3, 0.75, 0.93])
    level_idx = np.searchsorted(cut, score)
    ratings = pl.DataFrame(
        {
            "uscc": ent.uscc,
            "enterprise_name": ent.name,
            "credit_level": np.asarray(["A", "B", "C", "D"])[level_idx],
            "major_risk": rng.random(ent.n)
            < sigmoid(-4.5 + 1.3 * ent.risk + 1.0 * record.dishonest),
        }
    )
    return ratings, level_idx.astype(np.float64)
