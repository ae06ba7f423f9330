"""JupyterHub groups and RBAC roles derived from the policies.

Groups: `partners` (every partner user), `reviewers` and one sub-group per review level,
`operators`, `admins`. Only partners may start servers: the default `user` role is cut
down to reading one's own identity, and the `partner` role adds one's own server.
"""

from __future__ import annotations

from typing import Any

from shuyu.policy.models import Policies

PARTNERS = "partners"

# what every account may do: know who it is (no servers)
USER_SCOPES = [
    "read:users:name!user",
    "read:users:groups!user",
    "read:users:activity!user",
    "tokens!user",
]
# what partners may do in addition: their own single-user server
PARTNER_SCOPES = ["servers!user", "access:servers!user", "read:servers!user", "users:activity!user"]
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


def roles() -> list[dict[str, Any]]:
    """`c.JupyterHub.load_roles`."""
    return [
        {
            "name": "user",
            "description": "Every account: its own identity, no server.",
            "scopes": USER_SCOPES,
        },
        {
            "name": "partner",
            "description": "Partner data scientists: their own sandbox.",
            "scopes": PARTNER_SCOPES,
            "groups": [PARTNERS],
        },
        {
            "name": "idle-culler",
            "description": "Stops idle sandboxes.",
            "scopes": CULLER_SCOPES,
            "services": ["idle-culler"],
        },
    ]


def usernames(policies: Policies) -> set[str]:
    """Every account the platform knows: the only names that may sign up or log in."""
    names = {u.username for p in policies.partners.values() for u in p.users}
    return names | set(policies.staff)


def admins(policies: Policies) -> set[str]:
    return {s.username for s in policies.staff.values() if "admins" in s.groups}
