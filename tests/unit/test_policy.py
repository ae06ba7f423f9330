"""Policies: the shipped files are valid, and every kind of mistake is reported as
`file: path: reason` so that it can be fixed in one pass."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from shuyu.cli.main import main
from shuyu.errors import ProblemsError
from shuyu.policy import load_policies
from shuyu.policy.load import default_policies_dir
from shuyu.policy.models import Role

SHIPPED = default_policies_dir()


@pytest.fixture
def policies_copy(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(SHIPPED, target)
    return target


def edit(path: Path, change: Callable[[dict], None]) -> None:  # type: ignore[type-arg]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems(directory: Path) -> list[str]:
    with pytest.raises(ProblemsError) as raised:
        load_policies(directory)
    return [str(p) for p in raised.value.problems]


def test_the_shipped_policies_model_both_plans() -> None:
    policies = load_policies(SHIPPED)
    assert len(policies.catalogue) == 32
    assert set(policies.scenarios) == {
        "bank_credit",
        "bid_loan",
        "health_underwriting",
        "medical_insurance_supervision",
        "freight_truck_pricing",
        "coal_market",
        "sci_tech_finance",
    }
    providers = {d.provider for d in policies.catalogue.values()}
    for department in [
        "市市场监管局",
        "市税务局",
        "市人社局",
        "市住房公积金管理中心",
        "市中级人民法院",
        "市医保局",
        "市卫健委",
        "市公安局",
        "市交通运输局",
        "市能源局",
        "市公管局",
    ]:
        assert department in providers
    assert {p.plan for d in policies.catalogue.values() for p in d.plans} == {"suzhou", "ordos"}


def test_supervision_is_public_governance_and_free_the_others_are_paid() -> None:
    policies = load_policies(SHIPPED)
    free = {s.id for s in policies.scenarios.values() if s.free}
    assert free == {"medical_insurance_supervision"}


def test_grants_run_three_years_unless_cut_short() -> None:
    bank = load_policies(SHIPPED).scenario("bank_credit")
    assert bank.granted_on == dt.date(2026, 7, 1)
    assert bank.expires_on == dt.date(2029, 7, 1)
    assert bank.is_valid_on(dt.date(2026, 11, 23))
    assert not bank.is_valid_on(dt.date(2029, 7, 2))


def test_the_default_review_chain_is_provider_committee_bureau() -> None:
    policies = load_policies(SHIPPED)
    levels = policies.review_levels(policies.scenario("coal_market"))
    assert [level.id for level in levels] == ["data_provider", "expert_committee", "data_bureau"]


def test_no_direct_identifier_survives_masking_unchanged() -> None:
    for dataset in load_policies(SHIPPED).catalogue.values():
        for field in dataset.fields:
            if field.role is Role.direct_identifier:
                assert field.masking.rule != "keep", f"{dataset.id}.{field.id}"


def test_the_policies_load_without_the_data_stack() -> None:
    """The hub loads the policies and has no use for polars, numpy or pyarrow."""
    probe = (
        "import sys; from shuyu.policy import load_policies; load_policies(); "
        "print(sorted({'polars', 'numpy', 'pyarrow', 'torch'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_cli_prints_ok_with_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", "--policies", str(SHIPPED)]) == 0
    assert capsys.readouterr().out.strip() == "OK: 32 datasets, 7 scenarios"


def test_the_cli_prints_every_problem_and_exits_2(
    policies_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(policies_copy / "scenarios" / "coal_market.yaml", lambda d: d.update(partners=["nobody"]))
    edit(
        policies_copy / "scenarios" / "bid_loan.yaml",
        lambda d: d["datasets"]["bidding"].append("no_such_field"),
    )
    assert main(["policy", "check", "--policies", str(policies_copy)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert (
        f"{policies_copy}/scenarios/coal_market.yaml: partners[0]: unknown partner 'nobody'; add it to partners.yaml"
        in err
    )
    assert any(
        line.startswith(
            f"{policies_copy}/scenarios/bid_loan.yaml: datasets.bidding[7]: "
            "field 'no_such_field' is not in dataset bidding"
        )
        for line in err
    )


def test_an_authorised_field_no_feature_uses_is_refused(policies_copy: Path) -> None:
    edit(
        policies_copy / "scenarios" / "coal_market.yaml",
        lambda d: d["datasets"]["coal_mine"].append("recoverable_reserves"),
    )
    assert any(
        "datasets.coal_mine[8]: field 'recoverable_reserves' is authorised but no "
        "feature uses it; remove it (minimum necessary)" in p
        for p in problems(policies_copy)
    )


def test_a_grant_longer_than_three_years_is_refused(policies_copy: Path) -> None:
    edit(
        policies_copy / "scenarios" / "bank_credit.yaml",
        lambda d: d.update(valid_until="2029-07-02"),
    )
    assert any(
        "bank_credit.yaml: -: valid_until 2029-07-02 exceeds the 3-year authorisation "
        "period ending 2029-07-01" in p
        for p in problems(policies_copy)
    )


def test_keeping_a_direct_identifier_is_refused(policies_copy: Path) -> None:
    def keep_name(d: dict) -> None:  # type: ignore[type-arg]
        d["fields"][1]["masking"] = {"rule": "keep"}

    edit(policies_copy / "catalogue" / "enterprise_basic.yaml", keep_name)
    assert any(
        "enterprise_basic.yaml: fields[1]: a direct identifier cannot be kept" in p
        for p in problems(policies_copy)
    )


def test_a_masking_rule_must_fit_the_field_type(policies_copy: Path) -> None:
    def bucket_a_string(d: dict) -> None:  # type: ignore[type-arg]
        d["fields"][5]["masking"] = {"rule": "bucket", "edges": [1, 2]}

    edit(policies_copy / "catalogue" / "enterprise_basic.yaml", bucket_a_string)
    assert any(
        "fields[5]: masking rule 'bucket' needs a field of type float, int, not string" in p
        for p in problems(policies_copy)
    )


def test_a_model_input_may_count_identifiers_but_not_carry_them(policies_copy: Path) -> None:
    def use_case_number(d: dict) -> None:  # type: ignore[type-arg]
        d["features"].append(
            {"name": "case", "dataset": "judicial_case", "field": "case_no", "agg": "first"}
        )

    edit(policies_copy / "scenarios" / "bank_credit.yaml", use_case_number)
    assert any(
        "judicial_case.case_no is a direct identifier: only count or n_distinct of it "
        "may be a model input" in p
        for p in problems(policies_copy)
    )


def test_an_aggregation_must_fit_the_masked_type(policies_copy: Path) -> None:
    def sum_a_label(d: dict) -> None:  # type: ignore[type-arg]
        d["features"][9]["agg"] = "sum"

    edit(policies_copy / "scenarios" / "coal_market.yaml", sum_a_label)
    assert any(
        "coal_market.yaml: features[9].agg: sum needs a number, but the masked destination "
        "is string" in p
        for p in problems(policies_copy)
    )


def test_event_data_needs_an_aggregation(policies_copy: Path) -> None:
    def no_agg(d: dict) -> None:  # type: ignore[type-arg]
        d["features"][7].pop("agg")

    edit(policies_copy / "scenarios" / "coal_market.yaml", no_agg)
    assert any(
        "coal_market.yaml: features[7].agg: coal_sales has many rows per entity: give an agg" in p
        for p in problems(policies_copy)
    )


def test_bad_yaml_is_reported_with_its_line(policies_copy: Path) -> None:
    (policies_copy / "masking.yaml").write_text("k_anonymity: [5\n", encoding="utf-8")
    assert any(
        p.startswith(f"{policies_copy}/masking.yaml: line 2: not valid YAML")
        for p in problems(policies_copy)
    )


def test_a_file_name_must_match_its_id(policies_copy: Path) -> None:
    (policies_copy / "scenarios" / "coal_market.yaml").rename(
        policies_copy / "scenarios" / "coal.yaml"
    )
    assert (
        f"{policies_copy}/scenarios/coal.yaml: id: id 'coal_market' must match the file name 'coal'"
        in problems(policies_copy)
    )


def test_unknown_keys_are_errors_not_ignored(policies_copy: Path) -> None:
    edit(policies_copy / "selfcheck.yaml", lambda d: d.update(max_pii_finding=3))
    assert (
        f"{policies_copy}/selfcheck.yaml: max_pii_finding: Extra inputs are not permitted"
        in problems(policies_copy)
    )


def test_a_review_level_needs_someone_in_its_group(policies_copy: Path) -> None:
    edit(
        policies_copy / "review_chain.yaml",
        lambda d: d["levels"].append(
            {"id": "ministry", "name": "部委", "name_en": "Ministry", "group": "reviewers_ministry"}
        ),
    )
    assert (
        f"{policies_copy}/review_chain.yaml: levels[3].group: no staff account is in group 'reviewers_ministry'"
        in problems(policies_copy)
    )


def test_a_missing_directory_says_how_to_point_at_one(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope") == [
        f"{tmp_path}/nope: -: policy directory not found; pass --policies DIR or set SHUYU_POLICIES"
    ]
