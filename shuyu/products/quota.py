"""Quotas counted atomically in the database, whatever the number of API processes.

One upsert for all of a request's periods (`d:2026-07-01`, `m:2026-07`) in one
transaction: each counter is created with the request's count, or raised by it only
while the result stays within its period's limit (`ON CONFLICT … DO UPDATE … WHERE
calls + n <= limit RETURNING period`, on SQLite and PostgreSQL alike). A period missing
from what comes back would be passed: the transaction is rolled back, so a request that
fits its day but not its month counts nowhere. Two processes can never both take the
last unit: the row is locked by the first writer until it commits.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, TextClause, text


@dataclass(frozen=True)
class Period:
    name: str  # d:2026-07-01 | m:2026-07
    limit: int


@functools.cache
def _statement(periods: int) -> TextClause:
    """The upsert of `periods` counters, built once per count: text, so that a call
    only binds values (building a Core statement per call cost more than the database)."""
    rows = ", ".join(f"(:consumer, :product, :period{i}, :n)" for i in range(periods))
    limits = " ".join(f"WHEN :period{i} THEN :limit{i}" for i in range(periods))
    # only placeholders are formatted into the text, never a value
    return text(
        "INSERT INTO product_usage_counters (consumer_id, product, period, calls) "  # noqa: S608
        f"VALUES {rows} "
        "ON CONFLICT (consumer_id, product, period) DO UPDATE "
        "SET calls = product_usage_counters.calls + excluded.calls "
        "WHERE product_usage_counters.calls + excluded.calls <= "
        f"CASE excluded.period {limits} END "
        "RETURNING period"
    )


def reserve(
    connection: Connection, consumer: str, product: str, periods: Sequence[Period], n: int
) -> Period | None:
    """Count `n` against every period, all or nothing, in a transaction of its own on
    `connection` (one it may have read on is ended first): None when counted, else the
    first period whose limit `n` more would pass."""
    for period in periods:
        if n > period.limit:
            return period
    values: dict[str, object] = {"consumer": consumer, "product": product, "n": n}
    for i, period in enumerate(periods):
        values[f"period{i}"], values[f"limit{i}"] = period.name, period.limit
    if connection.in_transaction():
        connection.rollback()  # a write after a read in one SQLite transaction can fail
    with connection.begin() as transaction:
        counted = {row[0] for row in connection.execute(_statement(len(periods)), values)}
        if len(counted) == len(periods):
            return None
        transaction.rollback()
    return next(p for p in periods if p.name not in counted)


def used(connection: Connection, consumer: str, product: str, period: str) -> int:
    found = connection.execute(
        text(
            "SELECT calls FROM product_usage_counters "
            "WHERE consumer_id = :consumer AND product = :product AND period = :period"
        ),
        {"consumer": consumer, "product": product, "period": period},
    ).scalar()
    return int(found or 0)
