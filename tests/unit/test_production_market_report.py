"""The coal market report's forecast and charts: the interval is the textbook one, the
forecast needs enough published periods, and charts fall back to English labels rather
than boxes when no CJK font is installed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from shuyu.policy.models import AggregateTable
from shuyu.production import market_report as report
from shuyu.production.output_check import PNG_SIGNATURE
from shuyu.production.suppression import DisclosureRules, publish


def monthly(values: list[float | None]) -> pl.DataFrame:
    starts = [dt.date(2025 + (m // 12), m % 12 + 1, 1).isoformat() for m in range(len(values))]
    return pl.DataFrame(
        {"period": starts, "price": values}, schema={"period": pl.String, "price": pl.Float64}
    )


def test_a_straight_line_is_forecast_on_the_line_with_a_narrow_interval() -> None:
    result = report.forecast(
        monthly([800.0 + 10 * m for m in range(12)]), "price", period="monthly"
    )
    assert result is not None
    assert result.periods == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert result.values == pytest.approx([920.0, 930.0, 940.0])
    assert result.upper[0] - result.lower[0] == pytest.approx(0.0, abs=1e-6)


def test_the_interval_widens_with_noise_and_with_distance() -> None:
    noisy = [800.0 + 10 * m + (15 if m % 2 else -15) for m in range(12)]
    result = report.forecast(monthly(noisy), "price", period="monthly")
    assert result is not None
    widths = [hi - lo for lo, hi in zip(result.lower, result.upper, strict=True)]
    assert widths[0] > 60  # ±t(0.975, 10) · s · √(1 + 1/n + …) with s ≈ 16
    assert widths == sorted(widths)
    assert all(
        lo < v < hi for lo, v, hi in zip(result.lower, result.values, result.upper, strict=True)
    )


def test_suppressed_periods_are_skipped_and_too_few_give_no_forecast() -> None:
    assert (
        report.forecast(monthly([900.0, None, 910.0, None, 905.0]), "price", period="monthly")
        is None
    )
    weekly = pl.DataFrame(
        {
            "period": ["2026-06-01", "2026-06-08", "2026-06-15", "2026-06-22"],
            "price": [1.0, 2.0, 3.0, 4.0],
        }
    )
    result = report.forecast(weekly, "price", period="weekly")
    assert result is not None
    assert result.periods == ["2026-06-29", "2026-07-06", "2026-07-13", "2026-07-20"]


def test_without_a_cjk_font_charts_are_labelled_in_english(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(report, "CJK_FONTS", ("No Such Font SC",))
    assert report.chart_language() == ("en", None)
    table = AggregateTable(
        by=["period", "coal_type"],
        period_from="day",
        agg="sum",
        value="t",
        column="tonnage_t",
        unit="mine",
    )
    rows = pl.DataFrame(
        {
            "day": [dt.date(2026, m, 5) for m in (4, 5, 6) for _ in range(12)],
            "coal_type": ["动力煤"] * 36,
            "mine": [f"m{i}" for _ in range(3) for i in range(12)],
            "t": [30.0] * 36,
        }
    )
    published = publish(rows, table, DisclosureRules(), period="monthly")
    path = tmp_path / "tonnage.png"
    report.plot_by_type(published, table, path, what="tonnage", language="en", font=None)
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    text = report.markdown_report(
        {"tables/tonnage.csv": published}, {"tables/tonnage.csv": table}, None,
        period="monthly", run_date="2026-06-30", window=("2026-04-01", "2026-06-30"), charts={},
    )  # fmt: skip
    assert "| 2026-06-01 | 360.00 |" in text
    assert "不作预测" in text
