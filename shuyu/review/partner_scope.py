"""Who may bring something for a scenario (a package request, an import): a partner's
user, for a scenario its partner is authorised for today."""

from __future__ import annotations

import datetime as dt

from shuyu.audit.events import audit_event
from shuyu.errors import InputError
from shuyu.policy.models import Partner, Policies
from shuyu.review.service import Forbidden, Principal


def partner_for(
    policies: Policies, who: Principal, scenario: str, day: dt.date, *, action: str
) -> Partner:
    """`who`'s partner, if it may act for `scenario` on `day`; refused (and, for someone
    who is no partner's user, audited as `action` denied) otherwise."""
    partner = policies.partner_of(who.username)
    if partner is None:
        audit_event(action, who.username, "denied", target=scenario, reason="not a partner")
        raise Forbidden(f"{who.username} is not a partner's user: only partners do this")
    scenarios = {s.id for s in policies.scenarios_for_user(who.username, day)}
    if scenario not in scenarios:
        raise InputError(
            "scenario",
            "is not one you are authorised for now",
            value=scenario,
            hint=f"yours: {', '.join(sorted(scenarios)) or 'none'}",
        )
    return partner
