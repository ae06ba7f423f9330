"""Aggregate tables that may leave the domain. Each test is an attack on a published
table — reading a small cell, subtracting published cells from a margin, a mine that
makes nearly all of a cell — and shows that `publish` leaves nothing to read and that
`verify` catches a table that does."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from shuyu.policy.models import AggregateTable
from shuyu.production.suppression import (
    MARGIN,
    DisclosureRules,
    Reason,
    publish,
    verify,
)

RULES = DisclosureRules(min_units=10, dominance_n=2, dominance_k=0.90, p_ratio=0.10)
TONNAGE = AggregateTable(
    by=["county", "coal_type"], agg="sum", value="net_weight", column="tonnage", unit="mine"
)


def shipments(
    cells: dict[tuple[str, str], int], *, seed: int = 0, per_mine: int = 3
) -> pl.DataFrame:
    """`per_mine` shipments of 28–33 t for each of `n` distinct mines in each cell."""
    rng = np.random.default_rng(seed)
    rows = []
    for (county, coal), mines in cells.items():
        for m in range(mines):
            for _ in range(per_mine):
                rows.append((county, coal, f"{county}{coal}-mine{m}", float(rng.uniform(28, 33))))
    return pl.DataFrame(rows, schema=["county", "coal_type", "mine", "net_weight"], orient="row")


BIG = {("A", "动力煤"): 30, ("A", "焦煤"): 25, ("B", "动力煤"): 28, ("B", "焦煤"): 22}


def cell(frame: pl.DataFrame, county: str, coal: str) -> float | None:
    found = frame.filter((pl.col("county") == county) & (pl.col("coal_type") == coal))
    assert found.height == 1, (county, coal)
    value: float | None = found.item(0, "tonnage")
    return value


def test_a_small_cell_is_suppressed_and_margins_are_totals_of_the_published_cells() -> None:
    rows = shipments(BIG | {("A", "褐煤"): 3})
    table = publish(rows, TONNAGE, RULES).frame

    assert cell(table, "A", "褐煤") is None  # three mines: below the threshold of ten
    published = table.filter(~pl.any_horizontal(pl.col("county", "coal_type") == MARGIN))
    for county in ("A", "B"):
        shown = published.filter(pl.col("county") == county).get_column("tonnage").sum()
        assert cell(table, county, MARGIN) == pytest.approx(shown)
    for coal in ("动力煤", "焦煤"):
        shown = published.filter(pl.col("coal_type") == coal).get_column("tonnage").sum()
        assert cell(table, MARGIN, coal) == pytest.approx(shown)
    assert cell(table, MARGIN, MARGIN) == pytest.approx(published.get_column("tonnage").sum())
    assert verify(table, rows, TONNAGE, RULES).problems == []


def test_a_suppressed_cell_cannot_be_recovered_from_anything_published() -> None:
    """Two worlds that differ only inside the small cell (how many mines, how much coal)
    publish the very same table: no margin, no subtraction can tell them apart."""
    small = shipments(BIG | {("A", "褐煤"): 2}, seed=1)
    other = shipments(BIG | {("A", "褐煤"): 9}, seed=1, per_mine=3)
    other = other.with_columns(
        pl.when(pl.col("coal_type") == "褐煤")
        .then(pl.col("net_weight") * 7)
        .otherwise(pl.col("net_weight"))
    )
    first, second = publish(small, TONNAGE, RULES).frame, publish(other, TONNAGE, RULES).frame
    assert_frame_equal(first, second, check_exact=False, rel_tol=1e-12)  # sums' float order


def test_margins_over_all_rows_give_a_suppressed_cell_away_and_are_caught() -> None:
    """The attack ACRO once left open: blank the small cell but keep the true totals;
    then margin − published cells = the hidden cell."""
    rows = shipments(BIG | {("A", "褐煤"): 3})
    honest = publish(rows, TONNAGE, RULES).frame
    truth = rows.group_by("county").agg(pl.col("net_weight").sum())
    true_a = truth.filter(pl.col("county") == "A").item(0, "net_weight")
    leaky = honest.with_columns(
        pl.when((pl.col("county") == "A") & (pl.col("coal_type") == MARGIN))
        .then(pl.lit(true_a))
        .otherwise(pl.col("tonnage"))
        .alias("tonnage")
    )
    hidden = rows.filter(pl.col("coal_type") == "褐煤").get_column("net_weight").sum()
    recovered = true_a - (cell(leaky, "A", "动力煤") or 0) - (cell(leaky, "A", "焦煤") or 0)
    assert recovered == pytest.approx(hidden)  # the attack works on the leaky table ...

    problems = verify(leaky, rows, TONNAGE, RULES).problems
    assert [(p.kind, p.cell) for p in problems] == [
        ("margin_leak", {"county": "A", "coal_type": MARGIN})
    ]
    assert problems[0].hidden == pytest.approx(hidden)  # ... and the check says what leaks


def test_a_table_that_shows_a_small_cell_is_caught() -> None:
    rows = shipments(BIG | {("B", "褐煤"): 4})
    raw = (
        rows.group_by("county", "coal_type")
        .agg(pl.col("net_weight").sum().alias("tonnage"))
        .select(pl.col("county"), pl.col("coal_type"), pl.col("tonnage"))
    )
    problems = verify(raw, rows, TONNAGE, RULES).problems
    assert [(p.kind, p.cell) for p in problems] == [
        ("unsafe_cell", {"county": "B", "coal_type": "褐煤"})
    ]
    assert problems[0].reasons[0] is Reason.SMALL


def test_a_cell_dominated_by_one_mine_is_suppressed_though_it_has_enough_mines() -> None:
    rows = shipments(BIG | {("B", "褐煤"): 12})
    giant = pl.DataFrame(
        {"county": ["B"], "coal_type": ["褐煤"], "mine": ["B褐煤-mine0"], "net_weight": [20_000.0]}
    )
    rows = pl.concat([rows, giant])  # one mine: about 95 % of the cell's tonnage
    published = publish(rows, TONNAGE, RULES)
    assert cell(published.frame, "B", "褐煤") is None
    assert [s.reasons for s in published.suppressed] == [(Reason.DOMINATED, Reason.P_RATIO)]

    shown = rows.group_by("county", "coal_type").agg(pl.col("net_weight").sum().alias("tonnage"))
    problems = verify(shown, rows, TONNAGE, RULES).problems
    assert [(p.kind, p.cell["coal_type"]) for p in problems] == [("unsafe_cell", "褐煤")]
    assert Reason.DOMINATED in problems[0].reasons


def test_the_threshold_counts_mines_not_shipments() -> None:
    rows = shipments({("A", "动力煤"): 3}, per_mine=40)  # 120 shipments of three mines
    assert publish(rows, TONNAGE, RULES).suppressed[0].reasons[0] is Reason.SMALL


def test_the_p_ratio_catches_two_large_units_the_dominance_rule_lets_through() -> None:
    rules = DisclosureRules(min_units=3, dominance_n=1, dominance_k=0.60, p_ratio=0.10)
    rows = pl.DataFrame(
        {
            "county": ["A"] * 6,
            "coal_type": ["焦煤"] * 6,
            "mine": ["m1", "m2", "m3", "m4", "m5", "m6"],
            "net_weight": [50.0, 45.0, 1.0, 1.0, 1.0, 1.0],  # the rest: 4 < 10 % of 50
        }
    )
    published = publish(rows, TONNAGE, rules, margins=False)
    assert [s.reasons for s in published.suppressed] == [(Reason.P_RATIO,)]


def test_a_negative_contribution_suppresses_the_cell() -> None:
    rows = shipments({("A", "动力煤"): 12}).with_columns(
        pl.when(pl.col("mine") == "A动力煤-mine0")
        .then(-5.0)
        .otherwise(pl.col("net_weight"))
        .alias("net_weight")
    )
    assert Reason.NEGATIVE in publish(rows, TONNAGE, RULES).suppressed[0].reasons


def test_mean_margins_are_means_over_the_rows_of_published_cells() -> None:
    price = AggregateTable(
        by=["coal_type"], agg="mean", value="unit_price", column="price", unit="mine"
    )
    rows = pl.DataFrame(
        {
            "coal_type": ["动力煤"] * 12 + ["焦煤"] * 12 + ["褐煤"] * 2,
            "mine": [f"p{i}" for i in range(12)] + [f"c{i}" for i in range(12)] + ["l0", "l1"],
            "unit_price": [800.0] * 12 + [1500.0] * 12 + [300.0, 310.0],
        }
    )
    table = publish(rows, price, RULES).frame
    assert table.filter(pl.col("coal_type") == "褐煤").item(0, "price") is None
    assert table.filter(pl.col("coal_type") == MARGIN).item(0, "price") == pytest.approx(1150.0)
    assert verify(table, rows, price, RULES).problems == []


def test_periods_are_the_starts_of_the_runs_period() -> None:
    by_month = AggregateTable(
        by=["period"], period_from="weighed_at", agg="count", column="shipments", unit="mine"
    )
    rows = pl.DataFrame(
        {
            "weighed_at": [dt.date(2026, 5, d) for d in range(1, 31)] + [dt.date(2026, 6, 2)] * 3,
            "mine": [f"m{d % 15}" for d in range(30)] + ["m0", "m1", "m2"],
        }
    )
    table = publish(rows, by_month, RULES, period="monthly").frame
    assert table.to_dicts() == [
        {"period": "2026-05-01", "shipments": 30.0},
        {"period": "2026-06-01", "shipments": None},  # three mines in June
        {"period": MARGIN, "shipments": 30.0},
    ]
    weekly = publish(rows, by_month, RULES, period="weekly").frame
    assert weekly.get_column("period").to_list()[0] == "2026-04-27"  # ISO weeks start on Monday


def test_a_value_that_is_not_the_inputs_is_caught() -> None:
    rows = shipments(BIG)
    table = publish(rows, TONNAGE, RULES).frame
    forged = table.with_columns(
        pl.when(pl.col("county") == "B").then(pl.col("tonnage") * 2).otherwise(pl.col("tonnage"))
    )
    kinds = {p.kind for p in verify(forged, rows, TONNAGE, RULES).problems}
    assert kinds == {"mismatch"}
    invented = pl.concat(
        [table, pl.DataFrame({"county": ["C"], "coal_type": ["焦煤"], "tonnage": [1.0]})]
    )
    assert [p.kind for p in verify(invented, rows, TONNAGE, RULES).problems] == ["unknown_cell"]


def test_the_suppression_agrees_with_acro_on_the_same_table() -> None:
    """ACRO 1.0.2 (not a dependency: it pins pandas<=2.3.3) fed one row per (cell, mine),
    as its rules count records: the same cells suppressed, the same margins."""
    acro = pytest.importorskip("acro")
    pd = pytest.importorskip("pandas")
    rows = shipments(BIG | {("A", "褐煤"): 3, ("B", "褐煤"): 11}, seed=4)
    rows = pl.concat(
        [
            rows,
            pl.DataFrame(
                {
                    "county": ["B"],
                    "coal_type": ["褐煤"],
                    "mine": ["B褐煤-mine0"],
                    "net_weight": [9_000.0],
                }
            ),
        ]
    )
    ours = publish(rows, TONNAGE, RULES).frame
    units = rows.group_by("county", "coal_type", "mine").agg(pl.col("net_weight").sum()).to_pandas()
    session = acro.ACRO(suppress=True)
    theirs = session.crosstab(
        units["county"], units["coal_type"], values=units["net_weight"], aggfunc="sum", margins=True
    )
    for county in ("A", "B"):
        for coal in ("动力煤", "焦煤", "褐煤"):
            acro_value = theirs.loc[county, coal]
            mine = cell(ours, county, coal)
            assert (mine is None) == bool(pd.isna(acro_value)), (county, coal)
            if mine is not None:
                assert mine == pytest.approx(acro_value)
        assert cell(ours, county, MARGIN) == pytest.approx(theirs.loc[county, "All"])
    assert cell(ours, MARGIN, MARGIN) == pytest.approx(theirs.loc["All", "All"])
