"""Usage statements (计费对账单): per consumer and local month, per product, the calls,
the billable calls and the amount, read from the audit log itself.

The log holds one `product.score` event per subject looked up (and one per request
refused before any), each with whether it was billable and the agreement's price at
that moment, so that the statement is what an auditor can recompute from the verified
chain: nothing is counted twice or anywhere else.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Mapping

from pydantic import BaseModel
from sqlalchemy import select

from shuyu.audit.tables import AuditEventRow
from shuyu.errors import InputError
from shuyu.policy.models import ApiProduct
from shuyu.products.clock import Clock
from shuyu.store.database import Database

E = AuditEventRow
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class StatementLine(BaseModel):
    product: str
    product_name: str
    calls: int
    billable: int
    amount_fen: int


class Statement(BaseModel):
    consumer_id: str
    month: str
    timezone: str
    lines: list[StatementLine]
    calls: int
    billable: int
    amount_fen: int
    amount_yuan: str
    generated_at: str


def yuan(fen: int) -> str:
    """分 as 元 with two decimals, exactly (no float)."""
    return f"{fen // 100}.{fen % 100:02d}"


def usage_statement(
    db: Database,
    consumer_id: str,
    month: str,
    *,
    clock: Clock,
    products: Mapping[str, ApiProduct],
) -> Statement:
    if not _MONTH.match(month):
        raise InputError("month", "must be YYYY-MM", value=month)
    start, end = clock.month_bounds(month)
    # targets are "<consumer>/<product>"; `_` is a LIKE wildcard, escaped
    pattern = consumer_id.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    query = (
        select(E.target, E.details)
        .where(
            E.action == "product.score",
            E.ts >= start,
            E.ts < end,
            E.target.like(f"{pattern}/%", escape="\\"),
        )
        .order_by(E.seq)
    )
    totals: dict[str, list[int]] = {}
    with db.engine.connect() as connection:
        for target, details in connection.execute(query):
            owner, _, product = target.partition("/")
            if owner != consumer_id:
                continue
            parsed = json.loads(details)
            line = totals.setdefault(product, [0, 0, 0])
            line[0] += 1
            if parsed.get("billable"):
                line[1] += 1
                line[2] += int(parsed.get("price_fen") or 0)
    lines = [
        StatementLine(
            product=product,
            product_name=products[product].name if product in products else product,
            calls=calls,
            billable=billable,
            amount_fen=amount,
        )
        for product, (calls, billable, amount) in sorted(totals.items())
    ]
    amount = sum(line.amount_fen for line in lines)
    return Statement(
        consumer_id=consumer_id,
        month=month,
        timezone=clock.timezone,
        lines=lines,
        calls=sum(line.calls for line in lines),
        billable=sum(line.billable for line in lines),
        amount_fen=amount,
        amount_yuan=yuan(amount),
        generated_at=clock.now().astimezone(dt.UTC).isoformat(timespec="seconds"),
    )


CSV_HEADER = [
    "使用单位 consumer",
    "月份 month",
    "产品 product",
    "产品名称 product name",
    "调用次数 calls",
    "计费次数 billable",
    "金额（元） amount (CNY)",
]


def statement_csv(statement: Statement) -> str:
    """The statement as CSV (UTF-8 with a BOM, so that spreadsheet software shows the
    Chinese headers), one line per product and a total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in statement.lines:
        writer.writerow(
            [statement.consumer_id, statement.month, line.product, line.product_name,
             line.calls, line.billable, yuan(line.amount_fen)]
        )  # fmt: skip
    writer.writerow(
        [statement.consumer_id, statement.month, "合计 total", "", statement.calls,
         statement.billable, statement.amount_yuan]
    )  # fmt: skip
    return "\ufeff" + out.getvalue()
