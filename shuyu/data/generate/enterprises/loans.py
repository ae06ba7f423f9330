"""The partner bank's own data: its loans to enterprises and whether they defaulted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from shuyu.data.generate.sampling import (
    Bools,
    Floats,
    Ints,
    expand,
    numbered,
    sigmoid,
    stream,
    uniform_days,
)
from shuyu.data.generate.world import World


@dataclass(frozen=True)
class PublicRecord:
    """What the public tables recorded about each enterprise: the loan outcomes follow
    it (and the latent risk), so a model on the authorised fields finds real signal."""

    tax_arrears: Floats
    si_unpaid: Ints  # unpaid social insurance months
    leverage: Floats
    enforced: Bools
    dishonest: Bools
    blacklisted: Bools
    credit_score: Floats  # 0 (A) … 3 (D)
    utility_defaults: Ints
    bids_won: Ints
    bid_amount: Floats
    patents: Ints
    software: Ints
    tags: Ints


def loans(world: World, record: PublicRecord) -> pl.DataFrame:
    """The bank's loans and whether each defaulted within 12 months."""
    as_of = world.as_of
    ent = world.enterprises
    rng = stream(world.seed, "table.bank_loan_outcome")
    n = ent.n
    working = rng.random(n) < 0.85
    bid = (record.bids_won > 0) & (rng.random(n) < 0.85)
    tech_loan = rng.random(n) < sigmoid(-0.2 + 0.9 * ent.tech + 0.5 * record.tags)
    fixed = rng.random(n) < 0.12
    products = ["流动资金贷款", "中标贷", "科创贷", "固定资产贷款"]
    has = np.column_stack([working, bid, tech_loan, fixed])
    owner, _ = expand(has.sum(axis=1))
    product = np.broadcast_to(np.asarray(products), has.shape)[has]
    m = owner.size

    # what the public records show, on the same footing as the features a partner builds
    recorded = (
        0.9 * (record.tax_arrears[owner] > 0)
        + 0.8 * record.dishonest[owner]
        + 0.4 * record.enforced[owner]
        + 0.25 * np.minimum(record.si_unpaid[owner], 6)
        + 0.3 * np.log1p(record.utility_defaults[owner])
        + 0.35 * record.credit_score[owner]
        + 1.5 * (record.leverage[owner] - 0.5)
        + 0.3 * record.blacklisted[owner]
    )
    bid_relief = 0.25 * np.log1p(record.bids_won[owner]) + 0.1 * np.log1p(
        record.bid_amount[owner] / 100.0
    )
    tech_relief = (
        1.6 * np.log1p(record.patents[owner])
        + 1.0 * np.log1p(record.software[owner])
        + 1.0 * record.tags[owner]
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
            [np.minimum(record.bid_amount[owner] * 0.6, 1000.0), ent.revenue[owner] * 0.4],
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
