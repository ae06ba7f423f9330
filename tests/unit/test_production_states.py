"""A production run's state machine: the paths a run may take, and the ones refused —
above all, quarantined outputs leave only by a reviewer's recorded decision."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from shuyu.production.states import (
    FINAL,
    TRANSITIONS,
    FailureReason,
    ReleaseDecision,
    RunState,
    TransitionRefused,
    after_failure,
    check_transition,
    open_states,
)

NOW = dt.datetime(2026, 7, 1, 9, tzinfo=dt.UTC)


def decision(
    *, release: bool = True, reviewer: str = "rev-bureau", reason: str = "已核对"
) -> ReleaseDecision:
    return ReleaseDecision(reviewer=reviewer, release=release, reason=reason, decided_at=NOW)


def test_a_clean_run_is_queued_run_checked_and_released() -> None:
    path = [RunState.QUEUED, RunState.RUNNING, RunState.CHECKING, RunState.RELEASED]
    for current, to in itertools.pairwise(path):
        check_transition(current, to)
    assert RunState.RELEASED.final


def test_a_failing_output_is_quarantined_and_released_only_by_a_reviewers_decision() -> None:
    check_transition(RunState.CHECKING, RunState.QUARANTINED)
    with pytest.raises(TransitionRefused, match="reviewer's recorded decision"):
        check_transition(RunState.QUARANTINED, RunState.RELEASED)
    check_transition(
        RunState.QUARANTINED, RunState.RELEASED, decision=decision(), operator="op-wang"
    )
    check_transition(
        RunState.QUARANTINED,
        RunState.DISCARDED,
        decision=decision(release=False),
        operator="op-wang",
    )


def test_the_operator_who_ran_a_job_cannot_release_its_quarantined_outputs() -> None:
    with pytest.raises(TransitionRefused, match="may not also release"):
        check_transition(
            RunState.QUARANTINED,
            RunState.RELEASED,
            decision=decision(reviewer="op-wang"),
            operator="op-wang",
        )


def test_a_release_decision_states_its_reason_and_means_what_it_says() -> None:
    with pytest.raises(TransitionRefused, match="reason"):
        check_transition(RunState.QUARANTINED, RunState.RELEASED, decision=decision(reason="  "))
    with pytest.raises(TransitionRefused, match="decided to discard"):
        check_transition(RunState.QUARANTINED, RunState.RELEASED, decision=decision(release=False))
    with pytest.raises(TransitionRefused, match="quarantined outputs only"):
        check_transition(RunState.CHECKING, RunState.RELEASED, decision=decision())


def test_checked_outputs_are_never_released_past_the_check() -> None:
    for state in (RunState.QUEUED, RunState.RUNNING):
        with pytest.raises(TransitionRefused):
            check_transition(state, RunState.RELEASED)
    with pytest.raises(TransitionRefused):
        check_transition(RunState.RUNNING, RunState.QUARANTINED)


@pytest.mark.parametrize(
    "reason",
    [
        FailureReason.NOTEBOOK_CHANGED,
        FailureReason.MODEL_CHANGED,
        FailureReason.NOT_APPROVED,
        FailureReason.AUTHORISATION_EXPIRED,
    ],
)
def test_a_refusal_to_start_fails_a_queued_run_with_its_reason(reason: FailureReason) -> None:
    assert reason.refusal
    assert not reason.retryable
    check_transition(RunState.QUEUED, RunState.FAILED, failure=reason)
    with pytest.raises(TransitionRefused, match="before it starts"):
        check_transition(RunState.RUNNING, RunState.FAILED, failure=reason)
    assert reason.zh.startswith("拒绝运行")
    assert reason.en.startswith("refused")


def test_a_run_fails_only_with_a_reason() -> None:
    with pytest.raises(TransitionRefused, match="with a reason"):
        check_transition(RunState.RUNNING, RunState.FAILED)
    with pytest.raises(TransitionRefused, match="belongs to failed"):
        check_transition(RunState.RUNNING, RunState.CHECKING, failure=FailureReason.KERNEL_DIED)


def test_a_killed_kernel_is_retried_with_back_off_then_fails() -> None:
    assert after_failure(FailureReason.KERNEL_DIED, attempt=1, max_attempts=3) == (
        RunState.QUEUED,
        30.0,
    )
    assert after_failure(FailureReason.OUT_OF_MEMORY, attempt=2, max_attempts=3) == (
        RunState.QUEUED,
        60.0,
    )
    assert after_failure(FailureReason.KERNEL_DIED, attempt=3, max_attempts=3) == (
        RunState.FAILED,
        0.0,
    )
    assert after_failure(FailureReason.LOST, attempt=9, max_attempts=20)[1] == 900.0  # capped
    check_transition(RunState.RUNNING, RunState.QUEUED, failure=FailureReason.KERNEL_DIED)


def test_a_notebook_that_raises_or_runs_over_its_time_is_not_retried() -> None:
    for reason in (FailureReason.NOTEBOOK_ERROR, FailureReason.TIMED_OUT):
        assert after_failure(reason, attempt=1, max_attempts=5) == (RunState.FAILED, 0.0)
        with pytest.raises(TransitionRefused, match="retry a failure of its environment"):
            check_transition(RunState.RUNNING, RunState.QUEUED, failure=reason)
    with pytest.raises(TransitionRefused):
        check_transition(RunState.RUNNING, RunState.QUEUED)


@pytest.mark.parametrize("state", sorted(FINAL))
def test_a_final_state_has_no_way_out(state: RunState) -> None:
    assert TRANSITIONS[state] == frozenset()
    for to in RunState:
        with pytest.raises(TransitionRefused, match="final"):
            check_transition(state, to, failure=FailureReason.KERNEL_DIED, decision=decision())


def test_after_a_restart_nothing_is_left_stuck() -> None:
    assert set(open_states()) == set(RunState) - FINAL - {RunState.QUARANTINED}
    check_transition(RunState.RUNNING, RunState.RUNNING)  # resumed
    check_transition(RunState.CHECKING, RunState.CHECKING)  # checked again
    check_transition(RunState.RUNNING, RunState.FAILED, failure=FailureReason.LOST)
    check_transition(RunState.QUEUED, RunState.CANCELLED)


def test_every_state_and_reason_has_its_chinese_and_english_name() -> None:
    assert len({s.zh for s in RunState}) == len(RunState)
    assert len({s.en for s in RunState}) == len(RunState)
    assert len({r.zh for r in FailureReason}) == len(FailureReason)
    assert all(r.en for r in FailureReason)
