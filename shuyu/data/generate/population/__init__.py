"""Person tables: household registration, medical insurance enrolment, chronic-disease
registrations, insurance settlements and visits, hospital outpatient records, the
insurer's claims and the fund's audit findings.

Claims follow age, chronic disease and latent frailty; audit findings follow a small
group of anomalous claimants (many pharmacy purchases at many institutions, inflated
bills), so both labels can be learnt from the authorised fields.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from shuyu.data.generate.population import care, insurance, registers
from shuyu.data.generate.population.health import health
from shuyu.data.generate.world import World

Table = tuple[str, pl.DataFrame]


def tables(world: World) -> Iterator[Table]:
    state = health(world)
    yield "resident_population", registers.residents(world)
    yield "medical_insurance_enrolment", registers.enrolment(world, state.enrolled)
    yield "chronic_disease_registration", registers.chronic_registration(world, state.registered)
    settlements, visits = care.settlements(
        world,
        enrolled=state.enrolled,
        registered=state.registered,
        n_chronic=state.n_chronic,
        anomalous=state.anomalous,
        primary=state.primary,
        secondary=state.secondary,
    )
    yield "medical_settlement", settlements
    del settlements
    yield "medical_visit", visits
    del visits
    yield "outpatient_visit", care.outpatient(world, state.n_chronic, state.primary)
    yield "health_claim", insurance.health_claims(world, state.n_chronic)
    yield "medical_audit_finding", insurance.audit_findings(world, state.enrolled, state.anomalous)
