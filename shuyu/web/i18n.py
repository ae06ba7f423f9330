"""The service's words in Chinese (the default) and English, in one table.

The language is `?lang=en|zh` (remembered in a cookie), else the browser's
Accept-Language when it prefers English, else Chinese.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

TEXT: dict[str, tuple[str, str]] = {
    "title": ("数域 · 公共数据授权运营", "shuyu · authorised public data operation"),
    "motto": ("原始数据不出域，数据可用不可见", "Raw data never leaves the domain"),
    "my_submissions": ("我的提交", "My submissions"),
    "queue": ("待我评审", "Awaiting my review"),
    "submit": ("提交模型审核", "Submit a model for review"),
    "submission": ("提交", "Submission"),
    "scenario": ("场景", "Scenario"),
    "partner": ("合作方", "Partner"),
    "submitter": ("提交人", "Submitter"),
    "state": ("状态", "State"),
    "level": ("当前评审级别", "Review level"),
    "selfcheck": ("安全自查", "Security self-check"),
    "report": ("自查报告", "Self-check report"),
    "notebook": ("笔记本", "Notebook"),
    "privacy": ("差分隐私", "Differential privacy"),
    "certified": ("平台认证（平台按规格训练）", "certified (trained by the platform)"),
    "claimed": ("合作方自述（未经平台训练）", "the partner's claim (not trained by the platform)"),
    "none": ("未声明", "none claimed"),
    "votes": ("评审意见", "Reviews"),
    "history": ("流转记录", "History"),
    "earlier": ("该合作方同场景的其他提交", "The partner's other submissions for this scenario"),
    "approve": ("同意", "Approve"),
    "reject": ("驳回", "Reject"),
    "comment": ("意见", "Comment"),
    "withdraw": ("撤回", "Withdraw"),
    "run_id": ("MLflow 运行 ID", "MLflow run id"),
    "note": ("说明", "Note"),
    "spec": ("训练规格（可选，YAML/JSON）", "Training spec (optional, YAML/JSON)"),
    "send": ("提交", "Submit"),
    "notices": ("通知", "Notices"),
    "nothing": ("暂无", "Nothing yet"),
    "model": ("注册模型", "Registered model"),
    "forbidden": ("无权访问", "Forbidden"),
    "not_found": ("未找到", "Not found"),
    "console": ("管理控制台", "Console"),
    "audit": ("审计日志", "Audit log"),
    "metrics": (
        "训练指标与参数（合作方记录）",
        "Metrics and parameters (as the partner logged them)",
    ),
    "production": ("生产运行", "Production"),
    "production_jobs": ("生产任务", "Production jobs"),
    "production_runs": ("运行记录", "Runs"),
    "production_run": ("生产运行", "Production run"),
    "schedule": ("计划", "Schedule"),
    "by_hand": ("手动", "by hand"),
    "disabled": ("已停用", "disabled"),
    "run_now": ("立即运行", "Run now"),
    "job": ("任务", "Job"),
    "duration": ("耗时", "Duration"),
    "reason": ("原因", "Reason"),
    "attempt": ("第几次", "attempt"),
    "outputs": ("产出文件", "Outputs"),
    "quarantine_decision": ("隔离产出的审核决定", "Decision on the quarantined outputs"),
    "release": ("发布", "Release"),
    "discard": ("销毁", "Discard"),
    "log": ("运行日志", "Log"),
    "language": ("English", "中文"),
}


def language(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get("lang", "")
    if chosen in {"zh", "en"}:
        return chosen
    accept = request.headers.get("accept-language", "").lower()
    return "en" if accept.startswith("en") else "zh"


def translator(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = TEXT.get(key)
        return pair[index] if pair else key

    return t
