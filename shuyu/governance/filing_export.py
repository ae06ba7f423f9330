"""A filing as the documents the bureau receives: HTML in Chinese (the filing itself)
or English, and JSON (the filing record with its content, which reads back as the
same `FilingView`). PDF is not produced: printing the HTML is the PDF."""

from __future__ import annotations

from shuyu.governance.documents import TEMPLATES, in_language
from shuyu.governance.filing_store import FilingView

LABELS: dict[str, tuple[str, str]] = {
    "title": ("公共数据产品和服务登记备案表", "Filing record of a public data product"),
    "number": ("备案编号", "Filing no."),
    "sequence": ("第几次备案", "filing"),
    "filed_at": ("备案时间", "filed at"),
    "filed_by": ("备案人", "filed by"),
    "product": ("产品基本信息", "The product"),
    "scenario": ("场景", "Scenario"),
    "industry_development": ("产业发展、行业发展类", "industry development"),
    "public_governance": ("公共治理、公益服务类", "public governance"),
    "partner": ("合伙人", "Partner"),
    "authorised": ("授权期限", "Authorised"),
    "purpose": ("场景用途", "Purpose"),
    "application": ("应用场景", "Application"),
    "scope": ("使用范围及方式", "Scope and manner of use"),
    "api_product": ("接口产品", "API product"),
    "identifier": ("主体标识", "Subject identifier"),
    "purposes": ("允许用途", "Purposes"),
    "consent": ("需个人授权", "Consent required"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "pricing": ("定价依据", "Pricing basis"),
    "datasets": ("使用的数据资源及字段", "Data resources and fields used"),
    "dataset": ("数据资源", "Data resource"),
    "provider": ("数据提供单位", "Provider"),
    "fields": ("使用字段", "Fields"),
    "partner_data": ("合伙人自有数据", "partner's own data"),
    "selfcheck": ("安全自查报告", "Security self-check report"),
    "report_sha": ("安全自查报告 sha256", "Self-check report sha256"),
    "privacy": ("差分隐私保证", "Differential privacy"),
    "approval": ("审核批准记录", "Approval record"),
    "submission": ("提交", "Submission"),
    "approval_sha": ("批准记录 sha256", "Approval record sha256"),
    "model": ("模型版本与笔记本", "Model version and notebooks"),
    "model_version": ("模型版本", "Model version"),
    "reviewed_notebook": ("评审笔记本 sha256", "Reviewed notebook sha256"),
    "production_notebook": ("生产笔记本 sha256", "Production notebook sha256"),
    "spec": ("训练规格 sha256", "Training spec sha256"),
    "none": ("无", "none"),
    "fingerprint": ("备案指纹", "Filing fingerprint"),
    "fingerprint_note": (
        "备案指纹为上述全部备案内容规范化 JSON 的 sha256；任一项变更即备案失效，"
        "产品停止服务与生产运行，须重新备案。",
        "The sha256 of the canonical JSON of everything above; any change makes the filing "
        "stale, and the product is neither served nor run until it is re-filed.",
    ),
    "note": ("备注", "Note"),
}
_NUMERALS = (
    ["一、", "二、", "三、", "四、", "五、", "六、", "七、", "八、", "九、"],
    [f"{i}. " for i in range(1, 10)],
)


def filing_html(filing: FilingView, *, lang: str = "zh") -> str:
    en = lang == "en"
    labels: dict[str, object] = dict(in_language(LABELS, lang))
    labels["n"] = _NUMERALS[1 if en else 0]
    return TEMPLATES.get_template("filing_document.html").render(
        f=filing, c=filing.content, L=labels, en=en
    )


def filing_json(filing: FilingView) -> str:
    return filing.model_dump_json(indent=2)


def read_filing_json(text: str) -> FilingView:
    return FilingView.model_validate_json(text)
