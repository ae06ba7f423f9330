"""Watching what is already in the audit log: the sandboxes' events, through the same
rules engine, from a cursor kept in the database.

`AuditWatch.scan` reads the events after the cursor whose action some event rule
watches (`sandbox.download` refusals, `sandbox.spawn`), feeds them to the monitor in
order and moves the cursor past each one as it goes, so that a restart neither misses
an event nor opens a case twice. The first scan of a process first re-reads the events
just before the cursor (one rule window) without acting on them, so that a burst that
straddles a restart is still seen whole.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select

from shuyu.audit.tables import AuditEventRow
from shuyu.policy.models import MonitoringPolicy
from shuyu.products.clock import iso
from shuyu.products.monitor import Monitor
from shuyu.products.monitor_rules import EventSeen
from shuyu.products.tables import WatchCursorRow
from shuyu.store.database import Database

E = AuditEventRow
SANDBOX_CURSOR = "sandbox"


@dataclass(frozen=True)
class ScanResult:
    events: int
    cases: list[str]
    cursor: int


def _seen(row: tuple[int, str, str, str, str, str]) -> EventSeen:
    seq, ts, action, actor, outcome, details = row
    try:
        parsed = json.loads(details)
    except ValueError:
        parsed = {}
    return EventSeen(
        seq=int(seq),
        at=dt.datetime.fromisoformat(ts),
        action=action,
        actor=actor,
        outcome=outcome,
        details=parsed if isinstance(parsed, dict) else {},
    )


def lookback_seconds(policy: MonitoringPolicy) -> int:
    windows = [r.window_seconds for r in (policy.download_refusals,) if r is not None]
    return max(windows, default=0)


class AuditWatch:
    def __init__(
        self,
        db: Database,
        monitor: Monitor,
        *,
        lookback_seconds: int = 0,
        cursor: str = SANDBOX_CURSOR,
    ) -> None:
        self.db = db
        self.monitor = monitor
        self.lookback = dt.timedelta(seconds=lookback_seconds)
        self.cursor_name = cursor
        self._warm = False

    def cursor(self) -> int:
        with self.db.session() as session:
            row = session.get(WatchCursorRow, self.cursor_name)
            return int(row.seq) if row is not None else 0

    def _move(self, seq: int) -> None:
        with self.db.session(write=True) as session:
            row = session.get(WatchCursorRow, self.cursor_name)
            if row is None:
                session.add(
                    WatchCursorRow(
                        name=self.cursor_name, seq=seq, updated_at=iso(dt.datetime.now(dt.UTC))
                    )
                )
            else:
                row.seq, row.updated_at = seq, iso(dt.datetime.now(dt.UTC))

    def _rows(
        self, after: int, limit: int, *, since: str | None = None, upto: int | None = None
    ) -> list[EventSeen]:
        actions = sorted(self.monitor.event_actions)
        if not actions:
            return []
        query = (
            select(E.seq, E.ts, E.action, E.actor, E.outcome, E.details)
            .where(E.seq > after, E.action.in_(actions))
            .order_by(E.seq)
            .limit(limit)
        )
        if since is not None:
            query = query.where(E.ts >= since)
        if upto is not None:
            query = query.where(E.seq <= upto)
        with self.db.engine.connect() as connection:
            return [_seen(tuple(r)) for r in connection.execute(query)]  # type: ignore[arg-type]

    def _warm_up(self, cursor: int) -> None:
        self._warm = True
        if cursor == 0 or not self.lookback:
            return
        with self.db.engine.connect() as connection:
            last = connection.execute(select(E.ts).where(E.seq == cursor)).scalar()
        if last is None:
            return
        since = iso(dt.datetime.fromisoformat(last) - self.lookback)
        for event in self._rows(0, 100_000, since=since, upto=cursor):
            self.monitor.observe_event(event, act=False)

    def scan(self, *, batch: int = 5000) -> ScanResult:
        """Judge every new event: how many were read, the cases opened, the new cursor."""
        cursor = self.cursor()
        if not self._warm:
            self._warm_up(cursor)
        opened: list[str] = []
        read = 0
        while True:
            events = self._rows(cursor, batch)
            if not events:
                break
            for event in events:
                case = self.monitor.observe_event(event)
                read += 1
                cursor = event.seq
                if case is not None:
                    opened.append(case)
                    self._move(cursor)
            self._move(cursor)
        return ScanResult(events=read, cases=opened, cursor=cursor)
