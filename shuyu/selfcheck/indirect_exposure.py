"""模型/算法受隐私攻击间接暴露 — indirect exposure through privacy attacks on the model.

Two checks:

* `indirect.dp_budget` — the privacy statement against the scenario's (ε, δ). The
  statement is the platform's (`SubmissionInput.privacy`): *certified* when the platform
  trained the model itself from a declarative spec in a training runner (ε from its own
  accountant), *claimed* when the partner's code did (ε is the partner's word, copied
  from the run), *none* without DP. A claim passes only where the scenario accepts
  claims (`Scenario.accepts_claimed_dp`: not for scenarios about people by default).
* `indirect.membership` — the attacks of `shuyu.selfcheck.membership` on the snapshot's
  model, members from the train split and non-members from the holdout; the AUC and the
  TPR at low FPR against the policy's limits, and the empirical ε lower bound against
  the certified or claimed ε: a bound above it proves the statement false.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from shuyu.data.view_manifest import HOLDOUT_FILE, TRAIN_FILE, ViewManifest, read_manifest
from shuyu.policy.models import MembershipInferenceLimits
from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.membership import (
    MembershipAudit,
    ReferenceTrainer,
    Scorer,
    audit_membership,
)
from shuyu.selfcheck.registry import check
from shuyu.selfcheck.result import (
    CheckResult,
    Evidence,
    PrivacyKind,
    PrivacyStatement,
    RiskFactor,
    Status,
)

MODEL_FILE = "model.onnx"

_KIND_ZH = {
    PrivacyKind.CERTIFIED: "平台认证",
    PrivacyKind.CLAIMED: "合作方自述",
    PrivacyKind.NONE: "未声明差分隐私",
}
_KIND_EN = {
    PrivacyKind.CERTIFIED: "certified by the platform",
    PrivacyKind.CLAIMED: "the partner's claim",
    PrivacyKind.NONE: "no differential privacy stated",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _kind(statement: PrivacyStatement) -> tuple[str, str]:
    return _KIND_ZH[statement.kind], _KIND_EN[statement.kind]


def _result(
    check_id: str,
    status: Status,
    titles: tuple[str, str],
    summaries: tuple[str, str],
    *,
    evidence: list[Evidence] | None = None,
    remedies: tuple[str, str] = ("", ""),
    figures: dict[str, float] | None = None,
) -> CheckResult:
    return CheckResult(
        id=check_id,
        factor=RiskFactor.INDIRECT,
        status=status,
        title_zh=titles[0],
        title_en=titles[1],
        summary_zh=summaries[0],
        summary_en=summaries[1],
        evidence=evidence or [],
        remedy_zh=remedies[0] if status is not Status.PASS else "",
        remedy_en=remedies[1] if status is not Status.PASS else "",
        figures=figures or {},
    )


# ---------------------------------------------------------------- indirect.dp_budget

_DP_TITLE = ("差分隐私预算 (ε, δ) 在场景限额内", "DP budget (ε, δ) within the scenario's")
_RETRAIN = (
    "请提交训练规格 (spec)，由平台在训练容器中以 shuyu.train 训练并认证 ε；或在预算内重新训练。",
    "Submit a training spec so that the platform trains the model itself with shuyu.train "
    "in a training runner and certifies its ε; or retrain within the budget.",
)


@check("indirect.dp_budget", RiskFactor.INDIRECT)
def dp_within_budget(ctx: CheckContext) -> CheckResult:
    scenario, statement = ctx.scenario, ctx.submission.privacy
    budget = scenario.dp
    kind_zh, kind_en = _kind(statement)
    figures = {"budget_epsilon": budget.epsilon, "budget_delta": budget.delta}
    evidence = [
        Evidence(
            what_zh="场景预算",
            what_en="scenario budget",
            value=f"ε ≤ {budget.epsilon:g}, δ ≤ {budget.delta:g}",
            where=f"policies/scenarios/{scenario.id}.yaml: dp",
        )
    ]

    def fail(zh: str, en: str, remedies: tuple[str, str] = _RETRAIN) -> CheckResult:
        return _result(
            "indirect.dp_budget",
            Status.FAIL,
            _DP_TITLE,
            (zh, en),
            evidence=evidence,
            remedies=remedies,
            figures=figures,
        )

    if statement.kind is PrivacyKind.NONE:
        return fail(
            "模型未以差分隐私训练（未声明 ε）；本平台的模型须在场景预算内以差分隐私训练。",
            "The model was not trained with differential privacy (no ε stated); models on "
            "this platform must be trained with DP within the scenario's budget.",
        )
    if statement.epsilon is None or statement.delta is None:
        return fail(
            f"隐私声明（{kind_zh}）缺少 ε 或 δ，无法与预算比较。",
            f"The privacy statement ({kind_en}) lacks ε or δ and cannot be compared with "
            "the budget.",
        )
    epsilon, delta = statement.epsilon, statement.delta
    figures |= {"epsilon": epsilon, "delta": delta}
    evidence.append(
        Evidence(
            what_zh=f"隐私声明（{kind_zh}）",
            what_en=f"privacy statement ({kind_en})",
            value=f"ε = {epsilon:g}, δ = {delta:g}"
            + (f", {statement.accountant}" if statement.accountant else ""),
            where="submission: privacy",
        )
    )
    if statement.kind is PrivacyKind.CERTIFIED and not ctx.submission.spec_sha256:
        return fail(
            "声明为平台认证，但提交未记录平台据以训练的规格 (spec_sha256)：认证无从核对。",
            "The statement says certified, but the submission names no training spec "
            "(spec_sha256) the platform trained from: the certification cannot be traced.",
        )
    if statement.kind is PrivacyKind.CLAIMED and not scenario.accepts_claimed_dp:
        return fail(
            f"ε = {epsilon:g} 为合作方自述。场景 {scenario.id} 涉及个人数据，只接受平台认证的"
            "差分隐私训练，自述的 ε 不予采信。",
            f"ε = {epsilon:g} is the partner's claim. Scenario {scenario.id} is about people: "
            "only DP training certified by the platform is accepted, a claimed ε is not.",
            remedies=(
                "提交训练规格 (spec)，由平台训练并认证。",
                "Submit a training spec for the platform to train and certify.",
            ),
        )
    over = [
        name
        for name, spent, limit in (("ε", epsilon, budget.epsilon), ("δ", delta, budget.delta))
        if spent > limit
    ]
    if over:
        return fail(
            f"{kind_zh}的 ε = {epsilon:g}、δ = {delta:g} 超出场景 {scenario.id} 的预算"
            f"（ε ≤ {budget.epsilon:g}，δ ≤ {budget.delta:g}）：{'、'.join(over)} 超限。",
            f"{_sentence(kind_en)}: ε = {epsilon:g}, δ = {delta:g} exceeds scenario "
            f"{scenario.id}'s budget (ε ≤ {budget.epsilon:g}, δ ≤ {budget.delta:g}): "
            f"{' and '.join(over)} over.",
        )
    if statement.kind is PrivacyKind.CERTIFIED:
        zh = (
            f"平台认证：ε = {epsilon:g}、δ = {delta:g}，由平台会计器计算，在场景预算内"
            f"（ε ≤ {budget.epsilon:g}，δ ≤ {budget.delta:g}）。"
        )
        en = (
            f"Certified by the platform: ε = {epsilon:g}, δ = {delta:g} from the platform's "
            f"accountant, within the budget (ε ≤ {budget.epsilon:g}, δ ≤ {budget.delta:g})."
        )
    else:
        zh = (
            f"合作方自述：ε = {epsilon:g}、δ = {delta:g}，在场景预算内；本场景接受自述，"
            "其真实性由成员推断审计 (indirect.membership) 检验。"
        )
        en = (
            f"The partner's claim: ε = {epsilon:g}, δ = {delta:g}, within the budget; this "
            "scenario accepts claims, tested by the membership audit (indirect.membership)."
        )
    return _result(
        "indirect.dp_budget", Status.PASS, _DP_TITLE, (zh, en), evidence=evidence, figures=figures
    )


# ---------------------------------------------------------------- indirect.membership

_MI_TITLE = (
    "成员推断攻击在限值内，经验 ε 下界不超过声明",
    "Membership inference within the limits; empirical ε bound within the statement",
)
_MI_REMEDY = (
    "以差分隐私（更小的 ε）重新训练，减少过拟合（更少轮次、正则化）；声明的 ε 必须真实。",
    "Retrain with differential privacy (a smaller ε) and less overfitting (fewer epochs, "
    "regularisation); a stated ε must be true.",
)
REFERENCE_EPOCHS = 5
REFERENCE_BATCH = 256
REFERENCE_LEARNING_RATE = 0.5


def reference_trainer(
    manifest: ViewManifest, view_dir: Path, *, features: list[str] | None = None
) -> ReferenceTrainer:
    """Reference models of the platform's family (shuyu.train's TabularMLP on the target's
    features), trained without DP for a few epochs: what a model that never saw a row
    thinks of it. Without DP they are, if anything, more confident than a DP target,
    which shifts members and non-members alike.

    They train and score on one thread: for a network this small, torch's intra-op
    threads cost more in synchronisation than they save (measured: 0.2 s against 3-9 s
    per model on a busy 2-core machine)."""
    import torch  # noqa: PLC0415 - torch only when needed

    from shuyu.train.private import fit, predict  # noqa: PLC0415
    from shuyu.train.view import AuthorisedView  # noqa: PLC0415

    @contextmanager
    def one_thread() -> Iterator[None]:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def train(frame: pl.DataFrame, seed: int) -> Scorer:
        with one_thread():
            result = fit(
                AuthorisedView(directory=view_dir, manifest=manifest, frame=frame),
                private=False,
                epochs=REFERENCE_EPOCHS,
                batch_size=REFERENCE_BATCH,
                learning_rate=REFERENCE_LEARNING_RATE,
                features=features,
                seed=seed,
                evaluate_each_epoch=False,
            )

        def score(rows: pl.DataFrame) -> np.ndarray:
            with one_thread():
                return predict(result, rows)

        return score

    return train


@dataclass(frozen=True)
class Target:
    """The snapshot's ONNX model as the attacks see it."""

    score: Scorer
    features: list[str]  # its inputs, all of them features of the view


def load_target(ctx: CheckContext, manifest: ViewManifest) -> Target:
    """The model, checked to score the view: a model needing columns the view does not
    have cannot be audited (and fails scope.inputs too)."""
    import onnx  # noqa: PLC0415 - only when a model is checked

    from shuyu.onnx_model import OnnxModel  # noqa: PLC0415

    path = ctx.model_dir / MODEL_FILE
    size = path.stat().st_size
    if size > ctx.thresholds.model_max_bytes:
        raise ValueError(f"{MODEL_FILE} is {size} bytes, over {ctx.thresholds.model_max_bytes}")
    # never follow an external-data reference: it could name any file of the check
    # runner (the holdout itself) and turn it into weights (other.onnx fails such a model)
    proto = onnx.load(str(path), load_external_data=False)
    if _uses_external_data(proto):
        raise ValueError("it keeps tensors in external data files")
    model = OnnxModel.load(proto)
    outside = [n for n in model.input_names if n not in manifest.feature_names]
    if outside:
        raise ValueError(f"its inputs {', '.join(outside)} are not columns of the view")
    return Target(score=model.score, features=model.input_names)


def _tensors(graph: Any) -> Iterator[Any]:
    """Every tensor of a graph: initializers and node attributes, subgraphs included."""
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _tensors(subgraph)


def _uses_external_data(model: Any) -> bool:
    from onnx.external_data_helper import uses_external_data  # noqa: PLC0415

    return any(uses_external_data(tensor) for tensor in _tensors(model.graph))


def _seed(ctx: CheckContext) -> int:
    """Reproducible per submission, and not known to the partner before submitting."""
    digest = hashlib.sha256(ctx.submission.submission_id.encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _limits(ctx: CheckContext) -> list[MembershipInferenceLimits]:
    """The scenario's limits and the platform's defaults: both must hold, so the
    stricter of each applies."""
    scenario_limits = ctx.scenario.membership_inference
    default = ctx.thresholds.membership_inference
    return [scenario_limits] if scenario_limits == default else [scenario_limits, default]


def _figures(
    audit: MembershipAudit, limits: list[MembershipInferenceLimits], confidence: float
) -> dict[str, float]:
    summary = audit.summary
    figures = {
        "members": float(summary.members),
        "non_members": float(summary.non_members),
        "auc": summary.auc,
        "auc_p_value": summary.auc_p_value,
        "tpr_at_1pct": summary.tpr_at_1pct,
        "tpr_at_01pct": summary.tpr_at_01pct,
        "tpr_at_0": summary.tpr_at_0,
        "tpr_at_01pct_estimable": float(all(a.tpr_at_01pct_estimable for a in audit.attacks)),
        "epsilon_lower_bound": audit.bound.epsilon,
        "max_auc": min(limit.max_auc for limit in limits),
        "auc_lower_bound": audit.auc_interval(confidence)[0],
        "auc_upper_bound": audit.auc_interval(confidence)[1],
        "reference_models": float(audit.reference_models),
        "reference_rows": float(audit.reference_rows),
    }
    for limit in limits:
        figures[f"tpr_at_fpr_{limit.low_fpr:g}"] = audit.tpr_at(limit.low_fpr)
        figures[f"max_tpr_at_fpr_{limit.low_fpr:g}"] = limit.max_tpr_at_low_fpr
    for attack in audit.attacks:
        figures |= {
            f"{attack.attack}.auc": attack.auc,
            f"{attack.attack}.auc_p_value": attack.auc_p_value,
            f"{attack.attack}.tpr_at_1pct": attack.tpr_at_1pct,
            f"{attack.attack}.tpr_at_01pct": attack.tpr_at_01pct,
            f"{attack.attack}.tpr_at_0": attack.tpr_at_0,
        }
    figures |= {f"seconds.{k}": v for k, v in audit.seconds.items()}
    return {k: v for k, v in figures.items() if math.isfinite(v)}


@dataclass
class _Findings:
    evidence: list[Evidence] = field(default_factory=list)
    zh: list[str] = field(default_factory=list)
    en: list[str] = field(default_factory=list)

    def add(self, zh: str, en: str, evidence: Evidence) -> None:
        self.zh.append(zh)
        self.en.append(en)
        self.evidence.append(evidence)


def tpr_limit_estimable(audit: MembershipAudit, limit: MembershipInferenceLimits) -> bool:
    """A TPR at FPR ≤ `low_fpr` means that level only when the non-members allow at
    least one false positive there."""
    return audit.summary.non_members * limit.low_fpr >= 1


def _violations(
    audit: MembershipAudit,
    limits: list[MembershipInferenceLimits],
    statement: PrivacyStatement,
    confidence: float,
) -> _Findings:
    found = _Findings()
    summary, bound = audit.summary, audit.bound
    max_auc = min(limit.max_auc for limit in limits)
    # as the TPR below: over the limit when the attack is shown to be (lower bound)
    lower, _ = audit.auc_interval(confidence)
    if lower > max_auc:
        found.add(
            f"攻击 AUC = {summary.auc:.3f}（{confidence:.0%} 置信下界 {lower:.3f}）"
            f"超过限值 {max_auc:.2f}",
            f"the attack's AUC = {summary.auc:.3f} (lower {confidence:.0%} bound "
            f"{lower:.3f}) exceeds the limit {max_auc:.2f}",
            Evidence(
                what_zh="成员推断 AUC 超限",
                what_en="membership inference AUC over the limit",
                value=f"{audit.strongest().attack}: AUC {summary.auc:.4f} "
                f"(≥ {lower:.4f}, p = {summary.auc_p_value:.2g}) > {max_auc:g}",
            ),
        )
    for limit in limits:
        if not tpr_limit_estimable(audit, limit):
            continue  # FPR ≤ 1 % of 38 non-members is FPR 0: another, noisier figure
        tpr, level = audit.tpr_at(limit.low_fpr), f"{100 * limit.low_fpr:g}%"
        # over the limit when the attack is shown to be: the lower confidence bound, so
        # that a small holdout's chance hits do not fail a sound model
        lower = audit.tpr_lower_at(limit.low_fpr, confidence)
        if lower > limit.max_tpr_at_low_fpr:
            found.add(
                f"FPR ≤ {level} 时 TPR = {tpr:.3f}（{confidence:.0%} 置信下界 {lower:.3f}）"
                f"超过限值 {limit.max_tpr_at_low_fpr:g}",
                f"TPR at FPR ≤ {level} = {tpr:.3f} (lower {confidence:.0%} bound {lower:.3f}) "
                f"exceeds the limit {limit.max_tpr_at_low_fpr:g}",
                Evidence(
                    what_zh=f"低误报率 (FPR ≤ {level}) 下的 TPR 超限",
                    what_en=f"TPR at low FPR (≤ {level}) over the limit",
                    value=f"{tpr:.4f} (≥ {lower:.4f}) > {limit.max_tpr_at_low_fpr:g}",
                ),
            )
    stated = statement.epsilon if statement.kind is not PrivacyKind.NONE else None
    kind_zh, kind_en = _kind(statement)
    if stated is not None and bound.epsilon > stated:
        found.add(
            f"经验 ε 下界 {bound.epsilon:.2f} 超过{kind_zh}的 ε = {stated:g}：该声明被证伪",
            f"the empirical ε lower bound {bound.epsilon:.2f} exceeds the stated ε = {stated:g} "
            f"({kind_en}): the statement is proven false",
            Evidence(
                what_zh=f"经验 ε 下界超过声明的 ε（{kind_zh}），声明不成立",
                what_en=f"empirical ε lower bound above the stated ε ({kind_en}): "
                "the statement is false",
                value=f"ε ≥ {bound.epsilon:.3f} > {stated:g} "
                f"(confidence {bound.confidence:g}, δ = {bound.delta:g})",
                # the threshold itself is one example's score, a holdout row's maybe: not shown
                where=f"{bound.attack}, {bound.direction} at one threshold: "
                f"TPR {bound.tpr:.3f} / FPR {bound.fpr:.3f} on {bound.members} + "
                f"{bound.non_members} held-out examples",
            ),
        )
    return found


def _passing_summary(
    audit: MembershipAudit, max_auc: float, statement: PrivacyStatement, confidence: float
) -> tuple[str, str]:
    summary, bound = audit.summary, audit.bound
    lower, upper = audit.auc_interval(confidence)
    kind_zh, kind_en = _kind(statement)
    if statement.kind is not PrivacyKind.NONE and statement.epsilon is not None:
        bound_zh = f"经验 ε 下界 {bound.epsilon:.2f} 不超过{kind_zh}的 ε = {statement.epsilon:g}"
        bound_en = (
            f"the empirical ε lower bound {bound.epsilon:.2f} is within the stated "
            f"ε = {statement.epsilon:g} ({kind_en})"
        )
    else:
        bound_zh = f"经验 ε 下界 {bound.epsilon:.2f}（模型未声明 ε）"
        bound_en = f"empirical ε lower bound {bound.epsilon:.2f} (no ε stated)"
    return (
        f"最强攻击 AUC = {summary.auc:.3f}（{confidence:.0%} 置信区间 {lower:.3f}–{upper:.3f}，"
        f"限值 {max_auc:.2f}），FPR ≤ 1% 时 TPR = {summary.tpr_at_1pct:.3f}；{bound_zh}。",
        f"Strongest attack AUC = {summary.auc:.3f} ({confidence:.0%} bounds "
        f"{lower:.3f}–{upper:.3f}, limit {max_auc:.2f}), TPR at 1% FPR = "
        f"{summary.tpr_at_1pct:.3f}; {bound_en}.",
    )


@check("indirect.membership", RiskFactor.INDIRECT)
def membership_inference(ctx: CheckContext) -> CheckResult:
    scenario, statement, thresholds = ctx.scenario, ctx.submission.privacy, ctx.thresholds
    manifest = read_manifest(ctx.view_dir)
    train = pl.read_parquet(ctx.view_dir / TRAIN_FILE)
    holdout = pl.read_parquet(ctx.view_dir / HOLDOUT_FILE)
    try:
        target = load_target(ctx, manifest)
        target.score(train.head(2))  # a model that cannot score the view fails here
    except Exception as exc:  # the partner's model, not the check, is at fault
        return _result(
            "indirect.membership",
            Status.FAIL,
            _MI_TITLE,
            (
                f"无法在授权视图上运行该模型，因而无法审计其成员推断风险：{exc}",
                "The model cannot be run on the authorised view, so its membership "
                f"inference risk cannot be audited: {exc}",
            ),
            remedies=(
                "提交以授权视图特征为输入、由 shuyu.train 导出的 ONNX 模型（参见 scope.inputs）。",
                "Submit an ONNX model exported by shuyu.train whose inputs are the view's "
                "features (see scope.inputs).",
            ),
        )
    features = None if set(target.features) == set(manifest.feature_names) else target.features
    audit = audit_membership(
        target.score,
        train,
        holdout,
        label=manifest.label.name,
        task=manifest.label.task,
        train_reference=reference_trainer(manifest, ctx.view_dir, features=features),
        reference_models=thresholds.attack_reference_models,
        delta=statement.delta if statement.delta is not None else scenario.dp.delta,
        confidence=thresholds.attack_confidence,
        min_non_members=thresholds.attack_min_non_members,
        seed=_seed(ctx),
    )
    limits = _limits(ctx)
    found = _violations(audit, limits, statement, thresholds.attack_confidence)
    attacks = [
        Evidence(
            what_zh=f"攻击 {a.attack}",
            what_en=f"attack {a.attack}",
            value=f"AUC {a.auc:.4f} (p = {a.auc_p_value:.2g}); TPR@1% {a.tpr_at_1pct:.4f}, "
            f"TPR@0.1% {a.tpr_at_01pct:.4f}, TPR@0% {a.tpr_at_0:.4f}",
            where=f"{a.members} members (train) vs {a.non_members} non-members (holdout)",
        )
        for a in audit.attacks
    ]
    if found.evidence:
        status = Status.FAIL
        summary = ("；".join(found.zh) + "。", _sentence("; ".join(found.en)) + ".")
    else:
        status = Status.PASS
        max_auc = min(limit.max_auc for limit in limits)
        confidence = thresholds.attack_confidence
        summary = _passing_summary(audit, max_auc, statement, confidence)
        if audit.auc_interval(confidence)[1] > max_auc:
            # not shown over the limit, nor under it: the reviewers must know it is open
            status = Status.WARN
            n = audit.summary.members + audit.summary.non_members
            summary = (
                summary[0] + f"仅 {n} 个评估样本，无法证明 AUC 低于限值 {max_auc:.2f}。",
                summary[1] + f" With only {n} evaluated examples the AUC is not shown "
                f"to be under the limit {max_auc:.2f}.",
            )
        unestimable = [limit for limit in limits if not tpr_limit_estimable(audit, limit)]
        if unestimable:
            status = Status.WARN
            level = f"{100 * unestimable[0].low_fpr:g}%"
            summary = (
                summary[0] + f"非成员太少，FPR ≤ {level} 时的 TPR 限值无法检验。",
                summary[1] + f" Too few non-members to test the TPR limit at FPR ≤ {level}.",
            )
        if not all(a.tpr_at_01pct_estimable for a in audit.attacks):
            status = Status.WARN
            n, minimum = audit.summary.non_members, thresholds.attack_min_non_members
            summary = (
                summary[0] + f"非成员仅 {n} 个（少于 {minimum}），FPR 0.1% 处的 TPR 无法可靠估计。",
                summary[1] + f" Only {n} non-members (fewer than {minimum}): TPR at 0.1% "
                "FPR is not estimable.",
            )
    result = _result(
        "indirect.membership",
        status,
        _MI_TITLE,
        summary,
        evidence=found.evidence + attacks,
        remedies=_MI_REMEDY,
        figures=_figures(audit, limits, thresholds.attack_confidence),
    )
    return result.model_copy(update={"membership": audit.summary})
