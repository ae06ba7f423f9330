"""The same rules engine over sandbox events already in the audit log: repeated download
refusals and sandboxes started at night open cases, once, across restarts."""

from __future__ import annotations

import datetime as dt

import pytest

from shuyu.audit.log import AuditEvent, AuditLog
from shuyu.policy import load_policies
from shuyu.policy.models import MonitoringPolicy, NightSpawnRule
from shuyu.products.audit_watch import AuditWatch, lookback_seconds
from shuyu.products.cases import CaseDesk
from shuyu.products.clock import Clock, iso
from shuyu.products.monitor import Monitor
from shuyu.products.policy import load_products_policy
from shuyu.store.database import Database

BEIJING = dt.timezone(dt.timedelta(hours=8))
POLICY = load_products_policy(load_policies()).monitoring


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> str:
    return iso(dt.datetime(2026, 7, day, hour, minute, second, tzinfo=BEIJING))


def refusal(
    ts: str, user: str = "sz-credit", path: str = "/files/view/train.parquet"
) -> AuditEvent:
    """What the hub writes when a sandbox reports a refused download."""
    return AuditEvent(
        ts=ts, actor=user, action="sandbox.download", outcome="denied", role="partner",
        details={"source": "sandbox", "method": "GET", "path": path, "reason": "download refused"},
    )  # fmt: skip


def spawn(ts: str, user: str = "sz-credit") -> AuditEvent:
    return AuditEvent(
        ts=ts, actor=user, action="sandbox.spawn", outcome="allowed",
        details={"partner": "suzhou_rcb", "scenario": "bank_credit", "container": "x"},
    )  # fmt: skip


def watcher(database: Database, policy: MonitoringPolicy = POLICY) -> AuditWatch:
    monitor = Monitor(policy, CaseDesk(database, clock=Clock()), clock=Clock())
    return AuditWatch(database, monitor, lookback_seconds=lookback_seconds(policy))


def test_repeated_download_refusals_open_one_case_about_the_user(database: Database) -> None:
    log = AuditLog(database)
    log.append([refusal(at(10, 14, i, 0), path=f"/files/view/train.parquet?{i}") for i in range(5)])
    log.append([refusal(at(10, 14, 3, 30), user="ordos-risk")])  # someone else, once
    watch = watcher(database)
    result = watch.scan()
    assert result.events == 6
    (case_id,) = result.cases
    case = watch.monitor.cases.case(case_id)
    assert case.source == "sandbox"
    assert case.subject_kind == "user"
    assert case.subject == "sz-credit"
    assert case.rule == "download_refusals"
    assert len(case.evidence["paths"]) == 5
    assert watch.scan().cases == []  # read once
    assert watcher(database).scan().cases == []  # and not again after a restart


def test_a_few_refusals_spread_over_the_day_open_nothing(database: Database) -> None:
    AuditLog(database).append([refusal(at(10, 9 + 2 * i)) for i in range(5)])
    assert watcher(database).scan().cases == []


def test_a_burst_that_straddles_a_restart_is_still_seen(database: Database) -> None:
    log = AuditLog(database)
    log.append([refusal(at(10, 15, 0, 10 * i)) for i in range(3)])
    assert watcher(database).scan().cases == []
    log.append([refusal(at(10, 15, 1, 10 * i)) for i in range(2)])
    (case_id,) = watcher(database).scan().cases  # a new process: warms up, then sees 5
    assert case_id.startswith("SJ")


def test_a_sandbox_started_at_night_opens_a_case_unless_the_user_may_work_then(
    database: Database,
) -> None:
    log = AuditLog(database)
    log.append([spawn(at(11, 10)), spawn(at(12, 2, 30)), spawn(at(12, 3), user="ops-night")])
    allowed = POLICY.model_copy(update={"night_spawn": NightSpawnRule(allowed_users=["ops-night"])})
    watch = watcher(database, allowed)
    (case_id,) = watch.scan().cases
    case = watch.monitor.cases.case(case_id)
    assert (case.rule, case.subject) == ("night_spawn", "sz-credit")
    assert case.evidence["local_time"].startswith("2026-07-12T02:30")


@pytest.mark.parametrize("hour", [0, 5])
def test_night_is_local_time_in_the_policys_zone(database: Database, hour: int) -> None:
    # 00:xx and 05:xx in 宿州 are 16:xx and 21:xx UTC the day before
    AuditLog(database).append([spawn(at(12, hour, 15))])
    assert len(watcher(database).scan().cases) == 1
