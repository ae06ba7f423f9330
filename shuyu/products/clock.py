"""Time as the product API counts it: instants in UTC (as the audit log writes them),
days, months and nights in the bureau's time zone (Asia/Shanghai by policy), so that a
daily quota resets and a night begins at local midnight."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    """The audit log's timestamp form: `2026-07-01T02:00:00.000+00:00`."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Clock:
    timezone: str = "Asia/Shanghai"
    now_utc: Callable[[], dt.datetime] = field(default=utc_now)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def now(self) -> dt.datetime:
        return self.now_utc()

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.zone)

    def today(self) -> dt.date:
        return self.local(self.now()).date()

    def month_bounds(self, month: str) -> tuple[str, str]:
        """[start, end) of a local month `YYYY-MM` as audit-log timestamps (UTC)."""
        year, number = (int(part) for part in month.split("-"))
        start = dt.datetime(year, number, 1, tzinfo=self.zone)
        end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=self.zone)
        return iso(start), iso(end)
