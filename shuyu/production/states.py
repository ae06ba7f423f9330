"""A production run's life, every transition in this one module.

    queued ──▶ running ──▶ checking ──▶ released
      │           │            └──────▶ quarantined ──▶ released (a reviewer's decision)
      │           │                          └────────▶ discarded (a reviewer's decision)
      │           ├──▶ queued  (a retry after back-off: the kernel died, out of memory …)
      │           └──▶ failed  (with its reason)
      └──▶ failed (refused to start: notebook or model changed, no approval, expired)
    queued | running ──▶ cancelled (by an operator)

`released`, `discarded`, `failed` and `cancelled` are final. A refusal to start is a
failure whose reason says what differs from the approval (`FailureReason`), so the page
and the log show it; a run is never stuck: after a restart a `running` run is resumed (its
runner still running) or failed, and a `checking` one is checked again. An output check
that cannot finish quarantines the outputs (fail closed): only a reviewer's recorded
decision releases them, never the operator who ran them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from shuyu.errors import ShuyuError


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    CHECKING = "checking"
    RELEASED = "released"
    QUARANTINED = "quarantined"
    DISCARDED = "discarded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def en(self) -> str:
        return _EN[self]


FINAL = frozenset({RunState.RELEASED, RunState.DISCARDED, RunState.FAILED, RunState.CANCELLED})

TRANSITIONS: dict[RunState, frozenset[RunState]] = {
    RunState.QUEUED: frozenset({RunState.RUNNING, RunState.FAILED, RunState.CANCELLED}),
    RunState.RUNNING: frozenset(
        {
            RunState.CHECKING,
            RunState.QUEUED,  # a retry after back-off
            RunState.FAILED,
            RunState.CANCELLED,
            RunState.RUNNING,  # resumed after a restart
        }
    ),
    RunState.CHECKING: frozenset(
        {RunState.RELEASED, RunState.QUARANTINED, RunState.CHECKING}  # checked again
    ),
    RunState.QUARANTINED: frozenset({RunState.RELEASED, RunState.DISCARDED}),
    **{state: frozenset() for state in FINAL},
}

_ZH = {
    RunState.QUEUED: "排队中",
    RunState.RUNNING: "运行中",
    RunState.CHECKING: "产出检查中",
    RunState.RELEASED: "已发布",
    RunState.QUARANTINED: "已隔离待审",
    RunState.DISCARDED: "已销毁不予发布",
    RunState.FAILED: "运行失败",
    RunState.CANCELLED: "已取消",
}
_EN = {
    RunState.QUEUED: "queued",
    RunState.RUNNING: "running",
    RunState.CHECKING: "checking outputs",
    RunState.RELEASED: "released",
    RunState.QUARANTINED: "quarantined for review",
    RunState.DISCARDED: "discarded, not released",
    RunState.FAILED: "failed",
    RunState.CANCELLED: "cancelled",
}


class FailureReason(StrEnum):
    """Why a run failed: the refusals to start first, then what ends a started run."""

    NOTEBOOK_CHANGED = "notebook_changed"
    MODEL_CHANGED = "model_changed"
    NOT_APPROVED = "not_approved"
    AUTHORISATION_EXPIRED = "authorisation_expired"
    FILING_STALE = "filing_stale"
    FROZEN = "frozen"
    KERNEL_START_TIMEOUT = "kernel_start_timeout"
    KERNEL_DIED = "kernel_died"
    OUT_OF_MEMORY = "out_of_memory"
    TIMED_OUT = "timed_out"
    NOTEBOOK_ERROR = "notebook_error"
    RUNNER_ERROR = "runner_error"
    LOST = "lost"  # the service restarted and the runner was gone

    @property
    def refusal(self) -> bool:
        """Refused before any container started: nothing ran."""
        return self in _REFUSALS

    @property
    def retryable(self) -> bool:
        """Worth another attempt after back-off: the environment failed, not the code
        or the approval (a notebook that raises, raises again)."""
        return self in _RETRYABLE

    @property
    def zh(self) -> str:
        return _REASON_ZH[self]

    @property
    def en(self) -> str:
        return _REASON_EN[self]


_REFUSALS = frozenset(
    {
        FailureReason.NOTEBOOK_CHANGED,
        FailureReason.MODEL_CHANGED,
        FailureReason.NOT_APPROVED,
        FailureReason.AUTHORISATION_EXPIRED,
        FailureReason.FILING_STALE,
        FailureReason.FROZEN,
    }
)
_RETRYABLE = frozenset(
    {
        FailureReason.KERNEL_START_TIMEOUT,
        FailureReason.KERNEL_DIED,
        FailureReason.OUT_OF_MEMORY,
        FailureReason.RUNNER_ERROR,
        FailureReason.LOST,
    }
)
_REASON_ZH = {
    FailureReason.NOTEBOOK_CHANGED: "拒绝运行：笔记本 sha256 与批准时不一致",
    FailureReason.MODEL_CHANGED: "拒绝运行：模型文件 sha256 与批准时不一致",
    FailureReason.NOT_APPROVED: "拒绝运行：approved 别名指向的版本没有批准记录",
    FailureReason.AUTHORISATION_EXPIRED: "拒绝运行：场景授权已过期",
    FailureReason.FILING_STALE: "拒绝运行：产品未登记备案或备案已失效",
    FailureReason.FROZEN: "拒绝运行：已按应急处置冻结",
    FailureReason.KERNEL_START_TIMEOUT: "内核未能在时限内启动",
    FailureReason.KERNEL_DIED: "内核在运行中退出",
    FailureReason.OUT_OF_MEMORY: "内存超限被终止",
    FailureReason.TIMED_OUT: "运行超时被终止",
    FailureReason.NOTEBOOK_ERROR: "笔记本执行出错",
    FailureReason.RUNNER_ERROR: "运行容器出错",
    FailureReason.LOST: "服务重启后运行容器已不存在",
}
_REASON_EN = {
    FailureReason.NOTEBOOK_CHANGED: "refused: the notebook's sha256 differs from the approved one",
    FailureReason.MODEL_CHANGED: "refused: the model file's sha256 differs from the approved one",
    FailureReason.NOT_APPROVED: "refused: alias `approved` points to a version with no approval",
    FailureReason.AUTHORISATION_EXPIRED: "refused: the scenario's authorisation has expired",
    FailureReason.FILING_STALE: "refused: the product is not filed or its filing is stale",
    FailureReason.FROZEN: "refused: frozen by the incident procedure",
    FailureReason.KERNEL_START_TIMEOUT: "the kernel did not start in time",
    FailureReason.KERNEL_DIED: "the kernel died during the run",
    FailureReason.OUT_OF_MEMORY: "killed: out of memory",
    FailureReason.TIMED_OUT: "killed: over its execution time",
    FailureReason.NOTEBOOK_ERROR: "the notebook raised an error",
    FailureReason.RUNNER_ERROR: "the runner container failed",
    FailureReason.LOST: "the runner was gone after a service restart",
}


class TransitionRefused(ShuyuError):
    pass


@dataclass(frozen=True)
class ReleaseDecision:
    """A reviewer's recorded decision on quarantined outputs: release them or discard
    them, with the reason (audited)."""

    reviewer: str
    release: bool
    reason: str
    decided_at: dt.datetime


def check_transition(
    current: RunState,
    to: RunState,
    *,
    failure: FailureReason | None = None,
    decision: ReleaseDecision | None = None,
    operator: str = "",
) -> None:
    """Refuse a transition the machine does not have, a failure without its reason, a
    refusal to start after the start, and leaving quarantine without a reviewer's
    decision (or by the operator who ran the job: separation of duties)."""
    if to not in TRANSITIONS[current]:
        raise TransitionRefused(
            f"a production run that is {current.value} cannot become {to.value}"
            + (" (it is final)" if current.final else "")
        )
    if to is RunState.FAILED and failure is None:
        raise TransitionRefused("a run fails with a reason: give the FailureReason")
    if failure is not None and to is not RunState.FAILED and to is not RunState.QUEUED:
        raise TransitionRefused(f"a failure reason belongs to failed or a retry, not {to.value}")
    if failure is not None and failure.refusal and current is not RunState.QUEUED:
        raise TransitionRefused(
            f"{failure.value} refuses a run before it starts; this one is {current.value}"
        )
    if to is RunState.QUEUED and (failure is None or not failure.retryable):
        raise TransitionRefused(
            "a run goes back to the queue only to retry a failure of its environment"
            + (f", not {failure.value}" if failure is not None else "")
        )
    if current is RunState.QUARANTINED:
        if decision is None:
            raise TransitionRefused(
                "quarantined outputs leave quarantine only by a reviewer's recorded decision"
            )
        if not decision.reason.strip():
            raise TransitionRefused("a release decision states its reason")
        if decision.release != (to is RunState.RELEASED):
            raise TransitionRefused(
                f"the reviewer decided to {'release' if decision.release else 'discard'}, "
                f"not to make the run {to.value}"
            )
        if operator and decision.reviewer == operator:
            raise TransitionRefused(
                f"{decision.reviewer} ran this job and may not also release its outputs"
            )
    elif decision is not None:
        raise TransitionRefused("a release decision applies to quarantined outputs only")


def after_failure(
    failure: FailureReason, *, attempt: int, max_attempts: int
) -> tuple[RunState, float]:
    """Where a started run goes when it fails: back to the queue after the back-off
    (seconds: 30, 60, 120 … capped at 15 minutes) while attempts remain and the failure
    is the environment's, else failed."""
    if attempt < 1 or max_attempts < 1:
        raise ValueError("attempts count from 1")
    if failure.retryable and attempt < max_attempts:
        return RunState.QUEUED, min(30.0 * 2 ** (attempt - 1), 900.0)
    return RunState.FAILED, 0.0


def open_states() -> tuple[RunState, ...]:
    """States a service restart must look at: nothing in them may be left stuck."""
    return (RunState.QUEUED, RunState.RUNNING, RunState.CHECKING)
