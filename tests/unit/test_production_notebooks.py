"""The scenario notebooks: each production notebook runs with Papermill on demo data made
by the real pipeline and a model exported by shuyu's own path, writes its declared
product, and what it writes passes the output check; every notebook passes the
self-check's static scan and ships with its scenario's README."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import nbformat
import polars as pl
import pytest

from shuyu.data.pipeline import build_demo_views
from shuyu.notebooks import execute, to_html
from shuyu.policy import load_policies
from shuyu.policy.models import Policies
from shuyu.production.inputs import dataset_batch, report_window, view_batch
from shuyu.production.output_check import PNG_SIGNATURE, check_outputs
from shuyu.production.output_rules import rules_for
from shuyu.production.scoring import feature_labels
from shuyu.selfcheck.static_code.units import code_units, scan_units
from shuyu.train.export import save_onnx
from shuyu.train.private import fit
from shuyu.train.view import load_view

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "notebooks" / "scenarios"
POLICIES = load_policies()
KEY = bytes(range(32))
SCORING = [
    "bank_credit",
    "bid_loan",
    "health_underwriting",
    "medical_insurance_supervision",
    "freight_truck_pricing",
]
PARAMETERS = {"run_date", "input_batch", "period", "output_dir"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """raw/, masked/ and views/ of a small demo world."""
    root = tmp_path_factory.mktemp("demo")
    build_demo_views(root, POLICIES, key=KEY, scale=400, seed=3)
    return root


@pytest.fixture(scope="module")
def models(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A model per scoring scenario, trained briefly (not privately: what matters here is
    the notebook, not the model) and exported to ONNX by shuyu.train."""
    folder = tmp_path_factory.mktemp("models")
    exported = {}
    for scenario in SCORING:
        result = fit(load_view(demo / "views" / scenario), epochs=2, batch_size=64, private=False)
        exported[scenario] = folder / f"{scenario}.onnx"
        save_onnx(result, exported[scenario])
    return exported


def _run(notebook: Path, out: Path, parameters: dict[str, object]) -> None:
    out.mkdir(parents=True)
    execute(
        notebook, out / "run.ipynb", parameters, cwd=out, start_timeout=60, execution_timeout=300
    )
    (out / "run.html").write_text(to_html(out / "run.ipynb", hide_code=True), encoding="utf-8")


def _released(out: Path, policies: Policies, scenario: str, **kwargs: object) -> None:
    verdict = check_outputs(out, policies, scenario, **kwargs)  # type: ignore[arg-type]
    assert verdict.releasable, "\n".join(verdict.reasons_en())


@pytest.mark.parametrize("scenario", SCORING)
def test_a_scoring_notebook_scores_the_batch_and_its_product_passes_the_check(
    scenario: str, demo: Path, models: dict[str, Path], tmp_path: Path
) -> None:
    batch = view_batch(demo / "views" / scenario)
    batch_path = tmp_path / "input" / "batch.parquet"
    batch_path.parent.mkdir()
    batch.write_parquet(batch_path)
    out = tmp_path / "out"
    _run(
        SCENARIOS / scenario / "production.ipynb",
        out,
        {
            "run_date": "2026-07-01",
            "model_path": str(models[scenario]),
            "input_batch": str(batch_path),
            "output_dir": str(out),
        },
    )
    _released(out, POLICIES, scenario, input_batch=batch, period="daily")

    declared = rules_for(POLICIES, scenario).product
    assert declared is not None
    scores_file = next(o for o in declared.outputs if o.kind == "scores")
    written = pl.read_csv(out / scores_file.name)
    assert written.columns[0] == "entity_id"
    assert sorted(written.columns) == sorted(["entity_id", *scores_file.columns])
    assert set(written.get_column("entity_id")) <= set(batch.get_column("entity_id"))
    assert written.get_column("score").is_between(0, 1).all()
    labels = set(feature_labels(POLICIES, scenario).values())
    for k in (1, 2, 3):
        named = set(written.get_column(f"factor_{k}").fill_null("")) - {""}  # "": none strong
        assert named <= labels, named - labels  # feature names, never values
    if scenario == "medical_insurance_supervision":
        assert written.height <= 200
        assert (out / "summary.md").read_text(encoding="utf-8").startswith("# 医保消费监管")
    else:
        assert written.height == batch.height  # every subject of the batch scored
    if scenario == "freight_truck_pricing":
        assert written.get_column("pricing_factor").is_between(0.7, 1.5).all()


def test_the_coal_report_publishes_suppressed_tables_charts_and_a_forecast(
    demo: Path, tmp_path: Path
) -> None:
    raw = pl.read_parquet(demo / "raw" / "coal_sales.parquet")
    last_day = raw.get_column("weighed_at").max()
    assert isinstance(last_day, dt.datetime)
    start, end = report_window("monthly", last_day.date())
    product = rules_for(POLICIES, "coal_market").product
    assert product is not None
    batch = dataset_batch(raw, POLICIES, product.input, key=KEY, start=start, end=end)
    assert not any(name in batch.columns for name in ("plate", "customer_name", "sale_no"))
    assert batch.get_column("mine_name").str.starts_with("coal_mine:").all()  # pseudonyms
    batch_path = tmp_path / "batch.parquet"
    batch.write_parquet(batch_path)
    out = tmp_path / "out"
    _run(
        SCENARIOS / "coal_market" / "production.ipynb",
        out,
        {
            "run_date": end.isoformat(),
            "input_batch": str(batch_path),
            "period": "monthly",
            "output_dir": str(out),
        },
    )
    _released(out, POLICIES, "coal_market", input_batch=batch, period="monthly")

    tonnage = pl.read_csv(out / "tables" / "tonnage.csv", schema_overrides={"period": pl.String})
    months = tonnage.filter(pl.col("coal_type") == "合计").get_column("period").to_list()
    assert len(months) >= 20  # two years of months, each with its total
    for chart in ("tonnage", "shipments", "price", "forecast"):
        assert (out / "charts" / f"{chart}.png").read_bytes().startswith(PNG_SIGNATURE)
    predicted = json.loads((out / "forecast.json").read_text(encoding="utf-8"))["forecast"]
    assert len(predicted) == 3
    assert all(p["lower"] < p["value"] < p["upper"] for p in predicted)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "煤炭市场月报" in report
    assert "合计" in report


def _notebooks() -> Iterator[Path]:
    yield from sorted(SCENARIOS.glob("*/*.ipynb"))


def test_every_product_has_its_notebooks_and_readme() -> None:
    for scenario in POLICIES.outputs.products:
        folder = SCENARIOS / scenario
        assert (folder / "develop.ipynb").is_file(), scenario
        assert (folder / "production.ipynb").is_file(), scenario
        readme = (folder / "README.md").read_text(encoding="utf-8")
        policy = POLICIES.scenario(scenario)
        assert f"/data/{scenario}/train.parquet" in readme
        assert f"ε = {policy.dp.epsilon}，δ = {policy.dp.delta}" in readme
        missing = [f.name for f in policy.features if f"`{f.name}`" not in readme]
        assert not missing, f"{scenario}/README.md lacks fields {missing}"
        assert "shuyu.submit(" in readme
        assert "TrainingSpec(" in readme


@pytest.mark.parametrize("path", list(_notebooks()), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_scenario_notebook_passes_the_static_scan_and_has_its_parameters(path: Path) -> None:
    units, problems = code_units(path.read_text(encoding="utf-8"), path.name, notebook=True)
    findings = problems + scan_units(units, POLICIES.selfcheck)
    assert not findings, [(f.where, f.line, f.what_en) for f in findings]
    notebook = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    if path.name == "production.ipynb":
        names = {line.split("=")[0].strip() for line in tagged[0].source.splitlines()}
        assert names >= PARAMETERS
        if path.parent.name != "coal_market":
            assert {"model_uri", "model_path"} <= names
            assert f'"models:/{path.parent.name}.' in tagged[0].source
            assert '@approved"' in tagged[0].source


@pytest.mark.parametrize("path", list(_notebooks()), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_name_a_notebook_imports_from_shuyu_exists(path: Path) -> None:
    """The develop notebooks run in a sandbox, not here: at least what they import is real."""
    notebook = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shuyu"):
                module = importlib.import_module(node.module or "")
                missing = [
                    a.name
                    for a in node.names
                    if not hasattr(module, a.name)
                    and importlib.util.find_spec(f"{node.module}.{a.name}") is None
                ]
                assert not missing, f"{node.module} has no {missing}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    importlib.import_module(alias.name)
