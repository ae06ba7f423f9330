"""Social insurance (registrations and monthly payments) and the housing fund: what an
enterprise declares and pays for its employees."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from shuyu.data.generate.sampling import (
    Ints,
    day,
    expand,
    month_starts,
    pick,
    round_to,
    sigmoid,
    stream,
)
from shuyu.data.generate.world import World


def social_insurance(world: World) -> tuple[pl.DataFrame, pl.DataFrame, Ints]:
    """(registrations, monthly payments, each enterprise's unpaid months)."""
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
    return reg, pay, unpaid_per


def housing_fund(world: World) -> pl.DataFrame:
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
