"""The 事中检查 rules engine: the policy's rules over the live stream of product calls
and over the sandboxes' audit events, with the same consequence for every hit.

A call rule's hit blocks the key at once and opens a case (`CaseDesk.block_key`); an
event rule's hit opens a case about the user. Several rules hitting on one call make
one case, the first rule's, listing the others. The rules' state is in memory, guarded
by one lock (calls arrive on many threads); after a hit the key's state is forgotten,
so that an unblocked key starts afresh.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from shuyu.policy.models import MonitoringPolicy
from shuyu.products.cases import CaseDesk
from shuyu.products.clock import Clock
from shuyu.products.monitor_rules import (
    CallRule,
    CallSeen,
    EventRule,
    EventSeen,
    Hit,
    call_rules,
    event_rules,
)


def _merged(hits: Sequence[Hit]) -> Hit:
    first = hits[0]
    if len(hits) == 1:
        return first
    also = [{"rule": h.rule, "summary": h.en, "evidence": h.evidence} for h in hits[1:]]
    return Hit(
        first.rule,
        first.zh + "；另触发：" + "、".join(h.rule for h in hits[1:]),
        first.en + "; also: " + ", ".join(h.rule for h in hits[1:]),
        {**first.evidence, "also": also},
    )


class Monitor:
    def __init__(self, policy: MonitoringPolicy, cases: CaseDesk, *, clock: Clock | None = None):
        clock = clock or Clock(policy.timezone)
        self.cases = cases
        self.call_rules: list[CallRule] = call_rules(policy, clock)
        self.event_rules: list[EventRule] = event_rules(policy, clock)
        self._lock = threading.Lock()

    @property
    def event_actions(self) -> frozenset[str]:
        return frozenset().union(*(r.actions for r in self.event_rules))

    def observe_call(self, call: CallSeen) -> str | None:
        """Feed one call to every call rule: the case number if the key was blocked."""
        with self._lock:
            hits = [hit for rule in self.call_rules if (hit := rule.observe(call)) is not None]
            if hits:
                for rule in self.call_rules:
                    rule.forget(call.key_id)
        if not hits:
            return None
        return self.cases.block_key(
            _merged(hits), key_id=call.key_id, consumer_id=call.consumer_id, product=call.product
        )

    def observe_event(self, event: EventSeen, *, act: bool = True) -> str | None:
        """Feed one audit event to the rules that watch its action: the case number if
        one was opened (`act=False`: only update the rules' state, as when re-reading
        events already judged)."""
        with self._lock:
            hits = [
                hit
                for rule in self.event_rules
                if event.action in rule.actions and (hit := rule.observe(event)) is not None
            ]
        if not hits or not act:
            return None
        return self.cases.open_user_case(_merged(hits), username=event.actor)
