"""The review's rules as its service applies them, on SQLite and on PostgreSQL.

The self-check pipeline and the registry here are stand-ins that record what they were
asked (the real ones run in tests/integration against runners and MLflow); the state
machine, the votes and their rules are the real code on a real database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shuyu.errors import InputError
from shuyu.policy import load_policies
from shuyu.registry.approval import ApprovalRecord
from shuyu.review.rules import Decision
from shuyu.review.service import (
    CheckOutcome,
    CheckRequest,
    Forbidden,
    NotFound,
    Principal,
    ReviewService,
    SubmitRequest,
)
from shuyu.review.states import SubmissionState, TransitionRefused
from shuyu.selfcheck.result import Status
from shuyu.store.database import Database
from shuyu.train.spec import parse_spec, spec_sha256

POLICIES = load_policies()
RUN = "0123456789abcdef0123456789abcdef"
TODAY = dt.date(2026, 11, 23)

PARTNER = Principal("sz-credit", frozenset({"partners"}))
OTHER_PARTNER = Principal("ordos-risk", frozenset({"partners"}))
PROVIDER = Principal("rv-provider", frozenset({"reviewers", "reviewers_provider"}))
EXPERT = Principal("rv-expert", frozenset({"reviewers", "reviewers_expert"}))
EXPERT2 = Principal("rv-expert2", frozenset({"reviewers", "reviewers_expert"}))
BUREAU = Principal("rv-bureau", frozenset({"reviewers", "reviewers_bureau"}))


@dataclass
class Pipeline:
    status: Status = Status.PASS
    seen: list[CheckRequest] = field(default_factory=list)

    def check(self, request: CheckRequest) -> CheckOutcome:
        self.seen.append(request)
        model = request.workdir / "model"
        model.mkdir(parents=True, exist_ok=True)
        (model / "model.onnx").write_bytes(b"onnx")
        report = request.workdir / "report.html"
        report.write_text("<p>report</p>", encoding="utf-8")
        reason = "all checks passed" if self.status is Status.PASS else "direct.pii: 3 IDs"
        return CheckOutcome(self.status, reason, None, {"report.html": report}, model)


@dataclass
class Registry:
    registered: list[ApprovalRecord] = field(default_factory=list)
    fail: bool = False

    def register(self, model_dir: Path, model_name: str, record: ApprovalRecord) -> tuple[str, str]:
        if self.fail:
            raise RuntimeError("MLflow is away")
        self.registered.append(record)
        return model_name, str(len(self.registered))


def _service(
    db: Database, tmp_path: Path, **kw: object
) -> tuple[ReviewService, Pipeline, Registry]:
    pipeline, registry = Pipeline(), Registry()
    service = ReviewService(
        db,
        lambda: POLICIES,
        tmp_path / "files",
        pipeline=kw.get("pipeline", pipeline),  # type: ignore[arg-type]
        registrar=registry,
        today=lambda: TODAY,
    )
    return service, kw.get("pipeline", pipeline), registry  # type: ignore[return-value]


def _submit(service: ReviewService, who: Principal = PARTNER) -> str:
    notebook = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    made = service.submit(
        who,
        SubmitRequest(run_id=RUN, scenario="bank_credit", note="v1", notebook=notebook),
    )
    return made.id


def _in_review(service: ReviewService) -> str:
    submission = _submit(service)
    assert service.run_pending() == 1
    assert service.get(PARTNER, submission).state == SubmissionState.IN_REVIEW
    return submission


def test_a_submission_is_checked_then_reviewed_level_by_level_then_registered(
    database: Database, tmp_path: Path
) -> None:
    service, pipeline, registry = _service(database, tmp_path)
    submission = _in_review(service)
    assert pipeline.seen[0].run_id == RUN
    assert [s.id for s in service.queue(PROVIDER)] == [submission]
    assert service.queue(EXPERT) == []  # not yet at the expert committee
    service.vote(PROVIDER, submission, Decision.APPROVE, "来源可查")
    service.vote(EXPERT, submission, Decision.APPROVE, "ok")
    assert service.get(PARTNER, submission).level == "expert_committee"  # needs two
    service.vote(EXPERT2, submission, Decision.APPROVE, "ok")
    final = service.vote(BUREAU, submission, Decision.APPROVE, "同意")
    assert final.state == SubmissionState.APPROVED
    assert final.model_name == "bank_credit.suzhou_rcb"
    record = registry.registered[0]
    assert [lv.level for lv in record.levels] == [
        "data_provider",
        "expert_committee",
        "data_bureau",
    ]
    assert [r for r, _ in record.levels[1].reviewers] == ["rv-expert", "rv-expert2"]
    assert record.report_sha256
    assert record.notebook_sha256


def test_the_wrong_group_the_same_person_twice_and_the_submitter_are_refused(
    database: Database, tmp_path: Path
) -> None:
    service, _, _ = _service(database, tmp_path)
    submission = _in_review(service)
    with pytest.raises(Forbidden, match="decided by the reviewers_provider group"):
        service.vote(EXPERT, submission, Decision.APPROVE, "")
    with pytest.raises(Forbidden, match="decided by"):
        service.vote(PARTNER, submission, Decision.APPROVE, "")
    service.vote(PROVIDER, submission, Decision.APPROVE, "")
    # one person in two groups still decides at one level only
    both = Principal(
        "rv-provider", frozenset({"reviewers", "reviewers_provider", "reviewers_expert"})
    )
    with pytest.raises(Forbidden, match="a different person decides at each level"):
        service.vote(both, submission, Decision.APPROVE, "")
    service.vote(EXPERT, submission, Decision.APPROVE, "")
    with pytest.raises(Forbidden, match="already voted at this level"):
        service.vote(EXPERT, submission, Decision.APPROVE, "")


def test_a_partners_own_user_never_reviews_its_submission(
    database: Database, tmp_path: Path
) -> None:
    service, _, _ = _service(database, tmp_path)
    submission = _in_review(service)
    insider = Principal("sz-credit", frozenset({"reviewers", "reviewers_provider"}))
    with pytest.raises(Forbidden, match="nobody reviews their own submission"):
        service.vote(insider, submission, Decision.APPROVE, "")


def test_a_failed_self_check_can_never_be_approved(database: Database, tmp_path: Path) -> None:
    service, _, _ = _service(database, tmp_path, pipeline=Pipeline(Status.FAIL))
    submission = _submit(service)
    service.run_pending()
    failed = service.get(PARTNER, submission)
    assert failed.state == SubmissionState.CHECK_FAILED
    assert "direct.pii" in failed.reason
    with pytest.raises(Forbidden, match="not in review"):
        service.vote(PROVIDER, submission, Decision.APPROVE, "")
    assert service.queue(PROVIDER) == []


def test_an_experts_vote_stays_hidden_until_the_committee_is_complete(
    database: Database, tmp_path: Path
) -> None:
    service, _, _ = _service(database, tmp_path)
    submission = _in_review(service)
    service.vote(PROVIDER, submission, Decision.APPROVE, "")
    service.vote(EXPERT, submission, Decision.APPROVE, "first opinion")
    seen_by_second = [v.reviewer for v in service.get(EXPERT2, submission).votes]
    assert seen_by_second == ["rv-provider"]  # the decided level only
    assert "rv-expert" in [v.reviewer for v in service.get(EXPERT, submission).votes]
    assert service.get(PARTNER, submission).votes == []  # partners see votes when final
    service.vote(EXPERT2, submission, Decision.APPROVE, "second")
    assert {v.reviewer for v in service.get(EXPERT2, submission).votes} >= {"rv-expert"}


def test_a_rejection_at_any_level_ends_it_with_the_comment(
    database: Database, tmp_path: Path
) -> None:
    service, _, registry = _service(database, tmp_path)
    submission = _in_review(service)
    service.vote(PROVIDER, submission, Decision.REJECT, "缺少数据来源说明")
    rejected = service.get(PARTNER, submission)
    assert rejected.state == SubmissionState.REJECTED
    assert "缺少数据来源说明" in rejected.reason
    assert [v.comment for v in rejected.votes] == ["缺少数据来源说明"]
    assert registry.registered == []
    notices = service.notices(PARTNER)
    assert any("驳回" in n["zh"] for n in notices)


def test_only_an_authorised_partner_submits_and_only_the_submitter_withdraws(
    database: Database, tmp_path: Path
) -> None:
    service, _, _ = _service(database, tmp_path)
    with pytest.raises(Forbidden, match="no valid authorisation"):
        service.submit(
            Principal("hi-underwriter", frozenset({"partners"})),
            SubmitRequest(run_id=RUN, scenario="bank_credit"),
        )
    submission = _submit(service)
    with pytest.raises(Forbidden, match="only the submitter"):
        service.withdraw(OTHER_PARTNER, submission)
    with pytest.raises(NotFound):
        service.get(Principal("hi-underwriter", frozenset({"partners"})), submission)
    assert service.withdraw(PARTNER, submission).state == SubmissionState.WITHDRAWN
    with pytest.raises(TransitionRefused, match="final"):
        service.withdraw(PARTNER, submission)


def test_a_restart_during_a_check_checks_again_then_fails_with_the_reason(
    database: Database, tmp_path: Path
) -> None:
    service, pipeline, _ = _service(database, tmp_path)
    submission = _submit(service)
    assert service._next_to_check() == submission  # a check starts… and the process dies
    restarted, _, _ = _service(database, tmp_path, pipeline=pipeline)
    assert restarted.resume_after_restart() == 1
    assert restarted.run_pending() == 1
    assert restarted.get(PARTNER, submission).state == SubmissionState.IN_REVIEW
    stuck = _submit(restarted)
    for _ in range(3):
        restarted._next_to_check()
        restarted.resume_after_restart()
    failed = restarted.get(PARTNER, stuck)
    assert failed.state == SubmissionState.CHECK_FAILED
    assert "interrupted 3 times" in failed.reason


def test_a_registry_failure_keeps_the_approval_and_is_retried(
    database: Database, tmp_path: Path
) -> None:
    service, _, registry = _service(database, tmp_path)
    submission = _in_review(service)
    for who in (PROVIDER, EXPERT, EXPERT2):
        service.vote(who, submission, Decision.APPROVE, "")
    registry.fail = True
    waiting = service.vote(BUREAU, submission, Decision.APPROVE, "")
    assert waiting.state == SubmissionState.IN_REVIEW
    assert "registry gate failed" in waiting.reason
    registry.fail = False
    service.retry_pending_registrations()
    assert service.get(PARTNER, submission).state == SubmissionState.APPROVED


def test_a_lapsed_authorisation_expires_open_submissions(
    database: Database, tmp_path: Path
) -> None:
    service, _, _ = _service(database, tmp_path)
    submission = _submit(service)
    later = POLICIES.scenarios["bank_credit"].expires_on + dt.timedelta(days=1)
    service.today = lambda: later
    assert service.expire_lapsed() == 1
    assert service.get(PARTNER, submission).state == SubmissionState.EXPIRED


def test_a_spec_is_validated_at_submission_and_recorded_by_its_canonical_digest(
    database: Database, tmp_path: Path
) -> None:
    """The approval carries the digest of the training, not of how its file was written."""
    service, _, _ = _service(database, tmp_path)
    written = {"epochs": 3, "model": "mlp"}  # defaults left out, keys in any order
    made = service.submit(
        PARTNER, SubmitRequest(run_id=RUN, scenario="bank_credit", note="", spec=written)
    )
    expected = spec_sha256(parse_spec({"model": "mlp", "hidden": [64, 32], "epochs": 3}))
    assert made.spec_sha256 == expected
    with pytest.raises(InputError, match=r"spec: layers\b.*is not a spec key"):
        service.submit(
            PARTNER,
            SubmitRequest(
                run_id=RUN, scenario="bank_credit", note="", spec={"model": "mlp", "layers": [8]}
            ),
        )
