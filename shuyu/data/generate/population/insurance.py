"""The commercial insurer's claims and the medical insurance fund's audit findings: the
labels of the underwriting and supervision scenarios."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from shuyu.data.generate.sampling import Bools, Ints, numbered, pick, sigmoid, stream, uniform_days
from shuyu.data.generate.world import World


def health_claims(world: World, n_chronic: Ints) -> pl.DataFrame:
    p = world.persons
    rng = stream(world.seed, "table.health_claim")
    insured = (p.age >= 18) & (p.age <= 70) & (rng.random(p.n) < 0.6)
    idx = np.flatnonzero(insured)
    r = idx.size
    logit = (
        -2.5
        + 0.75 * n_chronic[idx]
        + 0.035 * (p.age[idx] - 45.0)
        + 0.5 * p.frailty[idx]
        + rng.normal(0.0, 0.4, r)
    )
    claimed = rng.random(r) < sigmoid(logit)
    amount = np.where(
        claimed, np.round(np.exp(rng.normal(8.5 + 0.2 * n_chronic[idx], 1.0)), 2), 0.0
    )
    return pl.DataFrame(
        {
            "policy_no": numbered("BD", np.arange(1, r + 1), 14),
            "id_number": p.take("id_number", idx),
            "consent_signed_on": uniform_days(
                rng, world.as_of - dt.timedelta(days=730), world.as_of - dt.timedelta(days=366), r
            ),
            "claimed_next_year": claimed,
            "claim_amount": amount,
        }
    )


def audit_findings(world: World, enrolled: Bools, anomalous: Bools) -> pl.DataFrame:
    p = world.persons
    rng = stream(world.seed, "table.medical_audit_finding")
    audited = enrolled & (rng.random(p.n) < np.where(anomalous, 0.9, 0.55))
    idx = np.flatnonzero(audited)
    r = idx.size
    found = rng.random(r) < np.where(anomalous[idx], 0.75, sigmoid(-4.2 + 0.3 * p.frailty[idx]))
    kind = pick(
        rng,
        ["串换药品", "虚假住院", "超量开药", "冒名就医", "分解住院"],
        r,
        [0.3, 0.15, 0.3, 0.1, 0.15],
    )
    return pl.DataFrame(
        {
            "id_number": p.take("id_number", idx),
            "audited_on": uniform_days(rng, world.as_of - dt.timedelta(days=180), world.as_of, r),
            "violation_found": found,
            "finding_type": pl.Series(kind).set(pl.Series(~found), None),
        }
    )
