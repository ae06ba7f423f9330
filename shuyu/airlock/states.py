"""An import's life, its transitions in one place.

uploaded: refused (the scan found a problem: the reasons) | pending (for the provider's
reviewer); pending → approved | rejected (the reviewer, with the reason); approved →
placed (code and notebooks by the service at once; tables by the host, pseudonymised
and joined) | failed (the host's placing found a problem: the reason).
"""

from __future__ import annotations

from enum import StrEnum

from shuyu.transitions import move


class ImportState(StrEnum):
    REFUSED = "refused"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    PLACED = "placed"
    FAILED = "failed"


TRANSITIONS: dict[ImportState, frozenset[ImportState]] = {
    ImportState.PENDING: frozenset({ImportState.APPROVED, ImportState.REJECTED}),
    ImportState.APPROVED: frozenset({ImportState.PLACED, ImportState.FAILED}),
    ImportState.REFUSED: frozenset(),
    ImportState.REJECTED: frozenset(),
    ImportState.PLACED: frozenset(),
    ImportState.FAILED: frozenset(),
}

LABELS: dict[ImportState, tuple[str, str]] = {
    ImportState.REFUSED: ("扫描未通过", "refused by the scan"),
    ImportState.PENDING: ("待数据提供方审核", "for the data provider's review"),
    ImportState.APPROVED: ("已批准，待放置", "approved, to be placed"),
    ImportState.REJECTED: ("已驳回", "rejected"),
    ImportState.PLACED: ("已放入工作区", "placed in the workspace"),
    ImportState.FAILED: ("放置失败", "placing failed"),
}


def transition(current: ImportState, to: ImportState, import_id: str) -> ImportState:
    return move(TRANSITIONS, current, to, f"import {import_id}")
