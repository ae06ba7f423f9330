"""What a check returns and what the self-check reports: typed, bilingual, with evidence.

A reviewer must understand every failure without reading code: each result says what
was checked, what was found (figures, file and line, matched values masked), and what the
partner should do about it, in Chinese and English.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    WARN = "warn"  # noted for the reviewer; does not fail the submission
    ERROR = "error"  # the check could not run: the self-check as a whole could not run


class RiskFactor(StrEnum):
    """The four risk factors of the plans' product review (产品审查)."""

    SCOPE = "scope"  # 超出用途和使用范围
    DIRECT = "direct_exposure"  # 原始/敏感/隐私数据直接暴露
    INDIRECT = "indirect_exposure"  # 模型/算法受隐私攻击间接暴露
    OTHER = "other"  # 其他风险

    @property
    def zh(self) -> str:
        return _FACTOR_ZH[self]

    @property
    def en(self) -> str:
        return _FACTOR_EN[self]


_FACTOR_ZH = {
    RiskFactor.SCOPE: "超出用途和使用范围",
    RiskFactor.DIRECT: "原始/敏感/隐私数据直接暴露",
    RiskFactor.INDIRECT: "模型/算法受隐私攻击间接暴露",
    RiskFactor.OTHER: "其他风险",
}
_FACTOR_EN = {
    RiskFactor.SCOPE: "Use beyond the authorised purpose and scope",
    RiskFactor.DIRECT: "Direct exposure of raw, sensitive or personal data",
    RiskFactor.INDIRECT: "Indirect exposure through privacy attacks on the model",
    RiskFactor.OTHER: "Other risks",
}


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Evidence(Frozen):
    """One thing found: what, where, and the value (identifiers always masked)."""

    what_zh: str
    what_en: str
    value: str = ""
    where: str = ""  # file and line, artifact path, parameter name …


class CheckResult(Frozen):
    id: str  # e.g. "scope.inputs", "direct.pii", "indirect.membership", "other.onnx"
    factor: RiskFactor
    status: Status
    title_zh: str
    title_en: str
    summary_zh: str
    summary_en: str
    evidence: list[Evidence] = Field(default_factory=list)
    remedy_zh: str = ""
    remedy_en: str = ""
    figures: dict[str, float] = Field(default_factory=dict)
    seconds: float = 0.0
    membership: MembershipSummary | None = None
    """The membership-inference audit behind `indirect.membership`, for the report
    (`SelfCheckReport.membership` is taken from here)."""


class PrivacyKind(StrEnum):
    CERTIFIED = "certified"  # trained by the platform from a spec: ε from its accountant
    CLAIMED = "claimed"  # trained by the partner's own code: ε is the partner's word
    NONE = "none"  # no DP claimed at all


class PrivacyStatement(Frozen):
    kind: PrivacyKind
    epsilon: float | None = None
    delta: float | None = None
    accountant: str = ""
    epsilon_by_step: list[tuple[int, float]] = Field(default_factory=list)
    """(step, ε spent so far), for the report's ε-over-training picture (certified only)."""


class RocCurve(Frozen):
    attack: str  # "loss-threshold", "offline-lira", or a library's name
    fpr: list[float]
    tpr: list[float]


class MembershipSummary(Frozen):
    members: int
    non_members: int
    auc: float
    auc_p_value: float
    tpr_at_1pct: float
    tpr_at_01pct: float
    tpr_at_0: float
    epsilon_lower_bound: float
    curves: list[RocCurve]
    member_scores: list[float] = Field(default_factory=list)  # sampled, for the histogram
    non_member_scores: list[float] = Field(default_factory=list)
    cross_check: dict[str, float] = Field(default_factory=dict)
    """The same model attacked by a library of the field (e.g. sacroml), where it runs."""


class SelfCheckReport(Frozen):
    submission_id: str
    run_id: str
    scenario: str
    partner: str
    submitter: str
    created_at: dt.datetime
    results: list[CheckResult]
    privacy: PrivacyStatement
    membership: MembershipSummary | None = None
    inputs_sha256: dict[str, str] = Field(default_factory=dict)
    """sha256 of everything examined (model files, notebook, spec): what the review
    approves and the registry gate copies."""

    @property
    def status(self) -> Status:
        statuses = {r.status for r in self.results}
        if Status.ERROR in statuses:
            return Status.ERROR
        if Status.FAIL in statuses:
            return Status.FAIL
        return Status.PASS

    def by_factor(self, factor: RiskFactor) -> list[CheckResult]:
        return [r for r in self.results if r.factor is factor]

    def exit_code(self) -> int:
        """0 pass, 1 fail, 2 could not run (the CLI's contract)."""
        return {Status.PASS: 0, Status.FAIL: 1}.get(self.status, 2)
