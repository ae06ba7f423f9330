"""Utilities: electricity, water and gas accounts and how they are paid."""

from __future__ import annotations

import numpy as np
import polars as pl

from shuyu.data.generate.sampling import Ints, digits, expand, sigmoid, stream
from shuyu.data.generate.world import World


def utility(world: World) -> tuple[pl.DataFrame, Ints]:
    """The accounts, and each enterprise's payment defaults over two years."""
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
    account_no = digits(rng, m, 10)
    accounts = pl.DataFrame(
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
    return accounts, np.bincount(owner, weights=defaults, minlength=ent.n).astype(np.int64)
