"""A package request's life, its transitions in one place.

requested → approved (an administrator) → published (the host fetched and checked its
wheels, the index serves them) | failed (a check refused them, with the reason);
requested → rejected (an administrator, with the reason); failed → approved (approved
again, e.g. after the policy changed: fetched anew).
"""

from __future__ import annotations

from enum import StrEnum

from shuyu.transitions import move


class PackageState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    PUBLISHED = "published"
    REJECTED = "rejected"
    FAILED = "failed"


TRANSITIONS: dict[PackageState, frozenset[PackageState]] = {
    PackageState.REQUESTED: frozenset({PackageState.APPROVED, PackageState.REJECTED}),
    PackageState.APPROVED: frozenset({PackageState.PUBLISHED, PackageState.FAILED}),
    PackageState.FAILED: frozenset({PackageState.APPROVED, PackageState.REJECTED}),
    PackageState.PUBLISHED: frozenset(),
    PackageState.REJECTED: frozenset(),
}

LABELS: dict[PackageState, tuple[str, str]] = {
    PackageState.REQUESTED: ("待审批", "requested"),
    PackageState.APPROVED: ("已批准，待下载", "approved, to be fetched"),
    PackageState.PUBLISHED: ("已上架", "published"),
    PackageState.REJECTED: ("已驳回", "rejected"),
    PackageState.FAILED: ("检查未通过", "refused by the checks"),
}


def transition(current: PackageState, to: PackageState, request_id: str) -> PackageState:
    return move(TRANSITIONS, current, to, f"package request {request_id}")
