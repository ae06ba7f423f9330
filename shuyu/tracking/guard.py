"""Who may pass the registry guard: one decision, shared by the ASGI and Flask adapters."""

from __future__ import annotations

from dataclasses import dataclass

from shuyu.tracking.admin_client import GATE_USERNAME
from shuyu.tracking.endpoints import Access
from shuyu.tracking.write_rules import Refusal


@dataclass(frozen=True)
class Principal:
    """An authenticated MLflow account."""

    username: str
    is_admin: bool


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int  # HTTP status of a refusal: 401 unauthenticated, 403 forbidden
    reason: str


def decide(access: Access, principal: Principal | None) -> Decision:
    """Allow `OPEN` to everyone (MLflow judges it next); `REGISTRY` to the gate and
    administrators; `ADMIN` to administrators; anyone unauthenticated gets 401."""
    if access is Access.OPEN:
        return Decision(True, 200, "left to MLflow's permissions")
    if principal is None:
        return Decision(False, 401, "not authenticated")
    if principal.is_admin:
        return Decision(True, 200, "administrator")
    if access is Access.REGISTRY and principal.username == GATE_USERNAME:
        return Decision(True, 200, "registry gate")
    if access is Access.REGISTRY:
        return Decision(False, 403, "registry writes are reserved to the review gate")
    return Decision(False, 403, "reserved to administrators")


def decide_write(refusal: Refusal, principal: Principal | None) -> Decision:
    """A tracking write the rules refuse: only the gate and administrators pass."""
    if principal is None:
        return Decision(False, 401, "not authenticated")
    if principal.is_admin or principal.username == GATE_USERNAME:
        return Decision(True, 200, "privileged account")
    return Decision(False, refusal.status, refusal.reason)
