"""The audit log: append hash-chained events to the database, read and verify them.

`AuditLog.append` writes a batch in one transaction under the audit write lock: it reads
the head of the chain, chains the batch onto it and inserts it. One transaction per
batch, not per event, is what lets the product API write one event per call at its
target rate (`BufferedAuditWriter` gathers them). Every process that acts — the hub,
MLflow's guard, the service — appends to the same log through `install_sink`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert, select

from shuyu.audit.actions import ACTIONS, Outcome
from shuyu.audit.chain import GENESIS, Verdict, canonical_text, event_hash, verify_events
from shuyu.audit.tables import AuditEventRow
from shuyu.store.database import Database

E = AuditEventRow
# Core inserts into the table itself, without the ORM entity's per-row bookkeeping
TABLE = cast(Table, AuditEventRow.__table__)


@dataclass(frozen=True)
class AuditEvent:
    ts: str
    actor: str
    action: str
    outcome: str
    role: str = ""
    target: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(
                f"unknown audit action {self.action!r}: add it to shuyu/audit/actions.py"
            )
        Outcome(self.outcome)  # raises on an unknown outcome


def _details_text(details: dict[str, Any]) -> str:
    return canonical_text(details)


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, events: Sequence[AuditEvent]) -> int:
        """Chain and write `events` atomically; the sequence number of the last one."""
        if not events:
            return 0
        with self.db.write_lock("audit") as connection:
            head = connection.execute(select(E.seq, E.hash).order_by(E.seq.desc()).limit(1)).first()
            seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS)
            rows = []
            for event in events:
                seq += 1
                row = {
                    "seq": seq,
                    "ts": event.ts,
                    "actor": event.actor,
                    "role": event.role,
                    "action": event.action,
                    "target": event.target,
                    "outcome": event.outcome,
                    # hashed as the canonical JSON text it is stored as
                    "details": _details_text(event.details),
                    "prev_hash": prev,
                }
                row["hash"] = prev = event_hash(row)
                rows.append(row)
            connection.execute(insert(TABLE), rows)
        return seq

    def events(
        self, *, since: str | None = None, until: str | None = None, batch: int = 5000
    ) -> Iterator[dict[str, Any]]:
        """Events in order (optionally within [since, until) by timestamp)."""
        query = select(*E.__table__.columns).order_by(E.seq)
        if since:
            query = query.where(E.ts >= since)
        if until:
            query = query.where(E.ts < until)
        with self.db.engine.connect() as connection:
            result = connection.execution_options(yield_per=batch).execute(query)
            names = tuple(result.keys())
            # plain tuples zipped to dicts: a third faster than SQLAlchemy's mappings,
            # which is what verifying a million events costs
            for row in result.tuples():
                yield dict(zip(names, row, strict=True))

    def verify(self) -> Verdict:
        return verify_events(self.events())

    def count(self) -> int:
        with self.db.engine.connect() as connection:
            head = connection.execute(select(E.seq).order_by(E.seq.desc()).limit(1)).first()
        return int(head[0]) if head else 0


class BufferedAuditWriter:
    """Gathers events from many threads and appends them in batches from one thread:
    every `flush_seconds` or `max_batch` events, whichever comes first."""

    def __init__(self, log: AuditLog, *, flush_seconds: float = 0.05, max_batch: int = 1000):
        self.log = log
        self.flush_seconds = flush_seconds
        self.max_batch = max_batch
        self._queue: queue.Queue[AuditEvent | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def put(self, event: AuditEvent) -> None:
        self._queue.put(event)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch: list[AuditEvent] = []
            deadline = time.monotonic() + self.flush_seconds
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            while batch:
                try:
                    self.log.append(batch)
                    batch = []
                except Exception:  # the database is briefly away: keep the batch, retry
                    time.sleep(0.5)

    def close(self) -> None:
        """Write everything queued, then stop."""
        self._queue.put(None)
        self._thread.join(timeout=60)
