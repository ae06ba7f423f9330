"""The output check before the outbox, tested as the attacks it stops: a notebook that
prints resident IDs, a table showing a small or dominated cell, margins that give a
suppressed cell away, an undeclared row-level file, an identifier column, a file type
that carries rows past the checks, an oversized file. Each starts from a folder that
passes, so that every failure is the attack's."""

from __future__ import annotations

import datetime as dt
import os
import struct
import zlib
from pathlib import Path

import nbformat
import numpy as np
import polars as pl
import pytest

from shuyu.data.generate import identifiers as gen
from shuyu.notebooks import execute, to_html
from shuyu.policy import load_policies
from shuyu.policy.models import Policies
from shuyu.production.output_check import PNG_SIGNATURE, check_outputs
from shuyu.production.output_rules import rules_for
from shuyu.production.suppression import MARGIN, publish
from shuyu.production.verdict import OutputVerdict
from shuyu.selfcheck.result import Status

POLICIES = load_policies()
RNG = np.random.default_rng(12)
RESIDENT_IDS = gen.make_resident_ids(RNG, 5, ["341302"], dt.date(1970, 1, 1), dt.date(2000, 1, 1))
USCCS = gen.make_usccs(RNG, 3, ["341302"])


def failing(verdict: OutputVerdict, path: str) -> set[str]:
    return {r.id for r in verdict.file(path).failures()}


def scores(rows: int = 50) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "entity_id": [f"entity{i:05d}" for i in range(rows)],
            "score": np.linspace(0.01, 0.6, rows).round(4),
            "risk_grade": ["ABCDE"[i % 5] for i in range(rows)],
            "factor_1": ["涉诉案件记录数"] * rows,
            "factor_2": ["存在被执行人"] * rows,
            "factor_3": [""] * rows,
        }
    )


@pytest.fixture
def bank_out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    scores().write_csv(out / "scores.csv")
    return out


def test_a_clean_scores_folder_is_released(bank_out: Path) -> None:
    verdict = check_outputs(bank_out, POLICIES, "bank_credit")
    assert verdict.status is Status.PASS
    assert verdict.releasable
    assert verdict.summary_zh().startswith("产出检查通过")
    assert verdict.file("scores.csv").rows == 50


def test_a_notebook_that_prints_resident_ids_is_quarantined(bank_out: Path, tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("ids = " + repr(RESIDENT_IDS)),
        nbformat.v4.new_code_cell("for i in ids:\n    print('申请人', i)"),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    source = tmp_path / "leaky.ipynb"
    nbformat.write(notebook, str(source))
    execute(source, bank_out / "run.ipynb", {}, cwd=bank_out, start_timeout=60)
    (bank_out / "run.html").write_text(
        to_html(bank_out / "run.ipynb", hide_code=True), encoding="utf-8"
    )

    verdict = check_outputs(bank_out, POLICIES, "bank_credit")
    assert not verdict.releasable
    assert failing(verdict, "run.ipynb") == {"output.pii"}
    assert failing(verdict, "run.html") == {"output.pii"}  # the printed lines, code hidden
    evidence = verdict.file("run.ipynb").failures()[0].evidence
    assert any("cell 2 output 1" in e.where for e in evidence)
    shown = " ".join(e.value for e in evidence)
    assert "*" in shown
    assert not any(i in shown for i in RESIDENT_IDS)
    assert verdict.file("scores.csv").status is Status.PASS
    assert any("run.ipynb" in line for line in verdict.reasons_zh())


def test_an_undeclared_row_level_file_is_quarantined(bank_out: Path) -> None:
    scores().select("entity_id", "score").write_csv(bank_out / "debug_rows.csv")
    verdict = check_outputs(bank_out, POLICIES, "bank_credit")
    assert failing(verdict, "debug_rows.csv") == {"output.declared"}
    assert verdict.file("debug_rows.csv").kind == "undeclared"


def test_an_identifier_or_undeclared_column_in_a_scores_file_is_quarantined(bank_out: Path) -> None:
    frame = scores(3).with_columns(
        pl.Series("uscc", USCCS), pl.Series("total_assets", [1200.5, 88.0, 3.5])
    )
    frame.write_csv(bank_out / "scores.csv")
    verdict = check_outputs(bank_out, POLICIES, "bank_credit")
    assert failing(verdict, "scores.csv") == {"output.columns", "output.pii"}
    columns = next(r for r in verdict.file("scores.csv").results if r.id == "output.columns")
    assert {(e.what_en, e.value) for e in columns.evidence} == {
        ("identifier column", "uscc"),
        ("undeclared column", "total_assets"),
    }


def test_more_rows_than_the_limit_are_quarantined_unless_the_product_declares_them(
    bank_out: Path,
) -> None:
    scores(5005).write_csv(bank_out / "scores.csv")
    undeclared = _with_max_rows(POLICIES, None)  # the platform's default: 5 000 rows
    assert failing(check_outputs(bank_out, undeclared, "bank_credit"), "scores.csv") == {
        "output.columns"
    }
    assert check_outputs(bank_out, _with_max_rows(POLICIES, 6000), "bank_credit").releasable


def _with_max_rows(policies: Policies, rows: int | None) -> Policies:
    product = policies.outputs.products["bank_credit"]
    output = product.outputs[0].model_copy(update={"max_rows": rows})
    products = policies.outputs.products | {
        "bank_credit": product.model_copy(update={"outputs": [output]})
    }
    return policies.model_copy(
        update={"outputs": policies.outputs.model_copy(update={"products": products})}
    )


def test_a_disallowed_file_type_is_quarantined_and_not_read(bank_out: Path) -> None:
    scores().write_parquet(bank_out / "scores.parquet")
    verdict = check_outputs(bank_out, POLICIES, "bank_credit")
    assert failing(verdict, "scores.parquet") == {"output.file_type", "output.declared"}
    assert "output.pii" not in {r.id for r in verdict.file("scores.parquet").results}


def test_a_file_whose_content_is_not_its_type_is_quarantined(tmp_path: Path) -> None:
    out = _coal_folder(tmp_path)
    (out / "charts" / "tonnage.png").write_text("entity_id,score\nx,1\n", encoding="utf-8")
    verdict = check_outputs(
        out, POLICIES, "coal_market", input_batch=_coal_batch(), period="monthly"
    )
    assert failing(verdict, "charts/tonnage.png") == {"output.file_type"}


def test_an_oversized_file_is_quarantined_without_being_read(tmp_path: Path) -> None:
    out = _coal_folder(tmp_path)
    (out / "charts" / "huge.png").write_bytes(PNG_SIGNATURE + b"\0" * (16 << 20))
    verdict = check_outputs(
        out, POLICIES, "coal_market", input_batch=_coal_batch(), period="monthly"
    )
    huge = verdict.file("charts/huge.png")
    assert failing(verdict, "charts/huge.png") == {"output.size"}
    assert huge.bytes == (16 << 20) + len(PNG_SIGNATURE)
    assert {r.id for r in huge.results} == {"output.declared", "output.size"}


def test_a_link_out_of_the_folder_is_quarantined_not_followed(
    bank_out: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "masked_rows.csv"
    secret.write_text("id_number\n" + "\n".join(RESIDENT_IDS), encoding="utf-8")
    os.symlink(secret, bank_out / "scores_extra.csv")
    verdict = check_outputs(bank_out, POLICIES, "bank_credit")
    assert verdict.file("scores_extra.csv").kind == "special"
    assert failing(verdict, "scores_extra.csv") == {"output.file_type"}


def test_a_chart_that_hides_an_identifier_in_its_metadata_is_quarantined(tmp_path: Path) -> None:
    out = _coal_folder(tmp_path)
    chart = out / "charts" / "price.png"
    body = b"Comment\0" + f"矿长 {RESIDENT_IDS[0]}".encode()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body) & 0xFFFFFFFF)
    data = chart.read_bytes()
    chart.write_bytes(data[:33] + chunk + data[33:])  # after the IHDR chunk
    verdict = check_outputs(
        out, POLICIES, "coal_market", input_batch=_coal_batch(), period="monthly"
    )
    assert failing(verdict, "charts/price.png") == {"output.pii"}


# ---------------------------------------------------------------- aggregate tables


def _coal_batch() -> pl.DataFrame:
    """Weighbridge records of 40 mines over two months; 褐煤 comes from three mines."""
    rng = np.random.default_rng(5)
    rows = []
    for m in range(40):
        coal = "褐煤" if m < 3 else ("动力煤" if m % 2 else "焦煤")
        for day in rng.integers(1, 28, 6):
            for month in (5, 6):
                rows.append(
                    (f"coal_mine:mine{m:02d}", dt.date(2026, month, int(day)), float(rng.uniform(28, 33)),
                     float(rng.normal(900 if coal != "焦煤" else 1500, 30)), coal)
                )  # fmt: skip
    return pl.DataFrame(
        rows,
        schema=["mine_name", "weighed_at", "net_weight", "unit_price", "coal_type"],
        orient="row",
    )


def _coal_folder(tmp_path: Path) -> Path:
    """What the coal notebook writes, built with `publish`: passes the check."""
    out = tmp_path / "coal"
    (out / "tables").mkdir(parents=True)
    (out / "charts").mkdir()
    rules = rules_for(POLICIES, "coal_market")
    assert rules.product is not None
    batch = _coal_batch()
    for output in rules.product.outputs:
        if output.table is not None:
            publish(batch, output.table, rules.disclosure, period="monthly").write_csv(
                str(out / output.name)
            )
    from matplotlib import pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots()
    axes.plot([1, 2, 3])
    for name in ("tonnage", "price"):
        figure.savefig(out / "charts" / f"{name}.png")
    plt.close(figure)
    (out / "forecast.json").write_text('{"forecast": []}', encoding="utf-8")
    (out / "report.md").write_text("# 煤炭市场月报\n", encoding="utf-8")
    return out


def test_a_coal_report_built_with_publish_is_released(tmp_path: Path) -> None:
    out = _coal_folder(tmp_path)
    verdict = check_outputs(
        out, POLICIES, "coal_market", input_batch=_coal_batch(), period="monthly"
    )
    assert verdict.releasable, verdict.reasons_en()
    tonnage = next(
        r for r in verdict.file("tables/tonnage.csv").results if r.id == "output.disclosure"
    )
    assert tonnage.figures["suppressed_cells"] == 2  # 褐煤 in May and in June: three mines


def test_a_table_showing_a_small_cell_is_quarantined(tmp_path: Path) -> None:
    out = _coal_folder(tmp_path)
    raw = (
        _coal_batch()
        .with_columns(pl.col("weighed_at").dt.truncate("1mo").cast(pl.String).alias("period"))
        .group_by("period", "coal_type")
        .agg(pl.col("net_weight").sum().alias("tonnage_t"))
    )
    raw.write_csv(out / "tables" / "tonnage.csv")
    verdict = check_outputs(
        out, POLICIES, "coal_market", input_batch=_coal_batch(), period="monthly"
    )
    assert failing(verdict, "tables/tonnage.csv") == {"output.disclosure"}
    result = verdict.file("tables/tonnage.csv").failures()[0]
    assert {e.where for e in result.evidence} == {
        "tables/tonnage.csv: period=2026-05-01, coal_type=褐煤",
        "tables/tonnage.csv: period=2026-06-01, coal_type=褐煤",
    }
    assert all("贡献单位数低于阈值" in e.what_zh for e in result.evidence)


def test_margins_that_include_the_suppressed_cells_are_quarantined(tmp_path: Path) -> None:
    out = _coal_folder(tmp_path)
    path = out / "tables" / "tonnage.csv"
    published = pl.read_csv(path, schema_overrides={"period": pl.String})
    true_totals = (
        _coal_batch()
        .with_columns(pl.col("weighed_at").dt.truncate("1mo").cast(pl.String).alias("period"))
        .group_by("period")
        .agg(pl.col("net_weight").sum().alias("true"))
    )
    leaky = (
        published.join(true_totals, on="period", how="left")
        .with_columns(
            pl.when(pl.col("coal_type") == MARGIN)
            .then(pl.col("true"))
            .otherwise(pl.col("tonnage_t"))
            .alias("tonnage_t")
        )
        .drop("true")
    )
    leaky.write_csv(path)
    verdict = check_outputs(
        out, POLICIES, "coal_market", input_batch=_coal_batch(), period="monthly"
    )
    evidence = verdict.file("tables/tonnage.csv").failures()[0].evidence
    assert {e.where for e in evidence} == {
        f"tables/tonnage.csv: period=2026-05-01, coal_type={MARGIN}",
        f"tables/tonnage.csv: period=2026-06-01, coal_type={MARGIN}",
    }
    assert all(e.what_en.startswith("a margin includes suppressed cells") for e in evidence)


def test_a_mine_that_dominates_a_cell_is_caught(tmp_path: Path) -> None:
    batch = _coal_batch()
    giant = pl.DataFrame(
        {"mine_name": ["coal_mine:mine05"], "weighed_at": [dt.date(2026, 5, 3)], "net_weight": [90_000.0],
         "unit_price": [900.0], "coal_type": ["动力煤"]}
    )  # fmt: skip
    batch = pl.concat([batch, giant])  # one mine: over 85 % of May's 动力煤
    out = _coal_folder(tmp_path)
    rules = rules_for(POLICIES, "coal_market")
    spec = next(o.table for o in rules.product.outputs if o.name == "tables/tonnage.csv")  # type: ignore[union-attr]
    assert spec is not None
    naive = publish(
        batch,
        spec,
        rules.disclosure.__class__(min_units=10, dominance_k=1.0, p_ratio=0.0),
        period="monthly",
    )
    naive.write_csv(str(out / "tables" / "tonnage.csv"))  # a table that ignores dominance
    verdict = check_outputs(out, POLICIES, "coal_market", input_batch=batch, period="monthly")
    reasons = " ".join(e.what_en for e in verdict.file("tables/tonnage.csv").failures()[0].evidence)
    assert "dominated" in reasons
    safe = publish(batch, spec, rules.disclosure, period="monthly")
    safe.write_csv(str(out / "tables" / "tonnage.csv"))
    assert (
        check_outputs(out, POLICIES, "coal_market", input_batch=batch, period="monthly")
        .file("tables/tonnage.csv")
        .status
        is Status.PASS
    )


def test_a_table_cannot_be_released_without_the_batch_to_rebuild_it(tmp_path: Path) -> None:
    out = _coal_folder(tmp_path)
    verdict = check_outputs(out, POLICIES, "coal_market", period="monthly")
    assert verdict.file("tables/tonnage.csv").status is Status.ERROR
    assert not verdict.releasable
