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
    "annual": ("年度评估", "Annual evaluation"),
    "year": ("年度", "Year"),
    "show": ("查看", "Show"),
    "download_html": ("下载报告（HTML）", "Download the report (HTML)"),
    "download_json": ("下载数据（JSON）", "Download the figures (JSON)"),
    "enter_manual": ("填报人工指标", "Enter a manual figure"),
    "indicator": ("指标", "Indicator"),
    "value": ("数值或说明", "Value"),
    "value_hint": (
        "百分比填 0–100，金额填元，评估结果填：",
        "a percent 0–100, an amount in CNY, or a result:",
    ),
    "source_note": ("来源说明（问卷、第三方报告等）", "Source (survey, third-party report, …)"),
    "save": ("保存（记入审计日志）", "Save (audited)"),
    "lifecycle": ("授权与协议期限", "Authorisations and agreements"),
    "lifecycle_note": (
        "授权期满前六个月起提示续期；到期后沙箱停止、MLflow 权限收回、生产计划暂停、"
        "协议密钥吊销，均自动执行并记入审计日志。",
        "Renewal is due from six months before the end; at expiry sandboxes stop, MLflow "
        "grants are revoked, production schedules paused and an agreement's keys revoked, "
        "automatically and audited.",
    ),
    "kind": ("类别", "Kind"),
    "item": ("名称", "Name"),
    "holders": ("被授权方", "Held by"),
    "valid_period": ("有效期", "Valid"),
    "days_left": ("剩余天数", "Days left"),
    "renew_from": ("续期提示自", "renewal due from"),
    "authorisation": ("场景授权", "authorisation"),
    "agreement": ("使用协议", "agreement"),
    # the product pages (数据产品)
    "products": ("数据产品", "Data products"),
    "products_intro": (
        "以 API 接口形式向使用单位提供的数据产品：使用单位、协议、密钥、事中检查与对账",
        "Data products delivered by API: consumers, agreements, keys, 事中检查 and statements",
    ),
    "product": ("产品", "Product"),
    "served_version": ("当前服务版本", "Version served"),
    "not_served": (
        "未服务（尚无已批准并发布的版本）",
        "not served (no approved version published)",
    ),
    "consent_required": ("需个人授权", "consent required"),
    "consumers": ("使用单位", "Consumers"),
    "consumer": ("使用单位", "Consumer"),
    "name": ("名称", "Name"),
    "bank": ("银行", "bank"),
    "insurer": ("保险机构", "insurer"),
    "other": ("其他", "other"),
    "agreements": ("使用协议", "Agreements"),
    "keys": ("API 密钥", "API keys"),
    "active": ("有效", "active"),
    "suspended": ("已暂停", "suspended"),
    "terminated": ("已终止", "terminated"),
    "revoked": ("已吊销", "revoked"),
    "blocked": ("已拦截", "blocked"),
    "replaced": ("已轮换", "replaced"),
    "expired": ("已过期", "expired"),
    "suspend": ("暂停", "Suspend"),
    "reinstate": ("恢复", "Reinstate"),
    "terminate": ("终止", "Terminate"),
    "purposes": ("用途", "Purposes"),
    "quota": ("配额", "Quota"),
    "day": ("日", "day"),
    "month": ("月", "month"),
    "call": ("次", "call"),
    "regions": ("区域", "Regions"),
    "revoke": ("吊销", "Revoke"),
    "rotate": ("轮换", "Rotate"),
    "issue_key": ("签发新密钥", "Issue a key"),
    "new_consumer": ("登记使用单位", "Register a consumer"),
    "create": ("创建", "Create"),
    "set_agreement": ("设置使用协议", "Set an agreement"),
    "valid_from": ("生效日", "Valid from"),
    "valid_until": ("截止日", "Valid until"),
    "save_agreement": ("保存", "Save"),
    "key_issued": ("已签发 API 密钥", "API key issued"),
    "key_id": ("密钥编号", "Key id"),
    "key_once": (
        "密钥仅显示这一次，平台只保存其哈希值：请立即通过安全渠道交付使用单位。",
        "The key is shown this once; the platform keeps only its hash: hand it to the "
        "consumer now, through a secure channel.",
    ),
    "back": ("返回", "Back"),
    "cases": ("事中检查案件", "事中检查 cases"),
    "cases_intro": (
        "规则命中即自动拦截密钥并立案，由管理员人工核查后结案",
        "A rule's hit blocks the key at once and opens a case; administrators check and close it",
    ),
    "open": ("待核查", "open"),
    "in_review": ("核查中", "in review"),
    "closed": ("已结案", "closed"),
    "all": ("全部", "all"),
    "case": ("案件", "Case"),
    "rule": ("规则", "Rule"),
    "subject": ("对象", "Subject"),
    "evidence": ("证据", "Evidence"),
    "take_case": ("开始核查", "Take"),
    "close_case": ("结案", "Close"),
    "cleared": ("排除异常，解除拦截", "cleared: unblock"),
    "confirmed": ("确认违规，吊销密钥", "confirmed: revoke"),
    "statements": ("用量对账", "Usage statements"),
    "calls": ("调用次数", "Calls"),
    "billable": ("计费次数", "Billable"),
    "amount": ("金额", "Amount"),
    "download": ("导出", "Export"),
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
