"""Production schedules: APScheduler with its SQLAlchemy job store in the service's
database, so that a schedule survives a restart of the service.

APScheduler fires; the run is queued by `ProductionService.enqueue`, one per job and
scheduled time (a unique key), so a fire repeated after a restart cannot start a run
twice. Times are China Standard Time (UTC+8, no daylight saving): a fixed offset, which
needs no time-zone database in the image. A schedule missed while the service was down
is run once when it comes back (coalesced) and every occurrence in between is reported —
an audit event and a notice each — never silently dropped.

Cron is the five-field crontab form. APScheduler 3 numbers weekdays from Monday = 0
(its documented difference from crontab): name the days (`mon-fri`) to be unambiguous.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from shuyu.errors import InputError
from shuyu.production.service import CHINA, ProductionService

FUNC = "shuyu.production.scheduler:fire"
MAX_REPORTED_MISSES = 500
LOOKBACK = dt.timedelta(days=2)

_log = logging.getLogger("shuyu.production.scheduler")
_current: ProductionService | None = None
_lock = threading.Lock()


def parse_cron(expr: str) -> object:
    """The trigger of a crontab expression, or an error that names it."""
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415

    try:
        return CronTrigger.from_crontab(expr, timezone=CHINA)
    except ValueError as exc:
        raise InputError(
            "cron",
            f"is not a five-field crontab expression: {exc}",
            value=expr,
            hint="minute hour day month weekday, e.g. '0 8 * * mon-fri'",
        ) from None


def occurrences(expr: str, after: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The schedule's times in (after, until], oldest first (at most a bounded number)."""
    trigger = parse_cron(expr)
    found: list[dt.datetime] = []
    previous = None
    moment = after + dt.timedelta(microseconds=1)
    while len(found) <= MAX_REPORTED_MISSES:
        nxt = trigger.get_next_fire_time(previous, moment)  # type: ignore[attr-defined]
        if nxt is None or nxt > until:
            break
        found.append(nxt)
        previous, moment = nxt, nxt + dt.timedelta(microseconds=1)
    return found


def fire(job_id: str, cron: str) -> None:
    """What APScheduler calls: queue the run for the latest scheduled time, and report
    the times in between that no run was queued for."""
    service = _current
    if service is None:  # not started by ProductionScheduler: nothing to queue into
        _log.error("schedule of %s fired with no production service", job_id)
        return
    now = service.now()
    last = service.last_scheduled(job_id)
    since = max(last or now - LOOKBACK, now - LOOKBACK)
    times = occurrences(cron, since, now)
    if not times:
        return
    *missed, latest = times
    for moment in missed:
        service.missed(job_id, moment)
    service.enqueue(job_id, latest, trigger="schedule", operator="platform")


class ProductionScheduler:
    """The service's scheduler: keeps APScheduler's jobs equal to the enabled jobs with
    a schedule (`sync`, called by the worker), in the service's own database."""

    def __init__(self, service: ProductionService, db_url: str) -> None:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # noqa: PLC0415
        from apscheduler.schedulers.background import BackgroundScheduler  # noqa: PLC0415

        self.service = service
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=db_url, tablename="apscheduler_jobs")},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=CHINA,
        )

    def start(self) -> None:
        global _current  # noqa: PLW0603 - APScheduler calls a module function by name
        with _lock:
            _current = self.service
        self.scheduler.start()
        self.sync()

    def sync(self) -> None:
        wanted = dict(self.service.scheduled_jobs())
        have = {job.id: job for job in self.scheduler.get_jobs()}
        for job_id in have:
            if job_id not in wanted:
                self.scheduler.remove_job(job_id)
        for job_id, cron in wanted.items():
            existing = have.get(job_id)
            if existing is not None and list(existing.args) == [job_id, cron]:
                continue  # unchanged: keep its next run time (and so its misses)
            self.scheduler.add_job(
                FUNC,
                parse_cron(cron),
                args=[job_id, cron],
                id=job_id,
                name=f"production {job_id}",
                replace_existing=True,
            )

    def shutdown(self) -> None:
        global _current  # noqa: PLW0603
        self.scheduler.shutdown(wait=False)
        with _lock:
            _current = None
