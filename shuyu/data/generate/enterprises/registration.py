"""Registration, annual reports and tax: what the market regulator and the tax bureau
record about each enterprise."""

from __future__ import annotations

import numpy as np
import polars as pl

from shuyu.data.generate.sampling import (
    Floats,
    expand,
    lookup,
    month_starts,
    pick,
    round_to,
    sigmoid,
    stream,
)
from shuyu.data.generate.world import World

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


def basic(world: World) -> pl.DataFrame:
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


def annual_report(world: World) -> tuple[pl.DataFrame, Floats]:
    """The reports, and each enterprise's usual leverage (liabilities / assets)."""
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
    reports = pl.DataFrame(
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
    return reports, leverage_e


def tax_record(world: World) -> tuple[pl.DataFrame, Floats]:
    """The filings, and each enterprise's total tax arrears."""
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
    filings = pl.DataFrame(
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
    return filings, np.bincount(owner, weights=arrears, minlength=ent.n).astype(np.float64)
