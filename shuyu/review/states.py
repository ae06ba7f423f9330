"""A submission's life, every transition in this one module.

    submitted ──▶ checking ──▶ check_failed
                      │
                      └──▶ in_review ──▶ approved
                                  └───▶ rejected
    submitted | checking | in_review ──▶ withdrawn (by the partner)
    submitted | checking | in_review ──▶ expired (the authorisation lapsed)

`check_failed`, `approved`, `rejected`, `withdrawn` and `expired` are final. A service
restart leaves no submission stuck: one found `checking` is resumed (its runner still
running, or started again) or failed with the reason.
"""

from __future__ import annotations

from enum import StrEnum

from shuyu.errors import ShuyuError


class SubmissionState(StrEnum):
    SUBMITTED = "submitted"
    CHECKING = "checking"
    CHECK_FAILED = "check_failed"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def zh(self) -> str:
        return _ZH[self]


FINAL = frozenset(
    {
        SubmissionState.CHECK_FAILED,
        SubmissionState.APPROVED,
        SubmissionState.REJECTED,
        SubmissionState.WITHDRAWN,
        SubmissionState.EXPIRED,
    }
)
_OPEN = (SubmissionState.SUBMITTED, SubmissionState.CHECKING, SubmissionState.IN_REVIEW)

TRANSITIONS: dict[SubmissionState, frozenset[SubmissionState]] = {
    SubmissionState.SUBMITTED: frozenset(
        {SubmissionState.CHECKING, SubmissionState.WITHDRAWN, SubmissionState.EXPIRED}
    ),
    SubmissionState.CHECKING: frozenset(
        {
            SubmissionState.CHECK_FAILED,
            SubmissionState.IN_REVIEW,
            SubmissionState.WITHDRAWN,
            SubmissionState.EXPIRED,
            SubmissionState.CHECKING,  # resumed after a restart
        }
    ),
    SubmissionState.IN_REVIEW: frozenset(
        {
            SubmissionState.APPROVED,
            SubmissionState.REJECTED,
            SubmissionState.WITHDRAWN,
            SubmissionState.EXPIRED,
        }
    ),
    **{state: frozenset() for state in FINAL},
}

_ZH = {
    SubmissionState.SUBMITTED: "已提交",
    SubmissionState.CHECKING: "安全自查中",
    SubmissionState.CHECK_FAILED: "自查未通过",
    SubmissionState.IN_REVIEW: "评审中",
    SubmissionState.APPROVED: "已批准",
    SubmissionState.REJECTED: "已驳回",
    SubmissionState.WITHDRAWN: "已撤回",
    SubmissionState.EXPIRED: "授权已过期",
}


class TransitionRefused(ShuyuError):
    pass


def check_transition(current: SubmissionState, to: SubmissionState) -> None:
    if to not in TRANSITIONS[current]:
        raise TransitionRefused(
            f"a submission that is {current.value} cannot become {to.value}"
            + (" (it is final)" if current.final else "")
        )


def open_states() -> tuple[SubmissionState, ...]:
    return _OPEN
