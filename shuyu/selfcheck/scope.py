"""超出用途和使用范围 — use beyond the authorised purpose and scope.

Everything here is read from what the platform holds, never from what the partner
logged about it: the model's inputs from the ONNX graph itself, the view's digest from
`view.json`, the authorisation and the partners from `policies/`. The partner's run
record is only compared against them.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from shuyu.data.view_manifest import ViewManifest, read_manifest
from shuyu.selfcheck.context import CheckContext, DatasetInput
from shuyu.selfcheck.registry import check
from shuyu.selfcheck.result import CheckResult, Evidence, RiskFactor, Status

MODEL_FILE = "model.onnx"
DIGEST_CHARS = 36
"""MLflow caps a dataset digest at 36 characters, so a run logs the view's train_sha256
cut to its first 36 (shuyu.train.tracking); a shorter digest would be too easy to match."""
TRAIN_SHA256_TAG = "shuyu.train_sha256"


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
        factor=RiskFactor.SCOPE,
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


# ---------------------------------------------------------------- scope.inputs


def model_input_names(model_path: Path, *, max_bytes: int) -> list[str]:
    """The graph's real inputs (initializers listed as inputs by old exporters excluded),
    read without following external-data references."""
    size = model_path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{model_path.name} is {size} bytes, over the limit of {max_bytes}")
    proto = onnx.load(str(model_path), load_external_data=False)
    initialisers = {i.name for i in proto.graph.initializer}
    return [i.name for i in proto.graph.input if i.name not in initialisers]


_INPUTS_TITLE = ("模型输入字段在授权范围内", "Model inputs within the authorised fields")


@check("scope.inputs", RiskFactor.SCOPE)
def inputs_within_scope(ctx: CheckContext) -> CheckResult:
    scenario = ctx.scenario
    authorised = scenario.feature_names
    path = ctx.model_dir / MODEL_FILE
    remedy_missing = (
        "以 ONNX 格式记录模型（shuyu.train 的导出即是）后重新提交。",
        "Log the model as ONNX (shuyu.train's export does) and submit again.",
    )
    if not path.is_file():
        return _result(
            "scope.inputs",
            Status.FAIL,
            _INPUTS_TITLE,
            (
                f"快照中没有 {MODEL_FILE}，无法确认模型使用的字段。",
                f"The snapshot has no {MODEL_FILE}: the fields the model uses cannot be read.",
            ),
            remedies=remedy_missing,
        )
    try:
        names = model_input_names(path, max_bytes=ctx.thresholds.model_max_bytes)
    except Exception as exc:  # an unreadable model is the partner's to fix, not a crash
        return _result(
            "scope.inputs",
            Status.FAIL,
            _INPUTS_TITLE,
            (
                f"无法读取 {MODEL_FILE} 的输入：{exc}",
                f"The inputs of {MODEL_FILE} cannot be read: {exc}",
            ),
            remedies=remedy_missing,
        )
    outside = [n for n in names if n not in authorised]
    figures = {"inputs": float(len(names)), "outside_scope": float(len(outside))}
    if outside:
        label = scenario.label.name
        evidence = [
            Evidence(
                what_zh="标签字段被用作模型输入" if n == label else "授权视图之外的输入字段",
                what_en="the label is a model input"
                if n == label
                else "an input outside the authorised view",
                value=n,
                where=f"{MODEL_FILE}: graph.input",
            )
            for n in outside
        ]
        return _result(
            "scope.inputs",
            Status.FAIL,
            _INPUTS_TITLE,
            (
                f"模型有 {len(outside)} 个输入不在场景 {scenario.id} 的授权字段内："
                f"{'、'.join(outside)}。",
                f"{len(outside)} of the model's inputs are not authorised fields of scenario "
                f"{scenario.id}: {', '.join(outside)}.",
            ),
            evidence=evidence,
            remedies=(
                "只使用授权视图中的特征字段重新训练并提交；如确需新字段，请先申请变更场景授权。",
                "Retrain on the authorised view's features only; a new field needs an "
                "amended scenario authorisation first.",
            ),
            figures=figures,
        )
    return _result(
        "scope.inputs",
        Status.PASS,
        _INPUTS_TITLE,
        (
            f"模型的 {len(names)} 个输入（读自 ONNX 计算图）均为场景 {scenario.id} 的授权字段。",
            f"All {len(names)} model inputs (read from the ONNX graph) are authorised fields "
            f"of scenario {scenario.id}.",
        ),
        figures=figures,
    )


# ---------------------------------------------------------------- scope.datasets


def _is_this_view(dataset: DatasetInput, manifest: ViewManifest) -> tuple[bool, str]:
    """Whether a logged dataset input is the scenario's train split, and if not why."""
    if dataset.name != manifest.scenario:
        return False, "name"
    digest = dataset.digest.lower()
    if len(digest) < DIGEST_CHARS or not manifest.train_sha256.startswith(digest):
        return False, "digest"
    full = dataset.tags.get(TRAIN_SHA256_TAG)
    if full is not None and full.lower() != manifest.train_sha256:
        return False, "tag"
    return True, ""


_WHY = {
    "name": ("数据集名称不是本场景", "the dataset's name is not this scenario"),
    "digest": (
        "摘要与本场景训练集 (view.json 的 train_sha256) 不符",
        "its digest does not match this scenario's train split (view.json train_sha256)",
    ),
    "tag": (
        f"标签 {TRAIN_SHA256_TAG} 与本场景训练集不符",
        f"its {TRAIN_SHA256_TAG} tag does not match this scenario's train split",
    ),
}
_DATASETS_TITLE = ("训练数据集为本场景授权视图", "Training datasets are the scenario's view")


@check("scope.datasets", RiskFactor.SCOPE)
def datasets_are_the_view(ctx: CheckContext) -> CheckResult:
    manifest = read_manifest(ctx.view_dir)
    if manifest.scenario != ctx.submission.scenario:
        raise ValueError(
            f"the check runner mounted the view of {manifest.scenario!r}, "
            f"not of {ctx.submission.scenario!r}"
        )
    run = ctx.submission.run
    remedies = (
        "只用本场景授权视图训练（shuyu.train 会把它记为运行的数据集输入），不要引入其他数据集。",
        "Train on this scenario's authorised view only (shuyu.train logs it as the run's "
        "dataset input); bring in no other dataset.",
    )
    if not run.dataset_inputs:
        return _result(
            "scope.datasets",
            Status.FAIL,
            _DATASETS_TITLE,
            (
                "运行未记录任何数据集输入：训练数据来源无法核实。",
                "The run logged no dataset input: where its training data came from cannot "
                "be verified.",
            ),
            remedies=remedies,
        )
    foreign: list[Evidence] = []
    for dataset in run.dataset_inputs:
        ok, why = _is_this_view(dataset, manifest)
        if not ok:
            zh, en = _WHY[why]
            foreign.append(
                Evidence(
                    what_zh=f"非本场景的数据集输入：{zh}",
                    what_en=f"a dataset input that is not this scenario's view: {en}",
                    value=f"{dataset.name} @ {dataset.digest}",
                    where=f"run {run.run_id}: inputs.dataset_inputs",
                )
            )
    scenario_tag = run.tags.get("shuyu.scenario")
    if scenario_tag is not None and scenario_tag != manifest.scenario:
        foreign.append(
            Evidence(
                what_zh="运行标签 shuyu.scenario 指向其他场景",
                what_en="the run's shuyu.scenario tag names another scenario",
                value=scenario_tag,
                where=f"run {run.run_id}: tags",
            )
        )
    figures = {
        "dataset_inputs": float(len(run.dataset_inputs)),
        "foreign_inputs": float(len(foreign)),
    }
    if foreign:
        return _result(
            "scope.datasets",
            Status.FAIL,
            _DATASETS_TITLE,
            (
                f"运行记录了 {len(foreign)} 项不属于场景 {manifest.scenario} 授权视图的数据。",
                f"The run records {len(foreign)} item(s) of data that are not scenario "
                f"{manifest.scenario}'s authorised view.",
            ),
            evidence=foreign,
            remedies=remedies,
            figures=figures,
        )
    return _result(
        "scope.datasets",
        Status.PASS,
        _DATASETS_TITLE,
        (
            f"运行的数据集输入仅为场景 {manifest.scenario} 的训练集，摘要与 view.json 一致。",
            f"The run's only dataset input is scenario {manifest.scenario}'s train split, "
            "its digest matching view.json.",
        ),
        evidence=[
            Evidence(
                what_zh="训练集摘要",
                what_en="train split digest",
                value=manifest.train_sha256,
                where="view.json: train_sha256",
            )
        ],
        figures=figures,
    )


# ---------------------------------------------------------------- scope.authorisation

_AUTH_TITLE = ("场景授权在有效期内", "Scenario authorisation in force")


@check("scope.authorisation", RiskFactor.SCOPE)
def authorisation_in_force(ctx: CheckContext) -> CheckResult:
    scenario = ctx.scenario
    period = f"{scenario.granted_on} – {scenario.expires_on}"
    evidence = [Evidence(what_zh="授权期", what_en="authorised period", value=period)]
    figures = {"days_left": float((scenario.expires_on - ctx.today).days)}
    if scenario.is_valid_on(ctx.today):
        return _result(
            "scope.authorisation",
            Status.PASS,
            _AUTH_TITLE,
            (
                f"场景 {scenario.id} 的授权在 {ctx.today} 有效（{period}）。",
                f"Scenario {scenario.id} is authorised on {ctx.today} ({period}).",
            ),
            evidence=evidence,
            figures=figures,
        )
    if ctx.today < scenario.granted_on:
        zh, en = "尚未生效", "is not yet in force"
    else:
        zh, en = "已过期", "has expired"
    return _result(
        "scope.authorisation",
        Status.FAIL,
        _AUTH_TITLE,
        (
            f"场景 {scenario.id} 的授权{zh}（{period}，检查日 {ctx.today}）。",
            f"Scenario {scenario.id}'s authorisation {en} ({period}; checked on {ctx.today}).",
        ),
        evidence=evidence,
        remedies=(
            "授权有效期内方可提交；请联系数据资源管理局办理授权续期。",
            "Submissions are accepted only while the authorisation is in force; ask the "
            "data bureau to renew it.",
        ),
        figures=figures,
    )


# ---------------------------------------------------------------- scope.submitter

_SUBMITTER_TITLE = ("提交人属于授权合作方", "Submitter belongs to an authorised partner")


@check("scope.submitter", RiskFactor.SCOPE)
def submitter_is_authorised(ctx: CheckContext) -> CheckResult:
    submission, scenario, policies = ctx.submission, ctx.scenario, ctx.policies
    problems: list[Evidence] = []
    partner = policies.partner_of(submission.submitter)
    if partner is None:
        problems.append(
            Evidence(
                what_zh="提交人不是任何合作方的用户",
                what_en="the submitter is no partner's user",
                value=submission.submitter,
                where="policies/partners.yaml",
            )
        )
    else:
        if partner.id != submission.partner:
            problems.append(
                Evidence(
                    what_zh="提交人属于另一合作方",
                    what_en="the submitter belongs to another partner",
                    value=f"{submission.submitter} → {partner.id} (submitted as "
                    f"{submission.partner})",
                    where="policies/partners.yaml",
                )
            )
        if partner.id not in scenario.partners:
            problems.append(
                Evidence(
                    what_zh="提交人所属合作方未获本场景授权",
                    what_en="the submitter's partner is not authorised for this scenario",
                    value=f"{partner.id} ∉ {', '.join(scenario.partners)}",
                    where=f"policies/scenarios/{scenario.id}.yaml: partners",
                )
            )
    run_user = submission.run.user_id
    if run_user != submission.submitter:
        owner = policies.partner_of(run_user)
        problems.append(
            Evidence(
                what_zh="运行不是提交人本人所做",
                what_en="the run was not made by the submitter",
                value=f"run user {run_user} ({owner.id if owner else 'no partner'}) ≠ "
                f"submitter {submission.submitter}",
                where=f"run {submission.run.run_id}: user_id",
            )
        )
    if problems:
        return _result(
            "scope.submitter",
            Status.FAIL,
            _SUBMITTER_TITLE,
            (
                f"提交人与运行的归属不符合场景 {scenario.id} 的授权（{len(problems)} 项）。",
                f"The submitter and the run's owner do not fit scenario {scenario.id}'s "
                f"authorisation ({len(problems)} finding(s)).",
            ),
            evidence=problems,
            remedies=(
                "只能提交本人在本场景授权合作方账号下完成的运行。",
                "Submit only runs you made yourself, as a user of a partner authorised for "
                "the scenario.",
            ),
        )
    assert partner is not None
    return _result(
        "scope.submitter",
        Status.PASS,
        _SUBMITTER_TITLE,
        (
            f"提交人 {submission.submitter} 属于授权合作方 {partner.id}，运行由其本人完成。",
            f"Submitter {submission.submitter} is a user of authorised partner {partner.id} "
            "and made the run.",
        ),
    )
