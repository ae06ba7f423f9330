"""The coal market report (煤炭市场日报/周报/月报): tables, charts and a price forecast from
a production batch of weighbridge records, for notebooks/scenarios/coal_market.

Everything published is built from the declared, suppressed tables (`suppression.publish`)
and nothing else: the charts plot the published cells, the forecast extrapolates the
published all-types mean price (its `合计` row per period), so no figure reaches the
outbox that the output check has not rebuilt from the batch.

The forecast is a least-squares linear trend over the published periods with a
prediction interval from the residuals (Student t, n − 2 degrees of freedom): a plain,
inspectable model that needs four periods at least. Weighbridge net weight stands in for
production (no production statistics are authorised for the scenario).

Chart labels are Chinese when a CJK font is installed (Noto Sans CJK, Source Han Sans,
WenQuanYi …), else English, never boxes of missing glyphs; the report text is Chinese
with English beside it either way.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from shuyu.errors import InputError
from shuyu.policy.models import AggregateTable, ProductOutputs
from shuyu.production.suppression import (
    MARGIN,
    PERIOD_COLUMN,
    DisclosureRules,
    PublishedTable,
    publish,
)

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
HORIZON = {"daily": 7, "weekly": 4, "monthly": 3}
PERIOD_ZH = {"daily": "日报", "weekly": "周报", "monthly": "月报"}
PERIOD_EN = {"daily": "daily", "weekly": "weekly", "monthly": "monthly"}

_LABELS = {
    "zh": {
        "tonnage": "产销量（过磅净重，吨）",
        "shipments": "销售车次",
        "price": "平均坑口价（元/吨）",
        "forecast": "平均价格预测（元/吨）",
        "period": "时期",
        "observed": "已公开数据",
        "predicted": "预测",
        "interval": "95% 预测区间",
        "all": "全部煤种",
    },
    "en": {
        "tonnage": "Sales tonnage (weighbridge net, t)",
        "shipments": "Shipments",
        "price": "Mean pit-head price (CNY/t)",
        "forecast": "Mean price forecast (CNY/t)",
        "period": "Period",
        "observed": "published",
        "predicted": "forecast",
        "interval": "95% prediction interval",
        "all": "all coal types",
    },
}


def cjk_font() -> str | None:
    """The first installed font of `CJK_FONTS`, or None."""
    from matplotlib import font_manager  # noqa: PLC0415 - only for charts

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def chart_language() -> tuple[str, str | None]:
    """("zh", font) when a CJK font is installed, else ("en", None)."""
    font = cjk_font()
    return ("zh", font) if font else ("en", None)


# ---------------------------------------------------------------- tables


def declared_tables(product: ProductOutputs) -> dict[str, AggregateTable]:
    """Output name → table, for the product's aggregate outputs."""
    return {o.name: o.table for o in product.outputs if o.table is not None}


def build_tables(
    batch: pl.DataFrame, product: ProductOutputs, rules: DisclosureRules, *, period: str
) -> dict[str, PublishedTable]:
    """Every declared table of the batch, suppressed, with margins."""
    if batch.is_empty():
        raise InputError("input batch", "is empty: no weighbridge records in the report window")
    return {
        name: publish(batch, table, rules, period=period, decimals=2)
        for name, table in declared_tables(product).items()
    }


def inner(table: PublishedTable, spec: AggregateTable) -> pl.DataFrame:
    """The table without margins."""
    frame = table.frame
    return frame.filter(pl.all_horizontal([pl.col(c) != MARGIN for c in spec.by]))


def period_totals(table: PublishedTable, spec: AggregateTable) -> pl.DataFrame:
    """`period` and the value of each period's margin over the other by columns (the
    period's total, or all-types mean), sorted; suppressed periods are null."""
    others = [c for c in spec.by if c != PERIOD_COLUMN]
    frame = table.frame.filter(pl.col(PERIOD_COLUMN) != MARGIN)
    if others:
        frame = frame.filter(pl.all_horizontal([pl.col(c) == MARGIN for c in others]))
    return frame.select(PERIOD_COLUMN, spec.column).sort(PERIOD_COLUMN)


# ---------------------------------------------------------------- forecast


@dataclass(frozen=True)
class Forecast:
    periods: list[str]
    values: list[float]
    lower: list[float]
    upper: list[float]
    level: float
    slope_per_period: float
    residual_sd: float
    fitted_on: int

    def to_json(self) -> dict[str, Any]:
        return {
            "method": "linear trend, Student-t prediction interval (最小二乘线性趋势)",
            "level": self.level,
            "fitted_on_periods": self.fitted_on,
            "slope_per_period": round(self.slope_per_period, 4),
            "residual_sd": round(self.residual_sd, 4),
            "forecast": [
                {"period": p, "value": round(v, 2), "lower": round(lo, 2), "upper": round(hi, 2)}
                for p, v, lo, hi in zip(
                    self.periods, self.values, self.lower, self.upper, strict=True
                )
            ],
        }


def forecast(
    series: pl.DataFrame, column: str, *, period: str, level: float = 0.95
) -> Forecast | None:
    """The next `HORIZON[period]` periods of `column` (nulls skipped), or None with
    fewer than four published periods."""
    from scipy import stats  # type: ignore[import-untyped]  # noqa: PLC0415 - no stubs

    known = series.drop_nulls(column)
    n = known.height
    if n < 4:
        return None
    starts = known.get_column(PERIOD_COLUMN).str.to_date()
    origin = starts[0]
    x = [_periods_between(origin, s, period) for s in starts.to_list()]
    y = known.get_column(column).to_list()
    mean_x, mean_y = sum(x) / n, sum(y) / n
    sxx = sum((xi - mean_x) ** 2 for xi in x)
    slope = sum((xi - mean_x) * (yi - mean_y) for xi, yi in zip(x, y, strict=True)) / sxx
    intercept = mean_y - slope * mean_x
    residuals = [yi - (intercept + slope * xi) for xi, yi in zip(x, y, strict=True)]
    sd = math.sqrt(sum(r * r for r in residuals) / (n - 2))
    quantile = float(stats.t.ppf(0.5 + level / 2, n - 2))
    last = starts[-1]
    future = [_advance(last, k, period) for k in range(1, HORIZON[period] + 1)]
    values, lower, upper = [], [], []
    for day in future:
        xf = _periods_between(origin, day, period)
        centre = intercept + slope * xf
        half = quantile * sd * math.sqrt(1 + 1 / n + (xf - mean_x) ** 2 / sxx)
        values.append(centre)
        lower.append(centre - half)
        upper.append(centre + half)
    return Forecast(
        periods=[d.isoformat() for d in future],
        values=values,
        lower=lower,
        upper=upper,
        level=level,
        slope_per_period=slope,
        residual_sd=sd,
        fitted_on=n,
    )


def _advance(day: dt.date, k: int, period: str) -> dt.date:
    if period == "monthly":
        months = day.year * 12 + day.month - 1 + k
        return dt.date(months // 12, months % 12 + 1, 1)
    return day + dt.timedelta(days=k * (7 if period == "weekly" else 1))


def _periods_between(origin: dt.date, day: dt.date, period: str) -> int:
    if period == "monthly":
        return (day.year - origin.year) * 12 + day.month - origin.month
    days = (day - origin).days
    return days // 7 if period == "weekly" else days


# ---------------------------------------------------------------- charts


def _axes(title: str, language: str, font: str | None) -> tuple[Any, Any]:
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # noqa: PLC0415

    if font:
        plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
        plt.rcParams["axes.unicode_minus"] = False
    figure, axes = plt.subplots(figsize=(8, 4), dpi=100)
    axes.set_title(title)
    axes.set_xlabel(_LABELS[language]["period"])
    return figure, axes


def _save(figure: Any, path: Path) -> None:
    from matplotlib import pyplot as plt  # noqa: PLC0415

    figure.autofmt_xdate()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", metadata={"Software": None})
    plt.close(figure)


def plot_by_type(
    table: PublishedTable, spec: AggregateTable, path: Path, *, what: str, language: str,
    font: str | None,
) -> None:  # fmt: skip
    """One line per coal type over the periods (suppressed points are gaps)."""
    figure, axes = _axes(_LABELS[language][what], language, font)
    cells = inner(table, spec)
    group = next(c for c in spec.by if c != PERIOD_COLUMN)
    for name, part in cells.sort(PERIOD_COLUMN).group_by(group, maintain_order=True):
        if part.get_column(spec.column).null_count() == part.height:
            continue  # every period suppressed: no line, no legend entry
        axes.plot(
            part.get_column(PERIOD_COLUMN).str.to_date().to_list(),
            part.get_column(spec.column).to_list(),
            marker="o",
            markersize=3,
            label=str(name[0]),
        )
    if axes.get_lines():
        axes.legend(fontsize="small", ncols=2)
    _save(figure, path)


def plot_totals(
    series: pl.DataFrame, column: str, path: Path, *, what: str, language: str, font: str | None
) -> None:
    figure, axes = _axes(_LABELS[language][what], language, font)
    days = series.get_column(PERIOD_COLUMN).str.to_date().to_list()
    values = [math.nan if v is None else v for v in series.get_column(column).to_list()]
    axes.bar(days, values, width=0.8 * _bar_width(days))
    _save(figure, path)


def _bar_width(days: list[dt.date]) -> float:
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    return float(min(gaps)) if gaps else 1.0


def plot_forecast(
    series: pl.DataFrame, column: str, result: Forecast, path: Path, *, language: str,
    font: str | None,
) -> None:  # fmt: skip
    text = _LABELS[language]
    figure, axes = _axes(text["forecast"], language, font)
    known = series.drop_nulls(column)
    axes.plot(
        known.get_column(PERIOD_COLUMN).str.to_date().to_list(),
        known.get_column(column).to_list(),
        marker="o",
        markersize=3,
        label=text["observed"],
    )
    future = [dt.date.fromisoformat(p) for p in result.periods]
    axes.plot(
        future, result.values, linestyle="--", marker="o", markersize=3, label=text["predicted"]
    )
    axes.fill_between(future, result.lower, result.upper, alpha=0.25, label=text["interval"])
    axes.legend(fontsize="small")
    _save(figure, path)


# ---------------------------------------------------------------- the report text


def markdown_table(frame: pl.DataFrame, headers: Mapping[str, str]) -> str:
    """A Markdown table; suppressed (null) cells as “—”."""
    names = list(frame.columns)
    lines = [
        "| " + " | ".join(headers.get(n, n) for n in names) + " |",
        "|" + "---|" * len(names),
    ]
    for row in frame.iter_rows():
        cells = [
            "—" if v is None else (f"{v:,.2f}" if isinstance(v, float) else str(v)) for v in row
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


_COLUMN_HEADERS = {
    "tonnage_t": "产销量（吨）Tonnage (t)",
    "shipments": "车次 Shipments",
    "mean_price_cny_t": "平均价（元/吨）Mean price (CNY/t)",
}


def markdown_report(
    tables: Mapping[str, PublishedTable],
    specs: Mapping[str, AggregateTable],
    result: Forecast | None,
    *,
    period: str,
    run_date: str,
    window: tuple[str, str],
    charts: Mapping[str, str],
) -> str:
    """report.md: the period's figures, the forecast and how to read them, in Chinese
    with English beside."""
    title = f"# 煤炭市场{PERIOD_ZH[period]} · Coal market {PERIOD_EN[period]} report"
    lines = [
        title,
        "",
        f"报告日期 Run date：{run_date}；数据区间 Window：{window[0]} 至 {window[1]}。",
        "",
        "数据来源：市能源局煤矿运销过磅记录（过磅净重代表产销量）。所有数字均为汇总结果：",
        f"贡献煤矿少于阈值、或少数煤矿占比过高的单元格已抑制（“—”），“{MARGIN}”为已公开单元格之和，",
        "不含被抑制部分。",
        "",
        "*Weighbridge sales records of the energy bureau (net weight stands in for production).",
        "Cells with too few mines, or dominated by one or two, are suppressed (—); totals are",
        "totals of the published cells and exclude suppressed ones.*",
        "",
    ]
    headings = {
        "tables/tonnage.csv": "## 产销量 · Sales tonnage (t)",
        "tables/shipments.csv": "## 销售车次 · Shipments",
        "tables/price.csv": "## 平均坑口价 · Mean pit-head price (CNY/t)",
    }
    for name, table in tables.items():
        spec = specs[name]
        lines += [headings.get(name, f"## {name}"), ""]
        if name in charts:
            lines += [f"![{name}]({charts[name]})", ""]
        totals = period_totals(table, spec)
        headers = {
            PERIOD_COLUMN: "时期 Period",
            spec.column: _COLUMN_HEADERS.get(spec.column, spec.column),
        }
        lines += [markdown_table(totals, headers), ""]
    lines += ["## 价格预测 · Price forecast", ""]
    if result is None:
        lines.append(
            "已公开的时期不足四个，本期不作预测。*Fewer than four published periods: no forecast.*"
        )
    else:
        if "forecast" in charts:
            lines += [f"![forecast]({charts['forecast']})", ""]
        lines += [
            f"方法：对已公开的全部煤种平均价做最小二乘线性趋势，{result.level:.0%} 预测区间"
            f"（t 分布，{result.fitted_on} 个时期）。*Linear trend over the published all-types "
            f"mean price, {result.level:.0%} prediction interval.*",
            "",
            "| 时期 Period | 预测 Forecast | 下限 Lower | 上限 Upper |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {p} | {v:,.2f} | {lo:,.2f} | {hi:,.2f} |"
            for p, v, lo, hi in zip(
                result.periods, result.values, result.lower, result.upper, strict=True
            )
        ]
    return "\n".join(lines) + "\n"
