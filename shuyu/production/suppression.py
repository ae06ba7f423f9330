"""Aggregate tables that may leave the domain: small and dominated cells suppressed, and
margins recomputed from what is published — and the check that a published table is one.

A table is declared (`AggregateTable` in policies/outputs.yaml): its cells are the
distinct values of `by` over the run's input batch, its value `agg` of `value`, and
`unit` names the contributor (a mine, an enterprise, a person). Per cell, from the
contributions of each unit (its rows' sum, or its row count):

- threshold: fewer than `min_units` units → suppressed (ACRO's `safe_threshold`, counted
  in units, not rows: ten shipments of one mine are one mine's figure);
- (n, k) dominance: the `n` largest units over `k` of the cell total → suppressed;
- p-ratio: the units after the two largest under `p` of the largest → suppressed (the
  second largest could estimate the largest within p %);
- a negative contribution → suppressed (dominance has no meaning there).

Margins (`合计`) are recomputed from the rows of the *published* inner cells, as ACRO
does since it re-runs the table on redacted data: a margin never includes a suppressed
cell, so no suppressed value is a margin minus the published cells. A margin is checked
by the same rules. The published totals are therefore totals of what is shown, and
reports say so.

`publish` builds a safe table (production notebooks call it); `verify` takes a table as
written to the output folder and rebuilds every published cell and margin from the
input batch (the output check calls it): a cell the rules suppress, a value that is not
the input's, or a margin that includes suppressed cells is a problem with its evidence.
A cell left out of the file counts as suppressed (publishing less is always allowed).

Not covered: differencing *across* tables (a suppressed daily cell recovered from a
monthly total in another file); products publish such hierarchies only from one table.

ACRO 1.0.2 (PyPI) was evaluated for this and is not a dependency: see `ACRO_FINDINGS`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import polars as pl

from shuyu.errors import InputError
from shuyu.policy.models import AggregateTable

MARGIN = "合计"
"""The by-value of a margin (row or column total) in a published table."""
PERIODS: dict[str, str] = {"daily": "1d", "weekly": "1w", "monthly": "1mo"}
"""A run's period and the polars truncation that gives each row's period start."""
PERIOD_COLUMN = "period"

ACRO_FINDINGS = """\
acro 1.0.2 (the newest on PyPI, evaluated for the output check and the notebooks):
- dependencies: it requires pandas<=2.3.3; the platform's images carry pandas 3.1.1 (MLflow
  brings it), so `pip install acro` downgrades pandas. Installed with --no-deps beside
  pandas 3.1.1 (statsmodels, rdflib, tabulate, lxml, openpyxl added), crosstab and
  pivot_table with suppression run and give the tables below.
- thresholds: read from a YAML beside its own module (`ACRO(config="default")` opens
  acro/default.yaml); the policy's values can only be put in by rewriting that file in
  site-packages or by replacing the session's `config` and `sdc_checks` attributes.
- units: no notion of a contributor. Threshold and dominance run over the records given,
  so ten shipments of one mine pass the threshold; it must be fed one row per (cell,
  unit), after which its counts are units.
- dominance boundary: a cell is flagged when the top-n share is >= k; the issue's rule
  (and this module) flags only > k.
- files: it checks the tables it computes from microdata and records them for its
  `finalise`; it cannot check a table already written to a file, which is what the
  output check has after a run, so the check needs its own rules either way.
- margins: its suppression re-runs the table on the redacted rows, so margins exclude
  suppressed cells (no leak through margins in 1.0.2); `publish` does the same.
Cross-checked on the same tables (a test runs when acro is importable): the same cells
suppressed for threshold, dominance and p-ratio, and the same margins.
"""


class Reason(StrEnum):
    SMALL = "small"
    DOMINATED = "dominated"
    P_RATIO = "p_ratio"
    NEGATIVE = "negative"

    @property
    def zh(self) -> str:
        return _REASON_ZH[self]

    @property
    def en(self) -> str:
        return _REASON_EN[self]


_REASON_ZH = {
    Reason.SMALL: "贡献单位数低于阈值",
    Reason.DOMINATED: "少数单位占比过高（优势规则）",
    Reason.P_RATIO: "其余单位合计不足最大单位的 p%（p 比例规则）",
    Reason.NEGATIVE: "存在负值贡献，优势规则无法判断",
}
_REASON_EN = {
    Reason.SMALL: "fewer contributing units than the threshold",
    Reason.DOMINATED: "dominated by its largest units ((n, k) rule)",
    Reason.P_RATIO: "the rest is under p % of the largest unit (p-ratio rule)",
    Reason.NEGATIVE: "a negative contribution: dominance is undefined",
}


@dataclass(frozen=True)
class DisclosureRules:
    """The thresholds a table's cells must meet (the output policy's, or stricter)."""

    min_units: int = 10
    dominance_n: int = 2
    dominance_k: float = 0.90
    p_ratio: float = 0.10


@dataclass(frozen=True)
class SuppressedCell:
    cell: dict[str, str]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class PublishedTable:
    """A safe table: `frame` as it is written (by columns as text, the value column with
    nulls where suppressed), and which cells were suppressed and why."""

    frame: pl.DataFrame
    suppressed: list[SuppressedCell]

    def write_csv(self, path: str) -> None:
        self.frame.write_csv(path)


@dataclass(frozen=True)
class TableProblem:
    """One published cell that may not leave: what is wrong, with the figures."""

    kind: Literal["unsafe_cell", "margin_leak", "mismatch", "unknown_cell", "duplicate"]
    cell: dict[str, str]
    reasons: tuple[Reason, ...] = ()
    published: float | None = None
    expected: float | None = None
    hidden: float | None = None
    """margin_leak: what the margin gives away (the suppressed cells' total)."""


@dataclass(frozen=True)
class TableCheck:
    problems: list[TableProblem]
    cells: int
    published_cells: int
    margins: int
    figures: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- building blocks


def prepared_rows(rows: pl.DataFrame, table: AggregateTable, period: str | None) -> pl.DataFrame:
    """The batch's rows with the by columns as text (and `period` derived), the unit and
    the value: what cells and contributions are computed from."""
    frame = rows
    if table.period_from is not None:
        if period not in PERIODS:
            raise InputError(
                "period", "must be one of daily, weekly, monthly for this table", value=period
            )
        frame = frame.with_columns(
            pl.col(table.period_from)
            .cast(pl.Datetime)
            .dt.truncate(PERIODS[period])
            .dt.date()
            .alias(PERIOD_COLUMN)
        )
    needed = [*table.by, table.unit, *([table.value] if table.value else [])]
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if missing:
        raise InputError(
            "input batch", "lacks columns the table is built from", value=missing,
            hint=f"the batch has {frame.columns}",
        )  # fmt: skip
    value = pl.col(table.value).cast(pl.Float64) if table.value else pl.lit(1.0)
    return frame.select(
        *[pl.col(c).cast(pl.String) for c in table.by],
        pl.col(table.unit).cast(pl.String).alias("_unit"),
        value.alias("_value"),
    )


def cell_statistics(
    prepared: pl.DataFrame, by: list[str], table: AggregateTable, rules: DisclosureRules
) -> pl.DataFrame:
    """One row per cell of `by` (none: one row, the grand total): its value, units,
    top-n share, p-ratio and whether each rule suppresses it."""
    keys = list(by)
    contributions = prepared.group_by([*keys, "_unit"]).agg(
        pl.len().alias("_rows"), pl.col("_value").sum().alias("_share")
    )
    ranked = pl.col("_share").sort(descending=True)
    per_cell = [
        pl.len().alias("units"),
        pl.col("_rows").sum().alias("rows"),
        pl.col("_share").sum().alias("total"),
        ranked.head(rules.dominance_n).sum().alias("top_n"),
        ranked.head(2).sum().alias("top_2"),
        pl.col("_share").max().alias("top_1"),
        (pl.col("_share") < 0).any().alias("negative"),
    ]
    cells = contributions.group_by(keys).agg(per_cell) if keys else contributions.select(per_cell)
    value = {
        "count": pl.col("rows").cast(pl.Float64),
        "sum": pl.col("total"),
        "mean": pl.col("total") / pl.col("rows"),
    }[table.agg]
    share = pl.when(pl.col("total") > 0).then(pl.col("top_n") / pl.col("total")).otherwise(0.0)
    rest = pl.col("total") - pl.col("top_2")
    ratio = pl.when(pl.col("top_1") > 0).then(rest / pl.col("top_1")).otherwise(math.inf)
    return cells.with_columns(
        value.alias("value"),
        share.alias("top_share"),
        ratio.alias("p_value"),
        (pl.col("units") < rules.min_units).alias(Reason.SMALL.value),
        (share > rules.dominance_k).alias(Reason.DOMINATED.value),
        (ratio < rules.p_ratio).alias(Reason.P_RATIO.value),
        pl.col("negative").alias(Reason.NEGATIVE.value),
    ).with_columns(
        pl.any_horizontal([r.value for r in Reason]).alias("suppressed"),
    )


def _reasons(row: dict[str, object]) -> tuple[Reason, ...]:
    return tuple(r for r in Reason if row[r.value])


def _margin_dims(by: list[str]) -> list[list[str]]:
    """The by columns kept in each margin: every proper subset, largest first (for a
    two-way table: the row totals, the column totals, the grand total)."""
    return [
        list(kept)
        for size in range(len(by) - 1, -1, -1)
        for kept in itertools.combinations(by, size)
    ]


def _as_output(stats: pl.DataFrame, kept: list[str], table: AggregateTable) -> pl.DataFrame:
    value = pl.when(pl.col("suppressed")).then(None).otherwise(pl.col("value"))
    return stats.select(
        *[(pl.col(c) if c in kept else pl.lit(MARGIN)).cast(pl.String).alias(c) for c in table.by],
        value.cast(pl.Float64).alias(table.column),
    )


# ---------------------------------------------------------------- publish


def publish(
    rows: pl.DataFrame,
    table: AggregateTable,
    rules: DisclosureRules,
    *,
    period: str | None = None,
    margins: bool = True,
    decimals: int | None = None,
) -> PublishedTable:
    """The table of `rows` with unsafe cells suppressed (null) and margins recomputed
    from the published cells only."""
    prepared = prepared_rows(rows, table, period)
    by = list(table.by)
    inner = cell_statistics(prepared, by, table, rules).sort(by)
    parts = [_as_output(inner, by, table)]
    suppressed = [
        SuppressedCell({c: str(row[c]) for c in by}, _reasons(row))
        for row in inner.filter(pl.col("suppressed")).iter_rows(named=True)
    ]
    if margins:
        shown = prepared.join(
            inner.filter(~pl.col("suppressed")).select(by), on=by, how="semi", nulls_equal=True
        )
        for kept in _margin_dims(by):
            stats = cell_statistics(shown, kept, table, rules)
            if kept:
                stats = stats.sort(kept)
            parts.append(_as_output(stats, kept, table))
            suppressed += [
                SuppressedCell(
                    {c: (str(row[c]) if c in kept else MARGIN) for c in by}, _reasons(row)
                )
                for row in stats.filter(pl.col("suppressed")).iter_rows(named=True)
            ]
    frame = pl.concat(parts)
    if decimals is not None:
        frame = frame.with_columns(pl.col(table.column).round(decimals))
    return PublishedTable(frame, suppressed)


# ---------------------------------------------------------------- verify


def _tolerance(expected: float) -> float:
    """Rounding to whole numbers is allowed; anything further off is another figure."""
    return 0.5 + 1e-9 * abs(expected)


def read_published(path: str, table: AggregateTable) -> pl.DataFrame:
    """A published table file: by columns as text, the value column as numbers (an
    empty cell is a suppressed one)."""
    frame = pl.read_csv(
        path,
        schema_overrides={**{c: pl.String for c in table.by}, table.column: pl.Float64},
        infer_schema_length=0,
    )
    expected = [*table.by, table.column]
    if sorted(frame.columns) != sorted(expected):
        raise InputError(
            path,
            "columns differ from the declared table",
            value=frame.columns,
            hint=f"write exactly {expected}",
        )
    return frame.select(expected)


def verify(
    published: pl.DataFrame,
    rows: pl.DataFrame,
    table: AggregateTable,
    rules: DisclosureRules,
    *,
    period: str | None = None,
) -> TableCheck:
    """Every published cell and margin of `published`, rebuilt from `rows`."""
    prepared = prepared_rows(rows, table, period)
    by = list(table.by)
    problems: list[TableProblem] = []
    is_margin = pl.any_horizontal([pl.col(c) == MARGIN for c in by])
    file = published.with_columns(is_margin.fill_null(False).alias("_margin"))
    dupes = file.filter(file.select(by).is_duplicated())
    problems += [
        TableProblem("duplicate", {c: str(row[c]) for c in by})
        for row in dupes.unique(by).iter_rows(named=True)
    ]
    inner_file = file.filter(~pl.col("_margin")).unique(by, keep="first")
    inner = cell_statistics(prepared, by, table, rules)
    joined = inner_file.join(inner, on=by, how="left", nulls_equal=True)
    for row in joined.iter_rows(named=True):
        cell = {c: str(row[c]) for c in by}
        shown = row[table.column]
        if row["units"] is None:
            if shown is not None:
                problems.append(TableProblem("unknown_cell", cell, published=shown))
            continue
        if shown is None:
            continue
        if row["suppressed"]:
            problems.append(TableProblem("unsafe_cell", cell, _reasons(row), shown, row["value"]))
        elif abs(shown - row["value"]) > _tolerance(row["value"]):
            problems.append(TableProblem("mismatch", cell, (), shown, row["value"]))
    shown_cells = inner_file.filter(pl.col(table.column).is_not_null()).select(by)
    kept_rows = prepared.join(shown_cells, on=by, how="semi", nulls_equal=True)
    margin_rows = file.filter(pl.col("_margin")).unique(by, keep="first")
    margins = 0
    for kept in _margin_dims(by):
        if not kept:
            selected = margin_rows.filter(pl.all_horizontal([pl.col(c) == MARGIN for c in by]))
        else:
            selected = margin_rows.filter(
                pl.all_horizontal(
                    [(pl.col(c) != MARGIN) if c in kept else (pl.col(c) == MARGIN) for c in by]
                )
            )
        if selected.is_empty():
            continue
        margins += selected.height
        honest = cell_statistics(kept_rows, kept, table, rules)
        whole = cell_statistics(prepared, kept, table, rules).select(
            *kept, pl.col("value").alias("_whole")
        )
        if kept:
            joined_m = selected.join(honest, on=kept, how="left", nulls_equal=True).join(
                whole, on=kept, how="left", nulls_equal=True
            )
        else:
            joined_m = selected.join(honest, how="cross").join(whole, how="cross")
        problems += _margin_problems(joined_m, by, table)
    return TableCheck(
        problems=problems,
        cells=inner.height,
        published_cells=shown_cells.height,
        margins=margins,
        figures={
            "cells": float(inner.height),
            "published_cells": float(shown_cells.height),
            "suppressed_cells": float(inner.height - shown_cells.height),
        },
    )


def _margin_problems(
    joined: pl.DataFrame, by: list[str], table: AggregateTable
) -> list[TableProblem]:
    problems: list[TableProblem] = []
    for row in joined.iter_rows(named=True):
        cell = {c: str(row[c]) for c in by}
        shown = row[table.column]
        if shown is None:
            continue
        if row["units"] is None:  # no published cell under this margin: it must be empty
            whole = row["_whole"]
            kind: Literal["margin_leak", "unknown_cell"] = (
                "margin_leak" if whole is not None else "unknown_cell"
            )
            problems.append(TableProblem(kind, cell, (), shown, None, whole))
            continue
        expected = row["value"]
        if row["suppressed"]:
            problems.append(TableProblem("unsafe_cell", cell, _reasons(row), shown, expected))
        elif abs(shown - expected) > _tolerance(expected):
            whole = row["_whole"]
            leaks = whole is not None and abs(shown - whole) <= _tolerance(whole)
            problems.append(
                TableProblem(
                    "margin_leak" if leaks else "mismatch",
                    cell,
                    (),
                    shown,
                    expected,
                    (whole - expected) if leaks and table.agg != "mean" else None,
                )
            )
    return problems
