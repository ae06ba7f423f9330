"""A 事中检查 case's life, every transition in this one module.

    open ──▶ in_review ──▶ closed
      └──────────────────▶ closed

A case opens when a rule hits (the key is blocked at the same moment); an administrator
takes it into review (人工核查) and closes it with a resolution: `cleared` (no misuse:
the key is unblocked, with the reason) or `confirmed` (misuse: the key is revoked).
`closed` is final.
"""

from __future__ import annotations

from enum import StrEnum

from shuyu.errors import ShuyuError


class CaseState(StrEnum):
    OPEN = "open"
    IN_REVIEW = "in_review"
    CLOSED = "closed"

    @property
    def zh(self) -> str:
        return _ZH[self]


class Resolution(StrEnum):
    CLEARED = "cleared"
    CONFIRMED = "confirmed"

    @property
    def zh(self) -> str:
        return _RESOLUTION_ZH[self]


TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    CaseState.OPEN: frozenset({CaseState.IN_REVIEW, CaseState.CLOSED}),
    CaseState.IN_REVIEW: frozenset({CaseState.CLOSED}),
    CaseState.CLOSED: frozenset(),
}

_ZH = {CaseState.OPEN: "待核查", CaseState.IN_REVIEW: "核查中", CaseState.CLOSED: "已结案"}
_RESOLUTION_ZH = {
    Resolution.CLEARED: "排除异常，解除拦截",
    Resolution.CONFIRMED: "确认违规，吊销密钥",
}


class CaseTransitionRefused(ShuyuError):
    pass


def check_transition(current: CaseState, to: CaseState) -> None:
    if to not in TRANSITIONS[current]:
        raise CaseTransitionRefused(
            f"a case that is {current.value} cannot become {to.value}"
            + (" (it is closed)" if current is CaseState.CLOSED else "")
        )
