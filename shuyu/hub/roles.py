"""JupyterHub groups and RBAC roles derived from the policies.

Groups: `partners` (every partner user), `reviewers` and one sub-group per review level,
`operators`, `admins`. The default `user` role is cut down to knowing one's own identity;
partners add their own single-user server. Nobody mints API tokens (no `tokens` scope):
the only tokens are the ones the hub issues to servers and services, so a partner cannot
script their server from outside the browser.

Administrators are not JupyterHub's built-in `admin` role (which holds `tokens` and
`access:servers`, i.e. could mint tokens and open any partner's server): partner pages
share the hub's origin, and an administrator who opened a partner's JupyterLab would run
the partner's JavaScript as themselves. The `platform-admin` role manages users, groups
and servers — start, stop, approve — without ever entering one.
"""

from __future__ import annotations

from typing import Any

from shuyu.policy.models import Policies

PARTNERS = "partners"
REVIEWERS = "reviewers"
OPERATORS = "operators"
ADMINS = "admins"
STAFF_GROUPS = (ADMINS, REVIEWERS, OPERATORS)
"""The groups whose members are staff: their accounts are made by `make up` or an
administrator's command, never by sign-up."""

SANDBOX_REPORT_SCOPE = "custom:shuyu:sandbox-report"
"""A sandbox's server reports its audit events and its bytes to the browser with it."""

SUBMIT_SCOPE = "custom:shuyu:submit"
"""A sandbox's kernel submits runs for review with a token holding only this."""

SERVICE = "shuyu"
"""The review service's name as a JupyterHub service (/services/shuyu/)."""

CUSTOM_SCOPES = {
    SANDBOX_REPORT_SCOPE: {
        "description": "Report a sandbox server's audit events and egress to the hub.",
    },
    SUBMIT_SCOPE: {
        "description": "Submit a run of one's own for review (from one's sandbox).",
    },
}

# what every account may do: know who it is, use the service's pages (no servers, no
# tokens)
USER_SCOPES = [
    "read:users:name!user",
    "read:users:groups!user",
    "read:users:activity!user",
    f"access:services!service={SERVICE}",
]
# what partners may do in addition: their own single-user server
PARTNER_SCOPES = [
    "servers!user",
    "access:servers!user",
    "read:servers!user",
    "users:activity!user",
    f"{SANDBOX_REPORT_SCOPE}!user",
    f"{SUBMIT_SCOPE}!user",
]
SERVER_TOKEN_SCOPES = [
    "users:activity!user",
    f"{SANDBOX_REPORT_SCOPE}!user",
]
ADMIN_SCOPES = [
    "admin-ui",
    "admin:users",
    "admin:servers",  # start and stop, not `access:servers`: never enter one
    "admin:groups",
    "list:users",
    "read:users",
    "read:hub",
    "read:roles",
    "list:services",
    "read:services",
]
SERVICE_SCOPES = [
    "list:users",
    "read:users",
    "read:users:groups",
    "read:groups",
]
"""The review service: who is who (groups are roles), for notices and queues."""
CULLER_SCOPES = [
    "list:users",
    "read:users:activity",
    "read:servers",
    "delete:servers",
    "admin:servers",
]


def groups(policies: Policies) -> dict[str, dict[str, Any]]:
    """`c.JupyterHub.load_groups`: every group with its members."""
    members: dict[str, set[str]] = {PARTNERS: set()}
    for partner in policies.partners.values():
        members[PARTNERS].update(u.username for u in partner.users)
    for staff in policies.staff.values():
        for group in staff.groups:
            members.setdefault(group, set()).add(staff.username)
    return {name: {"users": sorted(users)} for name, users in sorted(members.items())}


def roles(*, with_service: bool = True) -> list[dict[str, Any]]:
    """`c.JupyterHub.load_roles` (with the shuyu service's role when it is registered)."""
    found = [
        {
            "name": "user",
            "description": "Every account: its own identity, no server, no tokens.",
            "scopes": USER_SCOPES,
        },
        {
            "name": "partner",
            "description": "Partner data scientists: their own sandbox.",
            "scopes": PARTNER_SCOPES,
            "groups": [PARTNERS],
        },
        {
            "name": "platform-admin",
            "description": "Data bureau administrators: users, groups and servers, never "
            "inside a partner's server and never minting tokens.",
            "scopes": ADMIN_SCOPES,
            "groups": [ADMINS],
        },
        {
            "name": "idle-culler",
            "description": "Stops idle and over-age sandboxes.",
            "scopes": CULLER_SCOPES,
            "services": ["idle-culler"],
        },
    ]
    if with_service:
        found.append(
            {
                "name": "shuyu-service",
                "description": "The review service: users and their groups.",
                "scopes": SERVICE_SCOPES,
                "services": [SERVICE],
            }
        )
    return found


def partner_usernames(policies: Policies) -> set[str]:
    return {u.username for p in policies.partners.values() for u in p.users}


def usernames(policies: Policies) -> set[str]:
    """Every account the platform knows: the only names that may log in."""
    return partner_usernames(policies) | set(policies.staff)


def staff_role(groups_of_user: list[str]) -> str:
    """The role word for a staff account (demo accounts file, landing pages)."""
    for group, role in ((ADMINS, "admin"), (REVIEWERS, "reviewer"), (OPERATORS, "operator")):
        if group in groups_of_user:
            return role
    return "staff"


def landing_url(handler: Any) -> str:
    """Where each role lands after login: staff on the service's pages (their queue,
    console), partners on the hub's home (their sandbox)."""
    user = getattr(handler, "current_user", None)
    groups = {g.name for g in getattr(user, "groups", [])} if user is not None else set()
    if groups & set(STAFF_GROUPS):
        return f"/services/{SERVICE}/"
    return "/hub/home"
