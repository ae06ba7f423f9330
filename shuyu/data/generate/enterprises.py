"""Enterprise tables: registration, annual reports, tax, social insurance, housing fund,
courts, credit, innovation, bidding, utilities, and the partner bank's loan outcomes.

Each table is drawn from the enterprise's latent `risk` (and `tech` for innovation),
and the loan outcomes from what those tables record plus the same latent risk, so a
model on the authorised fields finds real, imperfect signal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from shuyu.data import names
from shuyu.data.generate.sampling import (
    Bools,
    Days,
    Floats,
    Ints,
    day,
    digits,
    expand,
    lookup,
    month_starts,
    numbered,
    pick,
    round_to,
    sigmoid,
    stream,
    uniform_days,
)
from shuyu.data.generate.world import World, county_name

Table = tuple[str, pl.DataFrame]


@dataclass
class _Signals:
    """What the public tables recorded about each enterprise, for the loan outcomes."""

    n: int
    tax_arrears: Floats = field(init=False)
    tax_violation: Bools = field(init=False)
    si_unpaid: Ints = field(init=False)
    leverage: Floats = field(init=False)
    cases: Ints = field(init=False)
    enforced: Bools = field(init=False)
    dishonest: Bools = field(init=False)
    blacklisted: Bools = field(init=False)
    credit_score: Floats = field(init=False)  # 0 (A) … 3 (D)
    utility_defaults: Ints = field(init=False)
    utility_arrears: Bools = field(init=False)
    bids_won: Ints = field(init=False)
    bid_amount: Floats = field(init=False)
    patents: Ints = field(init=False)
    software: Ints = field(init=False)
    tags: Ints = field(init=False)


def tables(world: World) -> Iterator[Table]:
    ent = world.enterprises
    sig = _Signals(ent.n)
    as_of = world.as_of
    yield "enterprise_basic", _basic(world)
    yield "enterprise_annual_report", _annual_report(world, sig)
    yield "tax_record", _tax_record(world, sig)
    reg, pay = _social_insurance(world, sig)
    yield "social_insurance_payment", pay
    yield "social_insurance_registration", reg
    yield "housing_fund_registration", _housing_fund(world)
    yield "judicial_case", _judicial(world, sig)
    yield "credit_blacklist", _blacklist(world, sig)
    yield "credit_rating", _credit_rating(world, sig)
    yield "enterprise_tags", _tags(world, sig)
    yield "patent", _patents(world, sig)
    yield "software_copyright", _software(world, sig)
    yield "bidding", _bidding(world, sig)
    yield "utility_payment", _utility(world, sig)
    yield "bank_loan_outcome", _loans(world, sig, as_of)


def _since_established(
    world: World, rng: np.random.Generator, owner: Ints, window: int, *, recent: int = 0
) -> Days:
    """A day for each event row: in the last `window` days, but not before its
    enterprise was established, and at least `recent` days before the extract."""
    established = world.enterprises.established[owner]
    last = day(world.as_of) - np.timedelta64(recent, "D")
    first = np.maximum(day(world.as_of) - np.timedelta64(window, "D"), established)
    span = np.maximum((last - first).astype(np.int64), 0)
    offset = (rng.random(owner.size) * (span + 1)).astype(np.int64)
    dates: Days = first + offset.astype("timedelta64[D]")
    return dates


# ---------------------------------------------------------------- registration


_TYPES = [
    "有限责任公司（自然人投资或控股）",
    "有限责任公司（自然人独资）",
    "股份有限公司（非上市、自然人投资或控股）",
    "个人独资企业",
    "普通合伙企业",
    "有限责任公司（国有独资）",
]
_SCOPE = {
    "A": "农作物种植；牲畜饲养；农产品初加工",
    "B": "煤炭开采、洗选；矿产品销售",
    "C": "机械设备制造；金属制品加工；产品销售",
    "D": "电力供应；热力生产和供应；燃气经营",
    "E": "房屋建筑工程；市政公用工程；土石方工程施工",
    "F": "日用百货、五金交电、建材批发零售",
    "G": "普通货物道路运输；仓储服务；装卸搬运",
    "H": "餐饮服务；住宿服务",
    "I": "软件开发；信息系统集成服务；信息技术咨询服务",
    "L": "企业管理咨询；广告设计、制作；会议及展览服务",
    "M": "技术开发、技术转让、技术服务；检验检测服务",
}


def _basic(world: World) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.enterprise_basic")
    n = ent.n
    gone = rng.random(n) < sigmoid(-4.0 + 0.9 * ent.risk)
    status = np.where(rng.random(n) < 0.5, "存续", "在业")
    status = np.where(gone, pick(rng, ["吊销", "注销", "迁出"], n, [0.5, 0.4, 0.1]), status)
    capital = np.round(
        np.exp(np.log(np.maximum(ent.revenue, 1.0)) + rng.normal(0.0, 0.8, size=n)) / 2.0, 0
    )
    capital = np.clip(capital, 1.0, 100000.0)
    paid_share = np.where(rng.random(n) < 0.45, 0.0, rng.uniform(0.1, 1.0, size=n))
    city = np.where(ent.ordos, "鄂尔多斯市", "宿州市")
    authority = np.char.add(city.astype(np.str_), "市场监督管理局")
    return pl.DataFrame(
        {
            "uscc": ent.uscc,
            "enterprise_name": ent.name,
            "legal_rep_name": ent.legal_rep,
            "established_on": ent.established,
            "registration_authority": authority,
            "status": status,
            "enterprise_type": pick(rng, _TYPES, n, [0.55, 0.2, 0.05, 0.1, 0.05, 0.05]),
            "industry_code": ent.industry,
            "registered_capital": capital,
            "paid_in_capital": round_to(capital * paid_share),
            "region_code": ent.county,
            "address": ent.address,
            "business_scope": lookup(_SCOPE, ent.industry),
        }
    )


def _annual_report(world: World, sig: _Signals) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.enterprise_annual_report")
    report_years = np.arange(world.as_of.year - 3, world.as_of.year)  # filed by 30 June
    est_year = ent.established.astype("datetime64[Y]").astype(np.int64) + 1970
    filed = (est_year[:, None] <= report_years[None, :]) & (
        rng.random((ent.n, report_years.size)) < 0.93
    )
    counts = filed.sum(axis=1)
    owner, _ = expand(counts)
    year = np.broadcast_to(report_years, filed.shape)[filed]
    m = owner.size
    leverage_e = sigmoid(-0.2 + 0.55 * ent.risk + rng.normal(0.0, 0.5, size=ent.n))
    sig.leverage = leverage_e
    growth = rng.normal(0.05 - 0.04 * ent.risk, 0.1)
    yrs_back = (world.as_of.year - 1 - year).astype(np.float64)
    revenue = ent.revenue[owner] * np.exp(-growth[owner] * yrs_back + rng.normal(0, 0.12, m))
    assets = revenue * np.exp(rng.normal(0.1, 0.5, size=ent.n))[owner]
    leverage = np.clip(leverage_e[owner] + rng.normal(0.0, 0.04, m), 0.02, 1.6)
    liabilities = assets * leverage
    margin = rng.normal(0.06 - 0.05 * ent.risk[owner], 0.05)
    profit = revenue * margin
    net = np.where(profit > 0, profit * 0.8, profit)
    subsidy = np.where(rng.random(m) < 0.12, revenue * rng.uniform(0.002, 0.03, m), 0.0)
    loans = np.where(rng.random(m) < 0.6, liabilities * rng.uniform(0.1, 0.6, m), 0.0)
    return pl.DataFrame(
        {
            "uscc": ent.take("uscc", owner),
            "enterprise_name": ent.take("name", owner),
            "report_year": year.astype(np.int64),
            "total_assets": round_to(assets),
            "owners_equity": round_to(assets - liabilities),
            "total_revenue": round_to(revenue),
            "total_profit": round_to(profit),
            "net_profit": round_to(net),
            "tax_total": round_to(
                revenue * rng.uniform(0.01, 0.05, m) + np.maximum(profit, 0) * 0.1
            ),
            "total_liabilities": round_to(liabilities),
            "gov_subsidy": round_to(subsidy),
            "bank_loans": round_to(loans),
        }
    )


def _tax_record(world: World, sig: _Signals) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.tax_record")
    months = month_starts(world.as_of, 12)
    quarter_end = (months.astype("datetime64[M]").astype(np.int64) % 12 + 1) % 3 == 0
    general = ent.revenue >= 500.0  # 一般纳税人 file monthly, 小规模 quarterly
    counts = np.where(general, 12, 4)
    owner, rank = expand(counts)
    m = owner.size
    quarterly_months = months[quarter_end]
    period = np.where(
        general[owner], months[np.minimum(rank, 11)], quarterly_months[np.minimum(rank, 3)]
    )
    span = np.where(general[owner], 1.0, 3.0)
    invoice = ent.revenue[owner] * 10000.0 / 12.0 * span * np.exp(rng.normal(0.0, 0.3, m))
    vat_rate = np.where(general[owner], rng.uniform(0.02, 0.05, m), 0.01)
    vat = invoice * vat_rate
    is_quarter_end = quarter_end[np.searchsorted(months, period)]
    profitable = rng.random(ent.n) < sigmoid(0.8 - 0.8 * ent.risk)
    cit = np.where(is_quarter_end & profitable[owner], invoice * rng.uniform(0.002, 0.02, m), 0.0)
    habit = rng.normal(0.0, 1.0, size=ent.n)  # some firms pay late whatever their health
    late = rng.random(m) < sigmoid(-4.6 + 1.1 * ent.risk[owner] + 0.8 * habit[owner])
    arrears = np.where(late, vat * rng.uniform(0.3, 2.0, m) + cit, 0.0)
    violation = rng.random(m) < sigmoid(-6.0 + 1.0 * ent.risk[owner])
    sig.tax_arrears = np.bincount(owner, weights=arrears, minlength=ent.n).astype(np.float64)
    sig.tax_violation = np.bincount(owner, weights=violation, minlength=ent.n) > 0
    return pl.DataFrame(
        {
            "uscc": ent.take("uscc", owner),
            "enterprise_name": ent.take("name", owner),
            "tax_period": period,
            "vat": round_to(vat),
            "corporate_income_tax": round_to(cit),
            "invoice_amount": round_to(invoice),
            "arrears_amount": round_to(arrears),
            "has_violation": violation,
        }
    )


# ---------------------------------------------------------------- social insurance, housing fund


def _social_insurance(world: World, sig: _Signals) -> tuple[pl.DataFrame, pl.DataFrame]:
    ent = world.enterprises
    rng = stream(world.seed, "table.social_insurance")
    registered = rng.random(ent.n) < 0.9
    idx = np.flatnonzero(registered)
    months_covered = np.where(registered, rng.integers(12, 25, size=ent.n), 0)
    owner, rank = expand(months_covered)
    m = owner.size
    months = month_starts(world.as_of, 24)
    pay_month = months[24 - months_covered[owner] + rank]
    base_e = np.where(ent.ordos, 5200.0, 4200.0) * np.exp(rng.normal(0.0, 0.25, ent.n))
    base = np.round(
        base_e[owner] * np.where(pay_month >= day(dt.date(world.as_of.year, 1, 1)), 1.05, 1.0), 0
    )
    rate = np.round(rng.choice([0.24, 0.26, 0.28], size=ent.n), 3)
    headcount = np.maximum(1, ent.employees[owner] + rng.integers(-1, 2, m))
    habit = rng.normal(0.0, 1.0, size=ent.n)
    unpaid = rng.random(m) < sigmoid(-4.4 + 1.2 * ent.risk[owner] + 0.9 * habit[owner])
    unpaid_per = np.bincount(owner, weights=unpaid, minlength=ent.n).astype(np.int64)
    sig.si_unpaid = unpaid_per
    pay = pl.DataFrame(
        {
            "uscc": ent.take("uscc", owner),
            "enterprise_name": ent.take("name", owner),
            "pay_month": pay_month,
            "contribution_base": base,
            "contribution_rate": rate[owner],
            "personal_amount": round_to(base * headcount * 0.105),
            "employer_amount": round_to(base * headcount * rate[owner]),
            "paid": ~unpaid,
        }
    )
    r = idx.size
    # arrears older than the payment extract also count: the register keeps them
    arrears = unpaid_per[idx] + np.where(unpaid_per[idx] > 0, rng.poisson(1.0, r), 0).astype(
        np.int64
    )
    arrears = np.minimum(arrears, 36)
    suspended = rng.random(r) < sigmoid(-5.0 + 1.0 * ent.risk[idx])
    status = np.where(arrears > 0, "欠费", "正常缴费")
    status = np.where(suspended, "暂停缴费", status)
    types = pick(
        rng,
        ["养老,医疗,失业,工伤,生育", "养老,医疗,工伤", "养老,医疗,失业,工伤"],
        r,
        [0.7, 0.1, 0.2],
    )
    reg = pl.DataFrame(
        {
            "uscc": ent.take("uscc", idx),
            "enterprise_name": ent.take("name", idx),
            "insured_count": ent.employees[idx],
            "insurance_types": types,
            "contribution_base": np.round(base_e[idx], 0),
            "payment_status": status,
            "arrears_months": arrears,
            "arbitration_cases": rng.poisson(
                np.exp(-3.0 + 0.6 * ent.risk[idx] + 0.3 * np.log(ent.employees[idx]))
            ).astype(np.int64),
        }
    )
    return reg, pay


def _housing_fund(world: World) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.housing_fund_registration")
    joined = rng.random(ent.n) < sigmoid(-0.8 + 0.5 * np.log(ent.employees) - 0.4 * ent.risk)
    idx = np.flatnonzero(joined)
    r = idx.size
    share = rng.uniform(0.3, 1.0, r)
    status = np.where(
        rng.random(r) < sigmoid(-3.5 + 1.1 * ent.risk[idx]),
        "欠缴",
        np.where(rng.random(r) < 0.05, "封存", "正常缴存"),
    )
    return pl.DataFrame(
        {
            "uscc": ent.take("uscc", idx),
            "enterprise_name": ent.take("name", idx),
            "depositor_count": np.maximum(1, np.round(ent.employees[idx] * share)).astype(np.int64),
            "deposit_base": np.round(
                np.where(ent.ordos[idx], 5800.0, 4600.0) * np.exp(rng.normal(0.0, 0.3, r)), 0
            ),
            "deposit_rate": rng.choice([0.05, 0.06, 0.08, 0.10, 0.12], size=r),
            "deposit_status": status,
        }
    )


# ---------------------------------------------------------------- courts and credit


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


def _judicial(world: World, sig: _Signals) -> pl.DataFrame:
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
    filed_on = _since_established(world, rng, owner, 3 * 365, recent=1)
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
    sig.cases = counts.astype(np.int64)
    sig.enforced = np.bincount(owner, weights=enforced, minlength=ent.n) > 0
    sig.dishonest = np.bincount(owner, weights=dishonest, minlength=ent.n) > 0
    return pl.DataFrame(
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


_BLACKLIST = [
    ("重大税收违法失信主体", "市税务局"),
    ("拖欠农民工工资失信联合惩戒对象", "市人社局"),
    ("失信被执行人", "市中级人民法院"),
    ("安全生产领域失信生产经营单位", "市应急管理局"),
    ("环境保护领域严重失信", "市生态环境局"),
]


def _blacklist(world: World, sig: _Signals) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.credit_blacklist")
    counts = np.minimum(rng.poisson(np.exp(-4.2 + 1.1 * ent.risk + 0.8 * sig.dishonest)), 3)
    owner, _ = expand(counts)
    m = owner.size
    which = rng.integers(0, len(_BLACKLIST), m)
    listed = _since_established(world, rng, owner, 4 * 365, recent=30)
    delisted = listed + rng.integers(180, 3 * 365, m).astype("timedelta64[D]")
    still = (delisted > day(world.as_of)) | (rng.random(m) < 0.4)
    sig.blacklisted = counts > 0
    return pl.DataFrame(
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


def _credit_rating(world: World, sig: _Signals) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.credit_rating")
    # the bureau sees the same records the partner sees, plus what only it knows
    score = (
        0.6 * ent.risk
        + 0.8 * sig.dishonest
        + 0.6 * sig.blacklisted
        + 0.4 * (sig.tax_arrears > 0)
        + rng.normal(0.0, 0.7, ent.n)
    )
    cut = np.quantile(score, [0.3, 0.75, 0.93])
    level_idx = np.searchsorted(cut, score)
    sig.credit_score = level_idx.astype(np.float64)
    return pl.DataFrame(
        {
            "uscc": ent.uscc,
            "enterprise_name": ent.name,
            "credit_level": np.asarray(["A", "B", "C", "D"])[level_idx],
            "major_risk": rng.random(ent.n) < sigmoid(-4.5 + 1.3 * ent.risk + 1.0 * sig.dishonest),
        }
    )


# ---------------------------------------------------------------- innovation


def _tags(world: World, sig: _Signals) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.enterprise_tags")
    sme = rng.random(ent.n) < sigmoid(-2.0 + 1.3 * ent.tech)
    high = rng.random(ent.n) < sigmoid(-3.2 + 1.4 * ent.tech + 0.2 * np.log(ent.employees))
    special = rng.random(ent.n) < sigmoid(-4.2 + 1.2 * ent.tech + 0.4 * np.log(ent.employees))
    sig.tags = sme.astype(np.int64) + high + special
    return pl.DataFrame(
        {"uscc": ent.uscc, "is_tech_sme": sme, "is_high_tech": high, "is_specialised": special}
    )


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


def _patents(world: World, sig: _Signals) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.patent")
    counts = np.minimum(rng.poisson(np.exp(-2.8 + 1.2 * ent.tech)), 40)
    sig.patents = counts.astype(np.int64)
    owner, _ = expand(counts)
    m = owner.size
    granted = _since_established(world, rng, owner, 8 * 365)
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
    return pl.DataFrame(
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


def _software(world: World, sig: _Signals) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.software_copyright")
    counts = np.minimum(
        rng.poisson(np.exp(-2.4 + 1.0 * ent.tech + 1.0 * (ent.industry == "I"))), 50
    )
    sig.software = counts.astype(np.int64)
    owner, _ = expand(counts)
    m = owner.size
    registered = _since_established(world, rng, owner, 6 * 365)
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
    return pl.DataFrame(
        {
            "uscc": ent.take("uscc", owner),
            "enterprise_name": ent.take("name", owner),
            "work_title": title,
            "registration_no": reg_no,
            "registered_on": registered,
        }
    )


# ---------------------------------------------------------------- bidding


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


def _bidding(world: World, sig: _Signals) -> pl.DataFrame:
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
    published = _since_established(world, rng, owner, 3 * 365, recent=40)
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
    sig.bids_won = counts.astype(np.int64)
    sig.bid_amount = np.bincount(owner, weights=winning, minlength=ent.n).astype(np.float64)
    return pl.DataFrame(
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


# ---------------------------------------------------------------- utilities


def _utility(world: World, sig: _Signals) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.utility_payment")
    kinds = ["电", "水", "气"]
    has = np.column_stack(
        [
            np.ones(ent.n, dtype=bool),
            rng.random(ent.n) < 0.8,
            rng.random(ent.n) < np.where(np.isin(ent.industry, ["C", "H", "D"]), 0.7, 0.25),
        ]
    )
    owner, _ = expand(has.sum(axis=1))
    utility = np.broadcast_to(np.asarray(kinds), has.shape)[has]
    m = owner.size
    scale = np.select([utility == "电", utility == "水"], [3000.0, 600.0], 900.0)
    avg12 = np.round(scale * np.sqrt(ent.employees[owner]) * np.exp(rng.normal(0.0, 0.5, m)), 2)
    risk = ent.risk[owner]
    avg3 = np.round(avg12 * np.exp(rng.normal(-0.05 * risk, 0.2)), 2)
    habit = rng.normal(0.0, 1.0, ent.n)[owner]
    in_arrears = rng.random(m) < sigmoid(-3.6 + 1.0 * risk + 0.7 * habit)
    defaults = rng.poisson(np.exp(-2.0 + 0.9 * risk + 0.7 * habit)).astype(np.int64)
    sig.utility_defaults = np.bincount(owner, weights=defaults, minlength=ent.n).astype(np.int64)
    sig.utility_arrears = np.bincount(owner, weights=in_arrears, minlength=ent.n) > 0
    account_no = digits(rng, m, 10)
    return pl.DataFrame(
        {
            "uscc": ent.take("uscc", owner),
            "account_name": ent.take("name", owner),
            "account_no": np.where(utility == "电", "E", np.where(utility == "水", "W", "G"))
            + account_no.to_numpy().astype(np.str_),
            "address": ent.take("address", owner),
            "utility": utility,
            "avg_monthly_12m": avg12,
            "avg_monthly_3m": avg3,
            "in_arrears": in_arrears,
            "arrears_amount": np.where(
                in_arrears, np.round(avg12 * rng.uniform(0.5, 4.0, m), 2), 0.0
            ),
            "defaults_2y": defaults,
        }
    )


# ---------------------------------------------------------------- loans: the bank's own data


def _loans(world: World, sig: _Signals, as_of: dt.date) -> pl.DataFrame:
    ent = world.enterprises
    rng = stream(world.seed, "table.bank_loan_outcome")
    n = ent.n
    working = rng.random(n) < 0.85
    bid = (sig.bids_won > 0) & (rng.random(n) < 0.85)
    tech_loan = rng.random(n) < sigmoid(-0.2 + 0.9 * ent.tech + 0.5 * sig.tags)
    fixed = rng.random(n) < 0.12
    products = ["流动资金贷款", "中标贷", "科创贷", "固定资产贷款"]
    has = np.column_stack([working, bid, tech_loan, fixed])
    owner, _ = expand(has.sum(axis=1))
    product = np.broadcast_to(np.asarray(products), has.shape)[has]
    m = owner.size

    # what the public records show, on the same footing as the features a partner builds
    recorded = (
        0.9 * (sig.tax_arrears[owner] > 0)
        + 0.8 * sig.dishonest[owner]
        + 0.4 * sig.enforced[owner]
        + 0.25 * np.minimum(sig.si_unpaid[owner], 6)
        + 0.3 * np.log1p(sig.utility_defaults[owner])
        + 0.35 * sig.credit_score[owner]
        + 1.5 * (sig.leverage[owner] - 0.5)
        + 0.3 * sig.blacklisted[owner]
    )
    bid_relief = 0.25 * np.log1p(sig.bids_won[owner]) + 0.1 * np.log1p(
        sig.bid_amount[owner] / 100.0
    )
    tech_relief = (
        1.6 * np.log1p(sig.patents[owner])
        + 1.0 * np.log1p(sig.software[owner])
        + 1.0 * sig.tags[owner]
    )
    # a 科创贷 is priced on innovation: the bank's model sees little else
    logit = np.select(
        [product == "中标贷", product == "科创贷"],
        [
            -3.3 + recorded - bid_relief + 0.5 * ent.risk[owner],
            0.0 + 0.1 * recorded - tech_relief + 0.15 * ent.risk[owner],
        ],
        -3.6 + recorded + 0.5 * ent.risk[owner],
    )
    logit = logit + rng.normal(0.0, 0.6, m)
    defaulted = rng.random(m) < sigmoid(logit)
    disbursed = uniform_days(
        rng, dt.date(as_of.year - 2, as_of.month, 1), dt.date(as_of.year - 1, as_of.month, 28), m
    )
    amount = np.round(
        np.select(
            [product == "中标贷", product == "固定资产贷款"],
            [np.minimum(sig.bid_amount[owner] * 0.6, 1000.0), ent.revenue[owner] * 0.4],
            ent.revenue[owner] * 0.15,
        )
        * np.exp(rng.normal(0.0, 0.3, m)),
        2,
    )
    amount = np.clip(amount, 5.0, 5000.0)
    return pl.DataFrame(
        {
            "loan_no": numbered("JJ", np.arange(1, m + 1), 12),
            "uscc": ent.take("uscc", owner),
            "product": product,
            "disbursed_on": disbursed,
            "amount": amount,
            "defaulted_12m": defaulted,
        }
    )
