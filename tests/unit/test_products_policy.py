"""policies/products.yaml: the shipped products are valid, and a product that would
serve undeclared data, people without consent or another scenario's model is refused
with file, path and reason."""

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
from shuyu.products.policy import load_products_policy

SHIPPED = default_policies_dir()
POLICIES = load_policies(SHIPPED)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(SHIPPED, target)
    return target


def edit(directory: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = directory / "products.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems(directory: Path) -> list[str]:
    with pytest.raises(ProblemsError) as raised:
        load_products_policy(POLICIES, directory)
    return [str(p) for p in raised.value.problems]


def test_the_shipped_products_serve_a_bank_and_an_insurer() -> None:
    products = load_products_policy(POLICIES, SHIPPED)
    credit = products.product("enterprise_credit")
    health = products.product("health_underwriting")
    assert credit is not None
    assert health is not None
    assert (credit.identifier, credit.consent_required) == ("uscc", False)
    assert (health.identifier, health.consent_required) == ("resident_id", True)
    assert products.monitoring.timezone == "Asia/Shanghai"
    assert products.monitoring.night_calls is not None
    assert products.monitoring.night_calls.night.contains(0)
    assert not products.monitoring.night_calls.night.contains(6)


def test_a_product_may_declare_only_its_scenarios_features(copy: Path) -> None:
    edit(copy, lambda d: d["products"][0]["features"].append("legal_rep_name"))
    assert problems(copy) == [
        f"{copy / 'products.yaml'}: products[0].features[34]: "
        "'legal_rep_name' is not a feature of bank_credit"
    ]


def test_a_factor_must_be_a_declared_feature(copy: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["products"][0]["features"].remove("dishonest_debtor")

    edit(copy, change)
    (found,) = problems(copy)
    assert "factors name undeclared features: dishonest_debtor" in found


def test_people_are_scored_only_with_consent_and_by_resident_id(copy: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["products"][1]["consent_required"] = False

    edit(copy, change)
    assert any("consent_required: true" in p for p in problems(copy))

    def by_code(data: dict[str, Any]) -> None:
        data["products"][1]["identifier"] = "uscc"

    shutil.copy(SHIPPED / "products.yaml", copy / "products.yaml")
    edit(copy, by_code)
    assert any("products[1].identifier" in p and "person" in p for p in problems(copy))


def test_a_product_serves_a_model_of_its_own_scenario(copy: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["products"][0]["model"] = "health_underwriting.health_insurer"

    edit(copy, change)
    (found,) = problems(copy)
    assert "products[0].model" in found
    assert "bank_credit.suzhou_rcb" in found


def test_rules_are_checked_where_they_are_declared(copy: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["monitoring"]["timezone"] = "Mars/Olympus"
        data["monitoring"]["night_calls"]["night"] = {"start_hour": 6, "end_hour": 1}

    edit(copy, change)
    found = problems(copy)
    assert any("monitoring.night_calls.night" in p for p in found)
    assert any("unknown time zone" in p for p in found)
