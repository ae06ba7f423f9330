"""事中检查 rules: each one a small class that watches one pattern and says when it hits.

Call rules see every product call (`CallSeen`: who, when, which subjects, how many
consent failures) in the order calls happen; event rules see audit events of the
sandboxes (`EventSeen`). A rule keeps its own state per API key or per user, bounded by
its window, and returns a `Hit` with the evidence a reviewer needs — pseudonyms and
masked examples, never an identifier. `call_rules` and `event_rules` build the rules
the monitoring policy switches on.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from shuyu.policy.models import (
    ConsentFailuresRule,
    CrossRegionRule,
    DownloadRefusalsRule,
    EnumerationRule,
    MonitoringPolicy,
    NightCallsRule,
    NightSpawnRule,
    QuotaBurstRule,
)
from shuyu.products.clock import Clock, iso
from shuyu.products.subjects import Subject, in_regions

_SAMPLES = 10  # masked examples kept as evidence


@dataclass(frozen=True)
class CallSeen:
    """One product call as the rules see it."""

    at: dt.datetime  # aware, UTC
    key_id: str
    consumer_id: str
    product: str
    subjects: Sequence[Subject]  # the valid identifiers of the call, in order
    regions: Sequence[str]  # the agreement's region codes
    daily_quota: int
    consent_failures: int = 0


@dataclass(frozen=True)
class EventSeen:
    """One audit event (of the sandboxes) as the rules see it."""

    seq: int
    at: dt.datetime
    action: str
    actor: str
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    rule: str
    zh: str
    en: str
    evidence: dict[str, Any]


class CallRule(Protocol):
    id: str

    def observe(self, call: CallSeen) -> Hit | None: ...

    def forget(self, key_id: str) -> None: ...


class EventRule(Protocol):
    id: str
    actions: frozenset[str]

    def observe(self, event: EventSeen) -> Hit | None: ...


# ---------------------------------------------------------------- product calls


class NightCalls:
    """夜间高频次调用: more subjects than allowed during one local night."""

    id = "night_calls"

    def __init__(self, rule: NightCallsRule, clock: Clock) -> None:
        self.rule, self.clock = rule, clock
        self._nights: dict[str, tuple[dt.date, int, str, list[str]]] = {}

    def observe(self, call: CallSeen) -> Hit | None:
        local = self.clock.local(call.at)
        if not self.rule.night.contains(local.hour) or not call.subjects:
            return None
        night, count, first, samples = self._nights.get(call.key_id, (None, 0, "", []))
        if night != local.date():
            night, count, first, samples = local.date(), 0, iso(call.at), []
        count += len(call.subjects)
        samples = (samples + [s.masked for s in call.subjects])[-_SAMPLES:]
        self._nights[call.key_id] = (night, count, first, samples)
        if count <= self.rule.max_subjects:
            return None
        window = f"{self.rule.night.start_hour:02d}:00–{self.rule.night.end_hour:02d}:00"
        return Hit(
            self.id,
            f"夜间（{window}）高频次调用：{local.date()} 夜间已查询 {count} 个主体，"
            f"超过上限 {self.rule.max_subjects}",
            f"night-time high frequency ({window}): {count} subjects queried on the night of "
            f"{local.date()}, over the limit of {self.rule.max_subjects}",
            {
                "night": local.date().isoformat(),
                "subjects": count,
                "limit": self.rule.max_subjects,
                "first_call": first,
                "last_call": iso(call.at),
                "examples": samples,
            },
        )

    def forget(self, key_id: str) -> None:
        self._nights.pop(key_id, None)


@dataclass
class _Seen:
    times: deque[tuple[dt.datetime, str]] = field(default_factory=deque)
    distinct: Counter[str] = field(default_factory=Counter)
    previous: int | None = None
    run: int = 0
    run_samples: deque[Subject] = field(default_factory=lambda: deque(maxlen=_SAMPLES))


class Enumeration:
    """批量遍历: too many distinct subjects in the window, or a run of consecutive
    identifiers (counting through a range of IDs or codes)."""

    id = "enumeration"

    def __init__(self, rule: EnumerationRule) -> None:
        self.rule = rule
        self._keys: dict[str, _Seen] = {}

    def observe(self, call: CallSeen) -> Hit | None:
        seen = self._keys.setdefault(call.key_id, _Seen())
        horizon = call.at - dt.timedelta(seconds=self.rule.window_seconds)
        while seen.times and seen.times[0][0] < horizon:
            _, old = seen.times.popleft()
            seen.distinct[old] -= 1
            if not seen.distinct[old]:
                del seen.distinct[old]
        hit: Hit | None = None
        for subject in call.subjects:
            seen.times.append((call.at, subject.pseudonym))
            seen.distinct[subject.pseudonym] += 1
            step = None if seen.previous is None else abs(subject.ordinal - seen.previous)
            if step is None or not 0 < step <= self.rule.sequential_max_step:
                seen.run = 0
                seen.run_samples.clear()
            seen.run += 1
            seen.run_samples.append(subject)
            seen.previous = subject.ordinal
            if hit is None and seen.run >= self.rule.sequential_run:
                hit = self._sequential(seen.run, list(seen.run_samples))
        if hit is None and len(seen.distinct) > self.rule.max_distinct_subjects:
            minutes = self.rule.window_seconds // 60
            hit = Hit(
                self.id,
                f"批量遍历：{minutes} 分钟内查询 {len(seen.distinct)} 个不同主体，"
                f"超过上限 {self.rule.max_distinct_subjects}",
                f"bulk enumeration: {len(seen.distinct)} distinct subjects within {minutes} "
                f"minutes, over the limit of {self.rule.max_distinct_subjects}",
                {
                    "distinct_subjects": len(seen.distinct),
                    "limit": self.rule.max_distinct_subjects,
                    "window_seconds": self.rule.window_seconds,
                    "since": iso(seen.times[0][0]),
                    "examples": [s.masked for s in call.subjects[-_SAMPLES:]],
                },
            )
        return hit

    def _sequential(self, run: int, samples: list[Subject]) -> Hit:
        return Hit(
            self.id,
            f"批量遍历：连续 {run} 次查询的主体标识依次相邻（间隔不超过 "
            f"{self.rule.sequential_max_step}），疑似按号段遍历",
            f"bulk enumeration: {run} consecutive subjects with neighbouring "
            f"identifiers (step at most {self.rule.sequential_max_step}): a range walked",
            {
                "run": run,
                "max_step": self.rule.sequential_max_step,
                "examples": [s.masked for s in samples],
                "pseudonyms": [s.pseudonym for s in samples],
            },
        )

    def forget(self, key_id: str) -> None:
        self._keys.pop(key_id, None)


class CrossRegion:
    """跨区域批量调取: too large a share of recent subjects outside the agreement's region."""

    id = "cross_region"

    def __init__(self, rule: CrossRegionRule) -> None:
        self.rule = rule
        self._keys: dict[str, deque[tuple[bool, str, str]]] = {}

    def observe(self, call: CallSeen) -> Hit | None:
        recent = self._keys.setdefault(call.key_id, deque(maxlen=self.rule.window_subjects))
        for subject in call.subjects:
            recent.append(
                (not in_regions(subject.region, list(call.regions)), subject.region, subject.masked)
            )
        outside = [(region, masked) for out, region, masked in recent if out]
        share = len(outside) / len(recent) if recent else 0.0
        if len(recent) < self.rule.min_subjects or share <= self.rule.max_outside_share:
            return None
        return Hit(
            self.id,
            f"跨区域批量调取：最近 {len(recent)} 个主体中 {len(outside)} 个（{share:.0%}）"
            f"不在协议区域 {'、'.join(call.regions)} 内，超过 {self.rule.max_outside_share:.0%}",
            f"cross-region batch queries: {len(outside)} of the last {len(recent)} subjects "
            f"({share:.0%}) are outside the agreement's region {', '.join(call.regions)}, "
            f"over {self.rule.max_outside_share:.0%}",
            {
                "subjects": len(recent),
                "outside": len(outside),
                "share": round(share, 4),
                "limit": self.rule.max_outside_share,
                "agreement_regions": list(call.regions),
                "outside_regions": dict(Counter(region for region, _ in outside).most_common(10)),
                "examples": [masked for _, masked in outside[-_SAMPLES:]],
            },
        )

    def forget(self, key_id: str) -> None:
        self._keys.pop(key_id, None)


class ConsentFailures:
    """Repeated calls for people without a valid consent."""

    id = "consent_failures"

    def __init__(self, rule: ConsentFailuresRule) -> None:
        self.rule = rule
        self._keys: dict[str, deque[dt.datetime]] = {}

    def observe(self, call: CallSeen) -> Hit | None:
        failures = self._keys.setdefault(call.key_id, deque())
        failures.extend([call.at] * call.consent_failures)
        horizon = call.at - dt.timedelta(seconds=self.rule.window_seconds)
        while failures and failures[0] < horizon:
            failures.popleft()
        if len(failures) <= self.rule.max_failures or not call.consent_failures:
            return None
        minutes = self.rule.window_seconds // 60
        return Hit(
            self.id,
            f"授权校验反复失败：{minutes} 分钟内 {len(failures)} 次查询无有效个人授权，"
            f"超过上限 {self.rule.max_failures}",
            f"repeated consent failures: {len(failures)} calls without a valid consent within "
            f"{minutes} minutes, over the limit of {self.rule.max_failures}",
            {
                "failures": len(failures),
                "limit": self.rule.max_failures,
                "window_seconds": self.rule.window_seconds,
                "since": iso(failures[0]),
            },
        )

    def forget(self, key_id: str) -> None:
        self._keys.pop(key_id, None)


class QuotaBurst:
    """A burst: a large share of the day's quota used within a few minutes."""

    id = "quota_burst"

    def __init__(self, rule: QuotaBurstRule) -> None:
        self.rule = rule
        self._keys: dict[str, deque[tuple[dt.datetime, int]]] = {}
        self._totals: dict[str, int] = {}

    def observe(self, call: CallSeen) -> Hit | None:
        recent = self._keys.setdefault(call.key_id, deque())
        total = self._totals.get(call.key_id, 0)
        horizon = call.at - dt.timedelta(seconds=self.rule.window_seconds)
        while recent and recent[0][0] < horizon:
            total -= recent.popleft()[1]
        if call.subjects:
            recent.append((call.at, len(call.subjects)))
            total += len(call.subjects)
        self._totals[call.key_id] = total
        limit = max(self.rule.max_share_of_daily_quota * call.daily_quota, self.rule.min_subjects)
        if total <= limit or not call.subjects:
            return None
        minutes = self.rule.window_seconds // 60
        return Hit(
            self.id,
            f"调用突增：{minutes} 分钟内查询 {total} 个主体，超过日额度 {call.daily_quota} 的 "
            f"{self.rule.max_share_of_daily_quota:.0%}",
            f"quota burst: {total} subjects within {minutes} minutes, over "
            f"{self.rule.max_share_of_daily_quota:.0%} of the daily quota of {call.daily_quota}",
            {
                "subjects": total,
                "daily_quota": call.daily_quota,
                "share_limit": self.rule.max_share_of_daily_quota,
                "window_seconds": self.rule.window_seconds,
                "since": iso(recent[0][0]),
            },
        )

    def forget(self, key_id: str) -> None:
        self._keys.pop(key_id, None)
        self._totals.pop(key_id, None)


# ---------------------------------------------------------------- sandbox events


class DownloadRefusals:
    """A partner whose sandbox keeps refusing downloads: someone trying to take data out."""

    id = "download_refusals"
    actions = frozenset({"sandbox.download"})

    def __init__(self, rule: DownloadRefusalsRule) -> None:
        self.rule = rule
        self._users: dict[str, deque[tuple[dt.datetime, str]]] = {}

    def observe(self, event: EventSeen) -> Hit | None:
        if event.outcome != "denied":
            return None
        refusals = self._users.setdefault(event.actor, deque())
        refusals.append((event.at, str(event.details.get("path", ""))[:200]))
        horizon = event.at - dt.timedelta(seconds=self.rule.window_seconds)
        while refusals and refusals[0][0] < horizon:
            refusals.popleft()
        if len(refusals) < self.rule.max_refusals:
            return None
        minutes = self.rule.window_seconds // 60
        paths = [p for _, p in refusals][-_SAMPLES:]
        self._users.pop(event.actor, None)  # one case per burst
        return Hit(
            self.id,
            f"沙箱下载反复被拒：用户 {event.actor} 在 {minutes} 分钟内 {self.rule.max_refusals} "
            "次尝试下载均被拒绝",
            f"repeated download refusals: {event.actor}'s sandbox refused at least "
            f"{self.rule.max_refusals} downloads within {minutes} minutes",
            {
                "user": event.actor,
                "refusals": self.rule.max_refusals,
                "window_seconds": self.rule.window_seconds,
                "paths": paths,
                "last_event_seq": event.seq,
            },
        )


class NightSpawn:
    """A sandbox started at night by a user the policy does not allow to work then."""

    id = "night_spawn"
    actions = frozenset({"sandbox.spawn"})

    def __init__(self, rule: NightSpawnRule, clock: Clock) -> None:
        self.rule, self.clock = rule, clock

    def observe(self, event: EventSeen) -> Hit | None:
        local = self.clock.local(event.at)
        if (
            event.outcome != "allowed"
            or not self.rule.night.contains(local.hour)
            or event.actor in self.rule.allowed_users
        ):
            return None
        scenario = str(event.details.get("scenario", ""))
        return Hit(
            self.id,
            f"夜间启动沙箱：用户 {event.actor} 于 {local:%Y-%m-%d %H:%M} "
            f"启动了场景 {scenario} 的沙箱",
            f"sandbox started at night: {event.actor} started a sandbox for {scenario} at "
            f"{local:%Y-%m-%d %H:%M} local time",
            {
                "user": event.actor,
                "scenario": scenario,
                "local_time": local.isoformat(timespec="minutes"),
                "event_seq": event.seq,
            },
        )


def call_rules(policy: MonitoringPolicy, clock: Clock) -> list[CallRule]:
    rules: list[CallRule] = []
    if policy.night_calls is not None:
        rules.append(NightCalls(policy.night_calls, clock))
    if policy.enumeration is not None:
        rules.append(Enumeration(policy.enumeration))
    if policy.cross_region is not None:
        rules.append(CrossRegion(policy.cross_region))
    if policy.consent_failures is not None:
        rules.append(ConsentFailures(policy.consent_failures))
    if policy.quota_burst is not None:
        rules.append(QuotaBurst(policy.quota_burst))
    return rules


def event_rules(policy: MonitoringPolicy, clock: Clock) -> list[EventRule]:
    rules: list[EventRule] = []
    if policy.download_refusals is not None:
        rules.append(DownloadRefusals(policy.download_refusals))
    if policy.night_spawn is not None:
        rules.append(NightSpawn(policy.night_spawn, clock))
    return rules
