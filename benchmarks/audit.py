"""Audit log: appending hash-chained events against inserting the same rows unchained.

In one SQLite database (the platform's default, WAL mode, as `Database` opens it):

- chained:  200 000 events through `AuditLog.append` in batches of 1 000 — the batches
            `BufferedAuditWriter` forms when the product API writes one event per
            call: each batch takes the write lock, reads the chain's head, hashes its
            events onto it and inserts them;
- plain:    the same 200 000 rows inserted into a copy of the table, in the same
            batches and transactions, without the lock, the head or the hashes;
- verify:   `AuditLog.verify` over the chained events; then the log is filled to
            1 000 000 events and verified again (goal: under 30 s).

Last line: `ratio=X.XX` = chained time / plain time (goal ≤ 1.5).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import MetaData, Table, insert

from shuyu.audit.log import AuditEvent, AuditLog, _details_text
from shuyu.audit.tables import AuditEventRow
from shuyu.store.database import Database

EVENTS = 200_000
MILLION = 1_000_000
BATCH = 1_000


def events(start: int, count: int) -> list[AuditEvent]:
    return [
        AuditEvent(
            ts=f"2026-12-01T{(n // 3600) % 24:02d}:{(n // 60) % 60:02d}:{n % 60:02d}.000+00:00",
            actor=f"bank-{n % 7}",
            role="consumers",
            action="mlflow.request",
            target="scores/enterprise-credit",
            outcome="allowed" if n % 50 else "denied",
            details={"request_id": f"r{n:08d}", "rows": n % 100, "ms": n % 37},
        )
        for n in range(start, start + count)
    ]


def plain_rows(batch: list[AuditEvent], first_seq: int) -> list[dict[str, object]]:
    return [
        {
            "seq": first_seq + i,
            "ts": e.ts,
            "actor": e.actor,
            "role": e.role,
            "action": e.action,
            "target": e.target,
            "outcome": e.outcome,
            "details": _details_text(e.details),
            "prev_hash": "",
            "hash": "",
        }
        for i, e in enumerate(batch)
    ]


def fresh(tmp: Path, name: str) -> Database:
    db = Database(f"sqlite:///{tmp / name}.sqlite")
    db.upgrade()
    return db


def plain_insert(db: Database, batches: list[list[AuditEvent]]) -> float:
    plain = AuditEventRow.__table__.to_metadata(MetaData(), name="audit_plain")
    assert isinstance(plain, Table)
    for index in plain.indexes:  # the same indexes, so the same write cost
        index.name = f"plain_{index.name}"
    plain.create(db.engine)
    start = time.perf_counter()
    for i, batch in enumerate(batches):
        with db.engine.begin() as connection:
            connection.execute(insert(plain), plain_rows(batch, i * BATCH + 1))
    return time.perf_counter() - start


def chained_append(log: AuditLog, batches: list[list[AuditEvent]]) -> float:
    start = time.perf_counter()
    for batch in batches:
        log.append(batch)
    return time.perf_counter() - start


def main() -> None:
    batches = [events(n, BATCH) for n in range(0, EVENTS, BATCH)]
    plain_s = chained_s = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        # each in a fresh database file, twice, alternating; the better of two each, so
        # that neither gains from going second (a warm file system)
        for trial in range(2):
            plain_db = fresh(Path(tmp), f"plain{trial}")
            plain_s = min(plain_s, plain_insert(plain_db, batches))
            plain_db.dispose()
            db = fresh(Path(tmp), f"chained{trial}")
            log = AuditLog(db)
            chained_s = min(chained_s, chained_append(log, batches))
            print(
                f"  trial {trial + 1}: plain {plain_s:.2f} s, chained {chained_s:.2f} s",
                file=sys.stderr,
            )
        start = time.perf_counter()
        verdict = log.verify()
        verify_s = time.perf_counter() - start
        assert verdict.ok, verdict.line()
        print(f"plain insert:   {EVENTS / plain_s:>9,.0f} events/s ({plain_s:.2f} s)")
        print(f"chained append: {EVENTS / chained_s:>9,.0f} events/s ({chained_s:.2f} s)")
        print(f"verify {verdict.count:,} events: {verify_s:.2f} s")

        for n in range(EVENTS, MILLION, BATCH):
            log.append(events(n, BATCH))
        start = time.perf_counter()
        verdict = log.verify()
        million_s = time.perf_counter() - start
        assert verdict.ok, verdict.line()
        print(f"verify {verdict.count:,} events: {million_s:.2f} s (goal < 30 s)")
        db.dispose()
    print(f"ratio={chained_s / plain_s:.2f}")


if __name__ == "__main__":
    main()
