"""Who may administer products: members of the `admins` group, as the hub and the
review service know them. A caller is anything with a username and groups (the review
service's `Principal` is one)."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Protocol

from shuyu.audit.events import audit_event
from shuyu.errors import ShuyuError

ADMINS = "admins"


class Caller(Protocol):
    @property
    def username(self) -> str: ...

    @property
    def groups(self) -> Set[str]: ...


@dataclass(frozen=True)
class Admin:
    """A caller from the CLI or a test: a username and its groups."""

    username: str
    groups: frozenset[str] = frozenset({ADMINS})


class Forbidden(ShuyuError):
    """The caller may not do this (HTTP 403)."""


class NotFound(ShuyuError):
    """No such consumer, key, agreement or case (HTTP 404)."""


def require_admin(who: Caller, action: str, target: str) -> None:
    """Refuse (and audit the refusal) unless `who` is an administrator."""
    if ADMINS not in who.groups:
        audit_event(action, who.username, "denied", target=target, reason="not an administrator")
        raise Forbidden(
            f"{who.username} is not an administrator: only 数据资源管理局 administrators "
            "manage consumers, keys, agreements and cases (仅管理员可操作)"
        )
