"""Each person's health before any record: chronic conditions, enrolment in medical
insurance and the small group of anomalous claimants the fund's auditors look for.
Every person table is drawn from this one state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shuyu.data.generate.population.codes import CHRONIC
from shuyu.data.generate.sampling import Bools, Ints, sigmoid, stream
from shuyu.data.generate.world import World


@dataclass(frozen=True)
class Health:
    n_chronic: Ints  # chronic conditions a person has
    anomalous: Bools
    enrolled: Bools  # in medical insurance
    registered: npt.NDArray[np.bool_]  # [person, CHRONIC]: registered for 门诊慢特病
    primary: Ints  # a person's usual chronic condition (index into CHRONIC) ...
    secondary: Ints  # ... and a second one (the primary when there is only one)


def health(world: World) -> Health:
    p = world.persons
    rng = stream(world.seed, "persons.health")
    n = p.n
    logits = np.asarray([c[2] for c in CHRONIC])
    chronic = rng.random((n, len(CHRONIC))) < sigmoid(
        logits[None, :] + 0.06 * (p.age[:, None] - 50.0) + 0.8 * p.frailty[:, None]
    )
    chronic &= (p.age >= 18)[:, None]
    n_chronic = chronic.sum(axis=1)
    # anomalous claimants: what the fund's auditors look for
    anomalous = rng.random(n) < 0.07
    enrolled = rng.random(n) < 0.95
    registered = chronic & (rng.random(chronic.shape) < 0.7) & enrolled[:, None]
    # a person's usual chronic conditions, for the diagnoses on their records
    order = np.where(chronic, rng.random(chronic.shape), -1.0)
    primary = np.argmax(order, axis=1)
    order[np.arange(n), primary] = np.where(n_chronic > 1, -0.5, order[np.arange(n), primary])
    secondary = np.where(n_chronic > 1, np.argmax(order, axis=1), primary)
    return Health(n_chronic, anomalous, enrolled, registered, primary, secondary)
