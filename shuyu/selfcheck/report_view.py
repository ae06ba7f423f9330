"""What the self-check report shows, as functions the report notebook calls
(notebooks/reports/selfcheck_report.ipynb stays a thin sequence of these).

Every section is bilingual; pictures where a reviewer would rather look than read: the
four risk factors' status table, ε spent over training against the budget, the
membership-inference ROC on log-log axes with the policy's limit marked, and the
distribution of members' and non-members' scores.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from shuyu.policy.models import Policies
from shuyu.selfcheck.result import (
    CheckResult,
    PrivacyKind,
    RiskFactor,
    SelfCheckReport,
    Status,
)

STATUS_ZH = {
    Status.PASS: "通过",
    Status.FAIL: "未通过",
    Status.WARN: "提示",
    Status.ERROR: "未能运行",
}
STATUS_COLOUR = {
    Status.PASS: "#c6f7e2",
    Status.FAIL: "#ffd0d0",
    Status.WARN: "#fff3c4",
    Status.ERROR: "#e4e7eb",
}
KIND_TEXT = {
    PrivacyKind.CERTIFIED: ("平台认证：模型由平台按训练规格训练，ε 来自平台的隐私会计",
                            "certified: the platform trained the model from the spec; ε is "
                            "the platform accountant's"),
    PrivacyKind.CLAIMED: ("合作方自述：模型由合作方自己的代码训练，ε 为其声明，未经平台训练验证",
                          "claimed: the partner's own code trained the model; ε is their "
                          "statement, not verified by platform training"),
    PrivacyKind.NONE: ("未声明差分隐私", "no differential privacy stated"),
}  # fmt: skip


def load(path: str | Path) -> SelfCheckReport:
    return SelfCheckReport.model_validate_json(Path(path).read_text(encoding="utf-8"))


def _worst(results: list[CheckResult]) -> Status:
    order = [Status.ERROR, Status.FAIL, Status.WARN, Status.PASS]
    found = {r.status for r in results}
    return next((s for s in order if s in found), Status.PASS)


def header_html(report: SelfCheckReport) -> str:
    status = report.status
    return (
        f"<p><b>提交 Submission</b> {html.escape(report.submission_id)} · "
        f"<b>场景 Scenario</b> {html.escape(report.scenario)} · "
        f"<b>合作方 Partner</b> {html.escape(report.partner)} · "
        f"<b>提交人 Submitter</b> {html.escape(report.submitter)} · "
        f"<b>运行 Run</b> <code>{html.escape(report.run_id)}</code></p>"
        f'<p style="font-size:1.3em;background:{STATUS_COLOUR[status]};padding:.4em">'
        f"总体结论 Overall: <b>{STATUS_ZH[status]} / {status.value}</b></p>"
    )


def factor_table_html(report: SelfCheckReport) -> str:
    rows = []
    for factor in RiskFactor:
        results = report.by_factor(factor)
        status = _worst(results) if results else Status.ERROR
        checks = ", ".join(f"{html.escape(r.id)} ({STATUS_ZH[r.status]})" for r in results)
        rows.append(
            f'<tr style="background:{STATUS_COLOUR[status]}"><td>{factor.zh}<br>'
            f"<small>{factor.en}</small></td><td><b>{STATUS_ZH[status]}</b> "
            f"{status.value}</td><td>{checks}</td></tr>"
        )
    return (
        "<table><tr><th>风险因素 Risk factor</th><th>结论 Status</th>"
        "<th>检查 Checks</th></tr>" + "".join(rows) + "</table>"
    )


def result_html(result: CheckResult) -> str:
    evidence = "".join(
        f"<tr><td>{html.escape(e.what_zh)}<br><small>{html.escape(e.what_en)}</small></td>"
        f"<td><code>{html.escape(e.value)}</code></td><td>{html.escape(e.where)}</td></tr>"
        for e in result.evidence[:50]
    )
    more = f"<p>… {len(result.evidence) - 50} more</p>" if len(result.evidence) > 50 else ""
    remedy = (
        f"<p><b>整改建议 Remedy</b>：{html.escape(result.remedy_zh)}<br>"
        f"<small>{html.escape(result.remedy_en)}</small></p>"
        if result.remedy_zh or result.remedy_en
        else ""
    )
    table = (
        "<table><tr><th>发现 Finding</th><th>值（已遮蔽） Value (masked)</th>"
        f"<th>位置 Where</th></tr>{evidence}</table>{more}"
        if evidence
        else ""
    )
    return (
        f'<h3 style="background:{STATUS_COLOUR[result.status]}">{html.escape(result.id)} · '
        f"{html.escape(result.title_zh)} / {html.escape(result.title_en)} — "
        f"{STATUS_ZH[result.status]}</h3>"
        f"<p>{html.escape(result.summary_zh)}<br><small>{html.escape(result.summary_en)}"
        f"</small></p>{table}{remedy}"
    )


def privacy_html(report: SelfCheckReport, policies: Policies) -> str:
    budget = policies.scenario(report.scenario).dp
    zh, en = KIND_TEXT[report.privacy.kind]
    eps = report.privacy.epsilon
    stated = f"ε = {eps:.4g}, δ = {report.privacy.delta:g}" if eps is not None else "—"
    return (
        f"<p><b>{html.escape(zh)}</b><br><small>{html.escape(en)}</small></p>"
        f"<p>{stated}；场景预算 scenario budget: ε ≤ {budget.epsilon:g}, "
        f"δ ≤ {budget.delta:g}</p>"
    )


def plot_epsilon(report: SelfCheckReport, policies: Policies) -> Any:
    """ε spent over training steps, against the scenario's budget."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    budget = policies.scenario(report.scenario).dp.epsilon
    figure, axes = plt.subplots(figsize=(6, 3.2))
    points = report.privacy.epsilon_by_step
    if points:
        axes.plot(
            [s for s, _ in points], [e for _, e in points], marker="o", label="ε spent 已消耗"
        )
    axes.axhline(budget, color="#c53030", linestyle="--", label=f"budget 预算 ε = {budget:g}")
    axes.set_xlabel("training step 训练步数")
    axes.set_ylabel("ε")
    axes.set_ylim(0, max(budget, *(e for _, e in points)) * 1.15 if points else budget * 1.15)
    axes.legend(loc="lower right")
    axes.set_title("ε over training 训练过程中的隐私消耗")
    figure.tight_layout()
    return figure


def membership_html(report: SelfCheckReport) -> str:
    summary = report.membership
    if summary is None:
        return "<p>未运行成员推断审计 / no membership-inference audit ran</p>"
    return (
        "<table><tr><th>成员 Members</th><th>非成员 Non-members</th><th>AUC (p)</th>"
        "<th>TPR@1%</th><th>TPR@0.1%</th><th>TPR@0%</th><th>经验 ε 下界 ε lower bound</th></tr>"
        f"<tr><td>{summary.members}</td><td>{summary.non_members}</td>"
        f"<td>{summary.auc:.3f} ({summary.auc_p_value:.2g})</td><td>{summary.tpr_at_1pct:.4f}</td>"
        f"<td>{summary.tpr_at_01pct:.4f}</td><td>{summary.tpr_at_0:.4f}</td>"
        f"<td>{summary.epsilon_lower_bound:.3f}</td></tr></table>"
    )


def plot_roc(report: SelfCheckReport, policies: Policies) -> Any:
    """The attacks' ROC on log-log axes, the chance line and the policy's TPR limit at
    its low FPR marked."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    limits = policies.scenario(report.scenario).membership_inference
    figure, axes = plt.subplots(figsize=(5, 5))
    floor = 1e-4
    if report.membership is not None:
        for curve in report.membership.curves:
            fpr = [max(f, floor) for f in curve.fpr]
            tpr = [max(t, floor) for t in curve.tpr]
            axes.plot(fpr, tpr, label=curve.attack)
    axes.plot([floor, 1], [floor, 1], color="#9aa5b1", linestyle=":", label="chance 随机猜测")
    axes.plot(
        [limits.low_fpr],
        [limits.max_tpr_at_low_fpr],
        marker="X",
        markersize=12,
        color="#c53030",
        linestyle="none",
        label=f"limit 限值 TPR ≤ {limits.max_tpr_at_low_fpr:g} @ FPR {limits.low_fpr:g}",
    )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(floor, 1)
    axes.set_ylim(floor, 1)
    axes.set_xlabel("false positive rate 误报率")
    axes.set_ylabel("true positive rate 检出率")
    axes.set_title("membership inference ROC 成员推断 ROC")
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    return figure


def plot_scores(report: SelfCheckReport) -> Any:
    """Members' and non-members' attack scores (binned, at least ten rows a bin)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(6, 3.2))
    summary = report.membership
    if summary is not None and (summary.member_scores or summary.non_member_scores):
        bins = 40
        axes.hist(summary.member_scores, bins=bins, alpha=0.6, label="members 成员（训练集）")
        axes.hist(
            summary.non_member_scores, bins=bins, alpha=0.6, label="non-members 非成员（留出集）"
        )
        axes.legend()
    axes.set_xlabel("log p(true label) 真实标签的对数概率")
    axes.set_ylabel("rows 行数")
    axes.set_title("scores of members vs non-members 成员与非成员的得分分布")
    figure.tight_layout()
    return figure


def inputs_html(report: SelfCheckReport) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td><code>{digest}</code></td></tr>"
        for name, digest in sorted(report.inputs_sha256.items())
    )
    return f"<table><tr><th>文件 File</th><th>sha256</th></tr>{rows}</table>"
