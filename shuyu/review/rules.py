"""Who may decide what, level by level: the review chain's rules in one place.

The chain comes from policy (`Policies.review_levels`): 数据提供部门初审 → 专委会复审 →
市数据资源管理局终审. At each level a member of that level's group decides; a level may
need several independent approvals (the expert committee: 2), whose votes stay hidden
from each other until all are in. Separation of duties: nobody reviews their own
submission or one of their own partner's, and nobody decides at two levels of the same
submission. A rejection at any level ends the submission. A submission whose
self-check failed is never in review, so it can never be approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shuyu.policy.models import Policies, ReviewLevel, Scenario
from shuyu.review.states import SubmissionState


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class Vote:
    level: str
    reviewer: str
    decision: Decision
    comment: str
    ts: str


@dataclass(frozen=True)
class Ballot:
    """What the rules need to know about a submission."""

    submitter: str
    partner: str
    state: SubmissionState
    level: int
    check_passed: bool


class LevelOutcome(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


def levels(policies: Policies, scenario: Scenario) -> list[ReviewLevel]:
    return policies.review_levels(scenario)


@dataclass(frozen=True)
class VoteRequest:
    policies: Policies
    scenario: Scenario
    ballot: Ballot
    votes: list[Vote]
    reviewer: str
    reviewer_groups: frozenset[str]

    @property
    def level(self) -> ReviewLevel:
        return levels(self.policies, self.scenario)[self.ballot.level]


def _in_review(r: VoteRequest) -> str | None:
    if r.ballot.state is not SubmissionState.IN_REVIEW:
        return f"the submission is {r.ballot.state.value}, not in review"
    return None


def _check_passed(r: VoteRequest) -> str | None:
    return None if r.ballot.check_passed else "its self-check did not pass: it cannot be approved"


def _level_group(r: VoteRequest) -> str | None:
    if r.level.group not in r.reviewer_groups:
        return f"level {r.level.id} is decided by the {r.level.group} group"
    return None


def _not_own(r: VoteRequest) -> str | None:
    if r.reviewer == r.ballot.submitter:
        return "nobody reviews their own submission"
    partner = r.policies.partners.get(r.ballot.partner)
    if partner is not None and any(u.username == r.reviewer for u in partner.users):
        return "a partner's own users do not review its submissions"
    return None


def _once_per_level(r: VoteRequest) -> str | None:
    if any(v.reviewer == r.reviewer and v.level == r.level.id for v in r.votes):
        return "already voted at this level"
    return None


def _separation_of_duties(r: VoteRequest) -> str | None:
    if r.policies.review_chain.separation_of_duties and any(
        v.reviewer == r.reviewer for v in r.votes
    ):
        return "a different person decides at each level"
    return None


VOTE_RULES = (
    _in_review,
    _check_passed,
    _level_group,
    _not_own,
    _once_per_level,
    _separation_of_duties,
)


def vote_refusal(request: VoteRequest) -> str | None:
    """Why the reviewer may not vote on this submission now, or None."""
    for rule in VOTE_RULES:
        reason = rule(request)
        if reason is not None:
            return reason
    return None


def level_outcome(level: ReviewLevel, votes: list[Vote]) -> LevelOutcome:
    at_level = [v for v in votes if v.level == level.id]
    if any(v.decision is Decision.REJECT for v in at_level):
        return LevelOutcome.REJECTED
    if sum(v.decision is Decision.APPROVE for v in at_level) >= level.min_approvals:
        return LevelOutcome.APPROVED
    return LevelOutcome.PENDING


def visible_votes(chain: list[ReviewLevel], votes: list[Vote], viewer: str) -> list[Vote]:
    """The votes `viewer` may see: a level's votes are hidden from each other until the
    level is decided (a viewer always sees their own)."""
    decided = {lv.id for lv in chain if level_outcome(lv, votes) is not LevelOutcome.PENDING}
    return [v for v in votes if v.level in decided or v.reviewer == viewer]
