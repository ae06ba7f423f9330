"""The annual evaluation as the bureau reads it: a self-contained HTML report (zh-CN,
English on request; inline SVG charts, no script, no external resource) and the JSON
of the figures (`AnnualFigures`, which reads back as the same model)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from shuyu.governance.annual import AnnualFigures
from shuyu.governance.documents import TEMPLATES, in_language
from shuyu.governance.svg_charts import bar_chart
from shuyu.products.statements import yuan

LABELS: dict[str, tuple[str, str]] = {
    "title": ("公共数据资源授权运营年度评估报告", "Annual evaluation of authorised public data"),
    "year": ("年度", "Year"),
    "period": ("统计区间", "Period"),
    "generated": ("生成时间", "Generated"),
    "events": ("年内审计事件数", "Audit events in the year"),
    "basis": (
        "本报告中平台可计算的指标均由哈希链审计日志（可由第三方以 shuyu audit export "
        "导出并独立校验）与服务数据库按下述口径统计；需人工填报的指标单列。",
        "Every figure the platform can compute is counted from the hash-chained audit log "
        "(which a third party can export with `shuyu audit export` and verify) and the "
        "service's database, as defined below; figures that need manual input are listed "
        "apart.",
    ),
    "products": ("一、数据产品数量", "1. Data products"),
    "data_products": ("数据产品数量", "Data products"),
    "approved_versions": ("批准登记的模型版本", "Approved model versions"),
    "api_products": ("API 数据产品（年内有成功评分）", "API products (scored in the year)"),
    "production_products": ("生产产出场景（年内有发布）", "Production scenarios (released)"),
    "compliance": ("二、安全合规", "2. Security compliance"),
    "compliance_rate": ("安全合规率", "Compliance rate"),
    "selfcheck": ("安全自查通过率", "Self-check pass rate"),
    "production_checked": ("经产出检查的生产运行", "Production runs checked"),
    "quarantined": ("被隔离的生产产出", "Production outputs quarantined"),
    "decisions": ("隔离产出审核：发布 / 销毁", "Quarantine decisions: released / discarded"),
    "blocked_keys": ("被拦截的 API 密钥", "API keys blocked"),
    "cases": (
        "事中检查案件：新开 / 结案 / 年末未结",
        "事中检查 cases: opened / closed / open at end",
    ),
    "incidents": ("安全事件", "Security incidents"),
    "kind": ("类别", "Kind"),
    "count": ("次数", "Count"),
    "counted_as": ("统计口径", "Counted as"),
    "usage": ("三、授权运营收入与调用", "3. Revenue and usage"),
    "revenue": ("API 授权运营收入", "API revenue"),
    "calls": ("调用次数", "Calls"),
    "billable": ("计费次数", "Billable calls"),
    "amount": ("金额（元）", "Amount (CNY)"),
    "month": ("月份", "Month"),
    "product": ("产品", "Product"),
    "subjects": ("服务主体数", "Subjects served"),
    "consumers": ("使用单位数", "Consumers"),
    "consumers_billed": ("计费使用单位", "Consumers billed"),
    "refusals": (
        "被拒绝的调用（按原因，供参考，不计入安全事件）",
        "Refused calls by code (for reference; not incidents)",
    ),
    "served": ("四、服务主体与合伙人", "4. Subjects and partners served"),
    "partners_active": ("启动过数据沙箱的合伙人", "Partners who used a data sandbox"),
    "manual": ("五、需人工填报的指标", "5. Indicators entered by hand"),
    "manual_note": (
        "以下指标无法由平台记录计算（用户满意度需调查、社会效益与数据质量需评价、平台外收入与"
        "评估结论由主管部门认定），由管理员填报，每次填报均记入审计日志。",
        "These indicators cannot be computed from the platform's records (satisfaction "
        "needs a survey, social benefit and data quality an assessment, revenue outside the "
        "platform and the verdict the bureau's decision); an administrator enters them, and "
        "each entry is an audit event.",
    ),
    "indicator": ("指标", "Indicator"),
    "value": ("填报值", "Value"),
    "plan": ("方案依据", "In the plans"),
    "entered": ("填报人 / 时间", "Entered by / at"),
    "definitions": ("六、指标口径", "6. Definitions"),
    "figure": ("指标", "Figure"),
    "definition": ("口径", "Definition"),
    "source": ("数据来源", "Source"),
    "none": ("无", "none"),
    "chart_billable": ("各月计费调用次数", "Billable calls per month"),
    "chart_revenue": ("各月收入（元）", "Revenue per month (CNY)"),
    "chart_subjects": ("各产品服务主体数", "Subjects served per product"),
    "chart_incidents": ("安全事件（按类别）", "Security incidents by kind"),
}


def labels(lang: str) -> dict[str, str]:
    return in_language(LABELS, lang)


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _charts(figures: AnnualFigures, lang: str) -> dict[str, Markup]:
    text = labels(lang)
    en = lang == "en"
    usage = figures.usage
    return {
        "billable": bar_chart(
            text["chart_billable"], [(m.month, m.billable) for m in usage.months]
        ),
        "revenue": bar_chart(
            text["chart_revenue"], [(m.month, m.amount_fen / 100) for m in usage.months]
        ),
        "subjects": bar_chart(
            text["chart_subjects"],
            [(p.name_en if en else p.name, p.subjects) for p in usage.products],
        ),
        "incidents": bar_chart(
            text["chart_incidents"],
            [(k.en if en else k.zh, k.count) for k in figures.compliance.incident_kinds],
        ),
    }


def _context(figures: AnnualFigures, lang: str) -> dict[str, Any]:
    return {
        "f": figures,
        "L": labels(lang),
        "en": lang == "en",
        "charts": _charts(figures, lang),
        "percent": _percent,
        "yuan": yuan,
    }


def annual_body(figures: AnnualFigures, *, lang: str = "zh") -> Markup:
    """The report's content, for a page of the service to place in its own layout."""
    html = TEMPLATES.get_template("annual_body.html").render(**_context(figures, lang))
    return Markup(html)  # noqa: S704 - rendered by the autoescaping template above


def annual_html(figures: AnnualFigures, *, lang: str = "zh") -> str:
    """The report as one self-contained document."""
    return TEMPLATES.get_template("annual_report.html").render(
        body=annual_body(figures, lang=lang), **_context(figures, lang)
    )


def annual_json(figures: AnnualFigures) -> str:
    return figures.model_dump_json(indent=2)
