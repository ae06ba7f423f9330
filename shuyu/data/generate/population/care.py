"""Care: insurance settlements and the visits they close, and hospital outpatient
records. Claims follow age, chronic disease and latent frailty; anomalous claimants buy
at many pharmacies and institutions and run up inflated bills."""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt
import polars as pl

from shuyu.data.generate.population.codes import (
    ACUTE,
    CATEGORIES,
    CHRONIC,
    DEPARTMENTS,
    DIAGNOSES,
)
from shuyu.data.generate.population.institutions import institutions, pick_institution
from shuyu.data.generate.sampling import (
    Bools,
    Ints,
    expand,
    labels,
    numbered,
    round_to,
    sigmoid,
    stream,
    uniform_days,
    uniform_times,
)
from shuyu.data.generate.world import World


def settlements(
    world: World,
    *,
    enrolled: Bools,
    registered: npt.NDArray[np.bool_],
    n_chronic: Ints,
    anomalous: Bools,
    primary: Ints,
    secondary: Ints,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    p = world.persons
    inst = institutions()
    rng = stream(world.seed, "table.medical_settlement")
    n = p.n
    n_registered = registered.sum(axis=1)
    age_term = (p.age - 50.0) / 10.0
    counts = np.column_stack(
        [
            rng.poisson(np.exp(0.4 + 0.35 * p.frailty + 0.1 * age_term + 0.2 * n_chronic)),
            rng.poisson(3.5 * n_registered),
            rng.poisson(
                np.exp(
                    -2.6 + 0.55 * p.frailty + 0.3 * age_term + 0.35 * n_chronic + 1.2 * anomalous
                )
            ),
            rng.poisson(np.exp(0.6 + 0.3 * n_chronic + 1.6 * anomalous)),
        ]
    )
    counts = np.minimum(counts, 60) * enrolled[:, None]
    owner, _ = expand(counts.sum(axis=1))
    # rows are laid out person by person, and within a person category by category
    category_idx = np.repeat(np.tile(np.arange(4), n), counts.reshape(-1))
    m = owner.size
    is_pharmacy = category_idx == 3
    inpatient = category_idx == 2
    cheat = anomalous[owner]

    # regular patients keep to a home hospital and pharmacy; anomalous ones shop around
    home_h = pick_institution(rng, inst, p.county, pharmacy=False)
    home_p = pick_institution(rng, inst, p.county, pharmacy=True)
    wander = rng.random(m) < np.where(cheat, 0.9, np.where(inpatient, 0.6, 0.25))
    other = pick_institution(rng, inst, p.county[owner], pharmacy=is_pharmacy)
    institution = np.where(wander, other, np.where(is_pharmacy, home_p[owner], home_h[owner]))

    median = np.asarray([180.0, 650.0, 9000.0, 120.0])[category_idx]
    total = median * np.exp(rng.normal(0.0, 0.6, m) + 0.1 * p.frailty[owner])
    total = round_to(total * np.where(cheat, 1.8, 1.0))
    self_pay = round_to(total * np.where(cheat, rng.beta(2.0, 6.0, m), rng.beta(1.0, 14.0, m)))
    worker = rng.random(n) < 0.4
    ratio = np.select(
        [inpatient, category_idx == 1, is_pharmacy],
        [np.where(worker[owner], 0.82, 0.65), 0.7, np.where(worker[owner], 0.9, 0.0)],
        0.5,
    )
    fund = round_to((total - self_pay) * ratio)
    personal = round_to(total - fund)

    # diagnoses index DIAGNOSES: a person's own chronic conditions (always, for 门诊慢特病)
    # or an acute illness
    has_chronic = n_chronic[owner] > 0
    chronic_row = has_chronic & (
        (category_idx == 1) | (rng.random(m) < np.where(is_pharmacy, 0.8, 0.45))
    )
    which = np.where(rng.random(m) < 0.6, primary[owner], secondary[owner])
    diagnosis = np.where(chronic_row, which, len(CHRONIC) + rng.integers(0, len(ACUTE), m))
    settled_day = uniform_days(rng, world.as_of - dt.timedelta(days=364), world.as_of, m)
    settled_at = uniform_times(rng, settled_day, 7, 21)
    days = np.where(
        inpatient,
        np.maximum(1, np.round(np.exp(rng.normal(1.9, 0.5, m)) * np.where(cheat, 1.5, 1.0))),
        0,
    ).astype(np.int64)
    codes = labels(DIAGNOSES, diagnosis)
    settlements = pl.DataFrame(
        {
            "settlement_id": numbered("JS", np.arange(1, m + 1), 14),
            "id_number": p.take("id_number", owner),
            "name": p.take("name", owner),
            "gender": labels(["女", "男"], p.male[owner].astype(np.int64)),
            "birth_date": p.birth[owner],
            "institution_code": labels(inst.code, institution),
            "hospital_level": labels(inst.level, institution),
            "medical_category": labels(CATEGORIES, category_idx),
            "settled_at": settled_at,
            "total_cost": total,
            "self_pay_full": self_pay,
            "fund_paid": fund,
            "personal_paid": personal,
            "disease_code": codes,
            "invoice_no": numbered(
                "", np.arange(m, dtype=np.int64) * 7 + 10_000_000_000 + int(rng.integers(0, 7)), 12
            ),
        }
    )
    # every settlement except a pharmacy purchase closes a visit
    v = np.flatnonzero(~is_pharmacy)
    k = v.size
    start = settled_at[v] - (days[v] * 86_400_000_000).astype("timedelta64[us]")
    start = start - (rng.integers(600, 4 * 3600, k) * 1_000_000).astype("timedelta64[us]")
    died = rng.random(k) < sigmoid(
        -7.0 + 0.6 * p.frailty[owner[v]] + 0.05 * (p.age[owner[v]] - 60.0)
    )
    discharge = np.where(died, 3, rng.choice(3, size=k, p=[0.92, 0.04, 0.04]))
    discharge = np.where(inpatient[v], discharge, 4)  # only a stay has a discharge
    visits = pl.DataFrame(
        {
            "visit_id": numbered("JZ", np.arange(1, k + 1), 14),
            "id_number": p.take("id_number", owner[v]),
            "name": p.take("name", owner[v]),
            "phone": p.take("mobile", owner[v]),
            "address": p.take("address", owner[v]),
            "medical_category": labels(CATEGORIES, category_idx[v]),
            "started_at": start,
            "main_diagnosis": codes.gather(v),
            "department": labels(DEPARTMENTS, diagnosis[v]),
            "inpatient_days": days[v],
            "discharge_method": labels(
                ["医嘱离院", "医嘱转院", "非医嘱离院", "死亡", None], discharge
            ),
        }
    )
    return settlements, visits


def outpatient(world: World, n_chronic: Ints, primary: Ints) -> pl.DataFrame:
    p = world.persons
    inst = institutions()
    rng = stream(world.seed, "table.outpatient_visit")
    counts = np.minimum(rng.poisson(np.exp(0.5 + 0.35 * p.frailty + 0.3 * n_chronic)), 60)
    owner, _ = expand(counts)
    m = owner.size
    hospital = pick_institution(rng, inst, p.county[owner], pharmacy=False)
    chronic_row = (n_chronic[owner] > 0) & (rng.random(m) < 0.5)
    acute = rng.integers(0, len(ACUTE), m)
    code = np.where(
        chronic_row,
        np.asarray([c[1] for c in CHRONIC])[primary[owner]],
        np.asarray([a[1] for a in ACUTE])[acute],
    )
    name = np.where(
        chronic_row,
        np.asarray([c[0] for c in CHRONIC])[primary[owner]],
        np.asarray([a[0] for a in ACUTE])[acute],
    )
    visited = uniform_times(
        rng, uniform_days(rng, world.as_of - dt.timedelta(days=364), world.as_of, m), 8, 18
    )
    return pl.DataFrame(
        {
            "institution_code": inst.code[hospital],
            "institution_name": inst.name[hospital],
            "name": p.take("name", owner),
            "id_number": p.take("id_number", owner),
            "visited_at": visited,
            "diagnosis_code": code,
            "diagnosis_name": name,
        }
    )
