"""A new workspace opens on its scenario's starter notebook and README; a partner's own
copies are never overwritten."""

from __future__ import annotations

from pathlib import Path

from shuyu.production.scenario_notebooks import scenario_file
from shuyu.sandbox.starter import place_starter_files


def test_a_new_workspace_gets_the_scenarios_notebook_and_readme(tmp_path: Path) -> None:
    assert place_starter_files(tmp_path, "bank_credit") == ["develop.ipynb", "README.md"]
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "/data/bank_credit/train.parquet" in readme
    expected = scenario_file("bank_credit", "develop.ipynb").read_bytes()
    assert (tmp_path / "develop.ipynb").read_bytes() == expected


def test_a_partners_edited_notebook_is_kept(tmp_path: Path) -> None:
    (tmp_path / "develop.ipynb").write_text("mine", encoding="utf-8")
    assert place_starter_files(tmp_path, "bank_credit") == ["README.md"]
    assert (tmp_path / "develop.ipynb").read_text(encoding="utf-8") == "mine"
    assert place_starter_files(tmp_path, "bank_credit") == []


def test_a_scenario_without_starter_files_opens_on_the_launcher(tmp_path: Path) -> None:
    assert place_starter_files(tmp_path, "sci_tech_finance") == []
    assert list(tmp_path.iterdir()) == []
