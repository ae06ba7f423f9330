"""Enterprise tables: registration, annual reports, tax, social insurance, housing fund,
courts, credit, innovation, bidding, utilities, and the partner bank's loan outcomes.

Each table is drawn from the enterprise's latent `risk` (and `tech` for innovation),
and the loan outcomes from what those tables record plus the same latent risk, so a
model on the authorised fields finds real, imperfect signal. Each table comes from its
own random stream: what one table depends on is what its generator is given.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from shuyu.data.generate.enterprises import (
    bidding,
    contributions,
    courts,
    innovation,
    loans,
    registration,
    utilities,
)
from shuyu.data.generate.world import World

Table = tuple[str, pl.DataFrame]


def tables(world: World) -> Iterator[Table]:
    # one name for every table, so that each is released once it has been written
    yield "enterprise_basic", registration.basic(world)
    table, leverage = registration.annual_report(world)
    yield "enterprise_annual_report", table
    table, tax_arrears = registration.tax_record(world)
    yield "tax_record", table
    registered, table, unpaid_months = contributions.social_insurance(world)
    yield "social_insurance_payment", table
    yield "social_insurance_registration", registered
    del registered
    yield "housing_fund_registration", contributions.housing_fund(world)
    table, court_record = courts.judicial(world)
    yield "judicial_case", table
    table, blacklisted = courts.blacklist(world, court_record.dishonest)
    yield "credit_blacklist", table
    table, credit_score = courts.credit_rating(world, court_record, blacklisted, tax_arrears)
    yield "credit_rating", table
    table, tags = innovation.tags(world)
    yield "enterprise_tags", table
    table, patents = innovation.patents(world)
    yield "patent", table
    table, software = innovation.software(world)
    yield "software_copyright", table
    table, awards = bidding.bidding(world)
    yield "bidding", table
    table, utility_defaults = utilities.utility(world)
    yield "utility_payment", table
    del table
    record = loans.PublicRecord(
        tax_arrears=tax_arrears,
        si_unpaid=unpaid_months,
        leverage=leverage,
        enforced=court_record.enforced,
        dishonest=court_record.dishonest,
        blacklisted=blacklisted,
        credit_score=credit_score,
        utility_defaults=utility_defaults,
        bids_won=awards.won,
        bid_amount=awards.amount,
        patents=patents,
        software=software,
        tags=tags,
    )
    yield "bank_loan_outcome", loans.loans(world, record)
