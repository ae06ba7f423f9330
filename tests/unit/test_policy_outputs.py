"""policies/outputs.yaml: what production runs may read and write, cross-checked against
the scenarios, and each mistake reported as `file: path: reason`."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from shuyu.errors import ProblemsError
from shuyu.policy import load_policies
from shuyu.policy.load import default_policies_dir
from shuyu.policy.models import DeclaredOutput
from shuyu.production.output_rules import rules_for

SHIPPED = default_policies_dir()


@pytest.fixture
def policies_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(SHIPPED, target)
    return target


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems(directory: Path) -> list[str]:
    with pytest.raises(ProblemsError) as raised:
        load_policies(directory)
    return [str(p) for p in raised.value.problems]


def test_every_product_is_a_scenarios_and_declares_what_its_kind_needs() -> None:
    policies = load_policies(SHIPPED)
    for scenario, product in policies.outputs.products.items():
        kinds = policies.scenario(scenario).output.kinds
        assert {o.kind for o in product.outputs} <= set(kinds)
        for output in product.outputs:
            if output.kind == "scores":
                assert output.key == "entity_id"
                assert "score" in output.columns


def test_a_scenario_is_made_stricter_by_its_own_rules_never_laxer() -> None:
    coal = rules_for(load_policies(SHIPPED), "coal_market").disclosure
    assert coal.min_units == 10  # the scenario says 5: the platform's 10 stands
    assert coal.dominance_k == 0.85  # the scenario's 85 % is stricter than 90 %
    health = rules_for(load_policies(SHIPPED), "health_underwriting").disclosure
    assert health.min_units == 20


def test_a_product_for_an_unknown_scenario_is_refused(policies_copy: Path) -> None:
    path = policies_copy / "outputs.yaml"
    edit(path, lambda d: d["products"].update(nowhere=d["products"]["bank_credit"]))
    assert problems(policies_copy) == [f"{path}: products.nowhere: unknown scenario 'nowhere'"]


def test_a_kind_the_scenario_does_not_allow_is_refused(policies_copy: Path) -> None:
    path = policies_copy / "outputs.yaml"

    def add_chart(data: dict[str, Any]) -> None:
        data["products"]["bank_credit"]["outputs"].append(
            {"name": "charts/*.png", "kind": "charts"}
        )

    edit(path, add_chart)
    assert problems(policies_copy) == [
        f"{path}: products.bank_credit.outputs[1].kind: scenario bank_credit does not allow "
        "charts outputs (its output.kinds are scores)"
    ]


def test_a_production_input_reads_only_authorised_fields(policies_copy: Path) -> None:
    path = policies_copy / "outputs.yaml"
    edit(path, lambda d: d["products"]["coal_market"]["input"]["fields"].append("plate"))
    assert problems(policies_copy) == [
        f"{path}: products.coal_market.input.fields[5]: coal_sales.plate is not among "
        "coal_market's authorised fields"
    ]


def test_the_reports_sale_times_are_authorised_because_the_product_reads_them(
    policies_copy: Path,
) -> None:
    path = policies_copy / "outputs.yaml"
    edit(path, lambda d: d["products"]["coal_market"]["input"]["fields"].remove("weighed_at"))
    found = problems(policies_copy)
    assert any(
        "coal_market.yaml: datasets.coal_sales[1]: field 'weighed_at' is authorised but no "
        "feature uses it" in p
        for p in found
    ), found


def test_a_scores_file_declares_its_key_and_columns() -> None:
    with pytest.raises(ValueError, match="declares its key and its columns"):
        DeclaredOutput(name="scores.csv", kind="scores")
    with pytest.raises(ValueError, match="declares its table"):
        DeclaredOutput(name="t.csv", kind="aggregates")
    with pytest.raises(ValueError, match="only a scores file"):
        DeclaredOutput(name="r.md", kind="reports", key="entity_id", columns=["score"])


def test_the_output_policy_file_is_required(policies_copy: Path) -> None:
    (policies_copy / "outputs.yaml").unlink()
    assert f"{policies_copy / 'outputs.yaml'}: -: file not found" in problems(policies_copy)


def test_a_table_is_built_only_from_columns_of_the_input_batch(policies_copy: Path) -> None:
    path = policies_copy / "outputs.yaml"

    def by_destination(data: dict[str, Any]) -> None:
        data["products"]["coal_market"]["outputs"][0]["table"]["by"] = ["period", "destination"]

    edit(path, by_destination)
    assert problems(policies_copy) == [
        f"{path}: products.coal_market.outputs[0].table: 'destination' is not a column of the "
        "input batch (coal_type, mine_name, net_weight, unit_price, weighed_at)"
    ]
