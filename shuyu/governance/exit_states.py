"""An exit's life (退出), every transition in this one module.

    revoked ──▶ deleting ──▶ deleted ──▶ verified ──▶ accepted
                   ▲ ↺ (a pass that stopped)  │
                   └── verification_failed ◀┘ (a second deletion pass, then verified again)

`revoked`: every access of the partner or consumer is gone (freeze, sandboxes, MLflow
grants and passwords, production jobs, API keys, agreements) before anything is deleted.
`deleting`: what is not transferred is being deleted, each item recorded with its
sha256 and time. `deleted`: the certificate lists everything deleted. `verified`: a
separate pass looked for every item again and found none; `verification_failed`: it
found some (the certificate says which), and the deletion is run again. `accepted`: an
administrator of the bureau other than the one who ran the exit accepted (验收) the
certificate, whose stored sha256 still matches its JSON.
"""

from __future__ import annotations

from enum import StrEnum

from shuyu.errors import ShuyuError


class ExitState(StrEnum):
    REVOKED = "revoked"
    DELETING = "deleting"
    DELETED = "deleted"
    VERIFIED = "verified"
    VERIFICATION_FAILED = "verification_failed"
    ACCEPTED = "accepted"

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def en(self) -> str:
        return _EN[self]

    @property
    def done(self) -> bool:
        """Nothing more is owed within the 30 days."""
        return self is ExitState.ACCEPTED


TRANSITIONS: dict[ExitState, frozenset[ExitState]] = {
    ExitState.REVOKED: frozenset({ExitState.DELETING}),
    # deleting again: a pass that stopped half-way (a crash, an engine that did not
    # answer) is run again by `shuyu exit redo`
    ExitState.DELETING: frozenset({ExitState.DELETED, ExitState.DELETING}),
    ExitState.DELETED: frozenset({ExitState.VERIFIED, ExitState.VERIFICATION_FAILED}),
    ExitState.VERIFICATION_FAILED: frozenset({ExitState.DELETING}),
    ExitState.VERIFIED: frozenset({ExitState.ACCEPTED}),
    ExitState.ACCEPTED: frozenset(),
}

_ZH = {
    ExitState.REVOKED: "权限已收回",
    ExitState.DELETING: "删除中",
    ExitState.DELETED: "已删除待核验",
    ExitState.VERIFIED: "核验通过待验收",
    ExitState.VERIFICATION_FAILED: "核验未通过",
    ExitState.ACCEPTED: "已验收",
}
_EN = {
    ExitState.REVOKED: "access revoked",
    ExitState.DELETING: "deleting",
    ExitState.DELETED: "deleted, to verify",
    ExitState.VERIFIED: "verified, to accept",
    ExitState.VERIFICATION_FAILED: "verification failed",
    ExitState.ACCEPTED: "accepted",
}


class ExitTransitionRefused(ShuyuError):
    pass


def check_transition(
    current: ExitState, to: ExitState, *, actor: str = "", exited_by: str = ""
) -> None:
    """Refuse a transition the machine does not have, and an acceptance by the
    administrator who ran the exit (separation of duties: 谁执行，谁不验收)."""
    if to not in TRANSITIONS[current]:
        raise ExitTransitionRefused(
            f"an exit that is {current.value} cannot become {to.value}"
            + (" (it is final)" if not TRANSITIONS[current] else "")
        )
    if to is ExitState.ACCEPTED and actor and actor == exited_by:
        raise ExitTransitionRefused(
            f"{actor} ran this exit and may not also accept its certificate "
            "(执行退出的管理员不得验收)"
        )
