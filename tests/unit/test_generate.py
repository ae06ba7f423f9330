"""`shuyu data generate`: synthetic raw tables in the catalogue's shape, with valid
identifiers, keys that agree across tables and labels a model can learn."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shuyu.cli.main import main
from shuyu.data import identifiers, regions
from shuyu.data.generate import GENERATOR_VERSION, MANIFEST_FILE, generate_raw
from shuyu.errors import InputError
from shuyu.policy import Policies, load_policies
from shuyu.policy.models import FieldSpec, PiiKind, Scenario

# the output contract the masking step reads, spelt out independently of the generator
ARROW = {
    "string": pa.large_string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
}
VALID = {
    PiiKind.resident_id: identifiers.valid_resident_id_expr,
    PiiKind.uscc: identifiers.valid_uscc_expr,
    PiiKind.mobile: identifiers.valid_mobile_expr,
    PiiKind.plate: identifiers.valid_plate_expr,
    PiiKind.vin: identifiers.valid_vin_expr,
}
# columns that are legitimately empty for some rows, and why
NULLABLE = {
    ("credit_blacklist", "delisted_on"),  # still listed
    ("judicial_case", "enforced_amount"),  # nothing to enforce
    ("medical_insurance_enrolment", "employer_name"),  # residents' scheme has no employer
    ("medical_visit", "discharge_method"),  # outpatient visits have no discharge
    ("medical_audit_finding", "finding_type"),  # no violation found
}


@pytest.fixture(scope="module")
def policies() -> Policies:
    return load_policies()


@pytest.fixture(scope="module")
def raw(policies: Policies, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "raw"
    generate_raw(out, policies, scale=2000, seed=7)
    return out


def read(raw: Path, dataset: str) -> pl.DataFrame:
    return pl.read_parquet(raw / f"{dataset}.parquet")


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """Mann-Whitney AUC with ties counted half."""
    s = pl.Series(np.asarray(score, dtype=np.float64)).rank("average").to_numpy()
    y = np.asarray(label, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    return float((s[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


# ---------------------------------------------------------------- shape


def test_every_catalogue_dataset_is_written_with_its_fields_and_types(
    raw: Path, policies: Policies
) -> None:
    for dataset in policies.catalogue.values():
        schema = pq.read_schema(raw / f"{dataset.id}.parquet")
        assert schema.names == dataset.field_ids, dataset.id
        for f in dataset.fields:
            assert schema.field(f.id).type == ARROW[f.type.value], (dataset.id, f.id)
    written = {p.stem for p in raw.glob("*.parquet")}
    assert written == set(policies.catalogue)


def test_generation_manifest_records_seed_scale_version_and_rows(
    raw: Path, policies: Policies
) -> None:
    manifest = json.loads((raw / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["seed"] == 7
    assert manifest["scale"] == 2000
    assert manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["as_of"] == policies.masking.reference_date.isoformat()
    for dataset in policies.catalogue:
        assert manifest["rows"][dataset] == pq.read_metadata(raw / f"{dataset}.parquet").num_rows


def test_population_sizes_follow_scale(raw: Path) -> None:
    assert read(raw, "enterprise_basic").height == 2000
    assert read(raw, "resident_population").height == 2000
    assert read(raw, "vehicle_basic").height == 500
    assert read(raw, "coal_mine").height >= 60
    # events are many per entity: a year of tax returns, 12–24 months of contributions
    per_firm = read(raw, "tax_record").group_by("uscc").len()["len"]
    assert set(per_firm.unique().to_list()) <= {4, 12}
    months = read(raw, "social_insurance_payment").group_by("uscc").len()["len"]
    assert months.is_between(12, 24).all()


def test_no_enterprise_record_predates_the_enterprise(raw: Path) -> None:
    established = read(raw, "enterprise_basic").select("uscc", "established_on")
    for dataset, key, column in [
        ("tax_record", "uscc", "tax_period"),
        ("social_insurance_payment", "uscc", "pay_month"),
        ("judicial_case", "uscc", "filed_on"),
        ("credit_blacklist", "uscc", "listed_on"),
        ("patent", "uscc", "granted_on"),
        ("software_copyright", "uscc", "registered_on"),
        ("bidding", "winner_uscc", "published_on"),
        ("bank_loan_outcome", "uscc", "disbursed_on"),
    ]:
        joined = read(raw, dataset).join(established, left_on=key, right_on="uscc")
        early = joined.filter(
            pl.col(column).dt.month_start() < pl.col("established_on").dt.month_start()
        )
        assert early.is_empty(), dataset


def test_nulls_only_where_a_value_can_be_missing(raw: Path, policies: Policies) -> None:
    for dataset in policies.catalogue.values():
        frame = read(raw, dataset.id)
        for column, nulls in zip(frame.columns, frame.null_count().row(0), strict=True):
            if (dataset.id, column) not in NULLABLE:
                assert nulls == 0, (dataset.id, column)
    assert (
        read(raw, "medical_audit_finding")
        .filter(pl.col("violation_found") == pl.col("finding_type").is_null())
        .is_empty()
    )


# ---------------------------------------------------------------- identifiers and keys


def _pii_fields(policies: Policies) -> Iterator[tuple[str, FieldSpec]]:
    for dataset in policies.catalogue.values():
        for f in dataset.fields:
            if f.pii in VALID:
                yield dataset.id, f


def test_every_identifier_is_valid(raw: Path, policies: Policies) -> None:
    checked = set()
    for dataset_id, f in _pii_fields(policies):
        assert f.pii is not None
        values = read(raw, dataset_id).select(pl.col(f.id)).drop_nulls()
        bad = values.filter(~VALID[f.pii](pl.col(f.id)))
        assert bad.is_empty(), (dataset_id, f.id, bad.head(3).to_series().to_list())
        checked.add(f.pii)
    assert checked == set(VALID)


def test_half_the_entities_are_in_suzhou_and_half_in_ordos(raw: Path) -> None:
    firms = read(raw, "enterprise_basic")["region_code"].str.slice(0, 4).value_counts()
    assert dict(firms.iter_rows()) == {"3413": 1000, "1506": 1000}
    people = read(raw, "resident_population")
    assert (people["id_number"].str.slice(0, 6) == people["region_code"]).all()
    assert dict(people["region_code"].str.slice(0, 4).value_counts().iter_rows()) == {
        "3413": 1000,
        "1506": 1000,
    }
    vehicles = read(raw, "vehicle_basic").join(
        read(raw, "enterprise_basic").select("uscc", "region_code"),
        left_on="owner_uscc",
        right_on="uscc",
    )
    expected = pl.when(pl.col("region_code").str.starts_with("1506")).then(pl.lit("蒙K"))
    assert (
        vehicles["plate"].str.slice(0, 2)
        == vehicles.select(expected.otherwise(pl.lit("皖L"))).to_series()
    ).all()


def test_enterprise_names_are_distinct_and_placed_where_the_firm_is_registered(
    raw: Path,
) -> None:
    firms = read(raw, "enterprise_basic")
    assert firms["enterprise_name"].is_unique().all()
    for name, code, address in firms.select(
        "enterprise_name", "region_code", "address"
    ).iter_rows():
        county = regions.county(code)
        places = (county.name, county.city, county.province.removesuffix("省")[:2])
        assert name.startswith(places), (name, code)
        assert address.startswith(county.province + county.city + county.name), (address, code)


def test_a_person_born_in_the_id_is_the_person_in_the_records(raw: Path) -> None:
    people = read(raw, "resident_population")
    born = people["id_number"].str.slice(6, 8).str.to_date("%Y%m%d")
    assert (born == people["birth_date"]).all()
    odd = people["id_number"].str.slice(16, 1).cast(pl.Int64) % 2 == 1
    assert (odd == (people["gender"] == "男")).all()
    settled = read(raw, "medical_settlement").join(people, on="id_number", suffix="_pop")
    assert (settled["birth_date"] == settled["birth_date_pop"]).all()
    assert (settled["name"] == settled["name_pop"]).all()


def test_entity_keys_are_unique_and_event_keys_exist_in_their_entity_table(
    raw: Path, policies: Policies
) -> None:
    masters = {
        "enterprise": ("enterprise_basic", "uscc"),
        "person": ("resident_population", "id_number"),
        "vehicle": ("vehicle_basic", "vin"),
        "coal_mine": ("coal_mine", "mine_name"),
    }
    known = {kind: set(read(raw, ds)[key].to_list()) for kind, (ds, key) in masters.items()}
    for kind, (ds, _) in masters.items():
        assert len(known[kind]) == read(raw, ds).height, ds
    for dataset in policies.catalogue.values():
        frame = read(raw, dataset.id)
        for kind, key in dataset.keys.items():
            assert set(frame[key].to_list()) <= known[kind.value], (dataset.id, key)
        if dataset.grain == "entity":
            key = next(iter(dataset.keys.values()))
            assert frame[key].n_unique() == frame.height, dataset.id
    for dataset_id, column in [
        ("bank_loan_outcome", "loan_no"),
        ("bidding", "project_no"),
        ("judicial_case", "case_no"),
        ("medical_settlement", "settlement_id"),
        ("medical_visit", "visit_id"),
        ("patent", "patent_no"),
        ("software_copyright", "registration_no"),
        ("coal_sales", "sale_no"),
    ]:
        assert read(raw, dataset_id)[column].is_unique().all(), (dataset_id, column)


def test_an_enterprise_appears_across_its_tables_under_one_code_and_name(raw: Path) -> None:
    basic = read(raw, "enterprise_basic").select("uscc", "enterprise_name")
    for dataset, code, name in [
        ("tax_record", "uscc", "enterprise_name"),
        ("social_insurance_payment", "uscc", "enterprise_name"),
        ("judicial_case", "uscc", "enterprise_name"),
        ("bidding", "winner_uscc", "winner_name"),
        ("utility_payment", "uscc", "account_name"),
        ("vehicle_basic", "owner_uscc", "owner_name"),
    ]:
        joined = (
            read(raw, dataset)
            .select(code, name)
            .join(basic, left_on=code, right_on="uscc", how="left")
        )
        assert (joined[name] == joined["enterprise_name"]).all(), dataset
    # most enterprises have tax, social insurance and loan records to learn from
    for dataset in ("tax_record", "social_insurance_registration", "bank_loan_outcome"):
        assert read(raw, dataset)["uscc"].n_unique() > 0.8 * basic.height, dataset


def test_vehicle_events_carry_the_vehicles_own_plate(raw: Path) -> None:
    plates = read(raw, "vehicle_basic").select("vin", pl.col("plate").alias("registered"))
    for dataset in (
        "traffic_violation",
        "traffic_accident",
        "annual_inspection",
        "truck_operation",
    ):
        joined = read(raw, dataset).join(plates, on="vin")
        assert (joined["plate"] == joined["registered"]).all(), dataset


# ---------------------------------------------------------------- labels with signal


def _label_coverage(raw: Path, policies: Policies, scenario: Scenario) -> float:
    label = scenario.label
    dataset = policies.catalogue[label.dataset]
    frame = read(raw, label.dataset)
    if label.where is not None:
        frame = frame.filter(pl.col(label.where.field).is_in(label.where.values))
    spine = policies.catalogue[scenario.spine]
    entities = read(raw, scenario.spine)[spine.keys[scenario.entity]].n_unique()
    return frame[dataset.keys[scenario.entity]].n_unique() / entities


def test_each_scenarios_label_exists_for_a_large_share_of_its_entities(
    raw: Path, policies: Policies
) -> None:
    for scenario in policies.scenarios.values():
        assert _label_coverage(raw, policies, scenario) > 0.4, scenario.id


def _working_capital_loans(raw: Path) -> pl.DataFrame:
    return (
        read(raw, "bank_loan_outcome")
        .filter(pl.col("product") == "流动资金贷款")
        .group_by("uscc")
        .agg(pl.col("defaulted_12m").any())
    )


def _per_firm(raw: Path, dataset: str, expr: pl.Expr, name: str) -> pl.DataFrame:
    return read(raw, dataset).group_by("uscc").agg(expr.alias(name))


def test_defaults_follow_tax_arrears_court_and_social_insurance_records(raw: Path) -> None:
    loans = (
        _working_capital_loans(raw)
        .join(
            _per_firm(raw, "tax_record", pl.col("arrears_amount").sum(), "arrears"),
            on="uscc",
            how="left",
        )
        .join(
            _per_firm(raw, "judicial_case", pl.col("is_enforced").any().cast(pl.Int64), "enforced"),
            on="uscc",
            how="left",
        )
        .join(
            read(raw, "social_insurance_registration").select("uscc", "arrears_months"),
            on="uscc",
            how="left",
        )
        .fill_null(0)
    )
    y = loans["defaulted_12m"].to_numpy()
    assert 0.03 < y.mean() < 0.3
    for driver in ("arrears", "enforced", "arrears_months"):
        assert 0.55 < auc(loans[driver].cast(pl.Float64).to_numpy(), y) < 0.95, driver
    combined = (
        np.log1p(loans["arrears"].to_numpy())
        + 2 * loans["enforced"].cast(pl.Float64).to_numpy()
        + loans["arrears_months"].to_numpy()
    )
    assert 0.65 < auc(combined, y) < 0.99


def test_a_logistic_model_on_bank_credit_features_learns_but_not_perfectly(raw: Path) -> None:
    from sklearn import linear_model  # noqa: PLC0415 - the train extra

    levels = {"A": 0, "B": 1, "C": 2, "D": 3}
    frame = (
        _working_capital_loans(raw)
        .join(
            _per_firm(raw, "tax_record", pl.col("arrears_amount").sum().log1p(), "arrears"),
            on="uscc",
            how="left",
        )
        .join(
            _per_firm(
                raw,
                "judicial_case",
                pl.col("is_dishonest_debtor").any().cast(pl.Int64),
                "dishonest",
            ),
            on="uscc",
            how="left",
        )
        .join(
            _per_firm(raw, "utility_payment", pl.col("defaults_2y").sum(), "utility"),
            on="uscc",
            how="left",
        )
        .join(
            read(raw, "social_insurance_registration").select("uscc", "arrears_months"),
            on="uscc",
            how="left",
        )
        .join(
            read(raw, "credit_rating").select(
                "uscc", pl.col("credit_level").replace_strict(levels)
            ),
            on="uscc",
        )
        .join(
            _per_firm(
                raw,
                "enterprise_annual_report",
                (pl.col("total_liabilities") / pl.col("total_assets")).mean(),
                "leverage",
            ),
            on="uscc",
            how="left",
        )
        .fill_null(0)
        .sort("uscc")
    )
    x = frame.drop("uscc", "defaulted_12m").cast(pl.Float64).to_numpy()
    y = frame["defaulted_12m"].to_numpy()
    half = len(y) // 2
    model = linear_model.LogisticRegression(max_iter=1000).fit(x[:half], y[:half])
    held_out = auc(model.predict_proba(x[half:])[:, 1], y[half:])
    assert 0.7 < held_out < 0.95


def test_health_claims_follow_chronic_disease_and_age(raw: Path, policies: Policies) -> None:
    as_of = policies.masking.reference_date
    claims = (
        read(raw, "health_claim")
        .select("id_number", "claimed_next_year")
        .join(
            read(raw, "chronic_disease_registration").group_by("id_number").len("chronic"),
            on="id_number",
            how="left",
        )
        .join(read(raw, "resident_population").select("id_number", "birth_date"), on="id_number")
        .with_columns(
            pl.col("chronic").fill_null(0),
            age=(pl.lit(as_of) - pl.col("birth_date")).dt.total_days(),
        )
    )
    y = claims["claimed_next_year"].to_numpy()
    assert 0.65 < auc(claims["chronic"].to_numpy(), y) < 0.99
    assert 0.6 < auc(claims["age"].to_numpy(), y) < 0.99


def test_truck_claims_follow_violations_and_accidents(raw: Path) -> None:
    counts = (
        read(raw, "truck_claim")
        .select("vin", "has_claim")
        .join(
            read(raw, "traffic_violation").group_by("vin").len("violations"), on="vin", how="left"
        )
        .join(read(raw, "traffic_accident").group_by("vin").len("accidents"), on="vin", how="left")
        .fill_null(0)
    )
    y = counts["has_claim"].to_numpy()
    score = counts["violations"].to_numpy() + 3 * counts["accidents"].to_numpy()
    assert 0.65 < auc(score, y) < 0.99


def test_audit_findings_follow_anomalous_settlement_patterns(raw: Path) -> None:
    pattern = (
        read(raw, "medical_settlement")
        .group_by("id_number")
        .agg(
            (pl.col("medical_category") == "定点药店购药").sum().alias("pharmacy"),
            pl.col("institution_code").n_unique().alias("institutions"),
        )
    )
    audits = (
        read(raw, "medical_audit_finding").join(pattern, on="id_number", how="left").fill_null(0)
    )
    y = audits["violation_found"].to_numpy()
    assert 0.65 < auc(audits["pharmacy"].to_numpy(), y) < 0.99
    assert 0.6 < auc(audits["institutions"].to_numpy(), y) < 0.99


def test_coal_prices_trend_up_peak_in_winter_and_drive_sale_prices(raw: Path) -> None:
    prices = read(raw, "coal_price").filter(pl.col("coal_type") == "动力煤")
    by_year = prices.group_by("year").agg(pl.col("price").mean()).sort("year")["price"]
    assert by_year[-1] > by_year[0]
    winter = prices.filter(pl.col("month").is_in([12, 1]))["price"].mean()
    spring = prices.filter(pl.col("month").is_in([4, 5]))["price"].mean()
    assert isinstance(winter, float)
    assert isinstance(spring, float)
    assert winter > spring
    sales = (
        read(raw, "coal_sales")
        .with_columns(year=pl.col("weighed_at").dt.year(), month=pl.col("weighed_at").dt.month())
        .join(read(raw, "coal_price"), on=["year", "month", "coal_type"])
    )
    assert sales.height == read(raw, "coal_sales").height
    # within one mine and coal type (same seam, same transport), a sale's price moves
    # with the month's published price, plus haggling noise
    within = sales.select(
        *(
            (pl.col(c).log() - pl.col(c).log().mean().over("mine_name", "coal_type")).alias(c)
            for c in ("unit_price", "price")
        )
    )
    corr = np.corrcoef(within["unit_price"], within["price"])[0, 1]
    assert 0.6 < corr < 0.999
    assert (sales["total_price"] - sales["unit_price"] * sales["net_weight"]).abs().max() < 0.01  # type: ignore[operator]
    assert (
        (sales["gross_weight"] - sales["tare_weight"] - sales["net_weight"]).abs() < 0.011
    ).all()


# ---------------------------------------------------------------- determinism and failure


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_data(
    policies: Policies, tmp_path: Path
) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_raw(first, policies, scale=80, seed=11)
    generate_raw(second, policies, scale=80, seed=11)
    generate_raw(other, policies, scale=80, seed=12)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    a = read(first, "enterprise_basic")["uscc"].to_list()
    c = read(other, "enterprise_basic")["uscc"].to_list()
    assert not set(a) & set(c)


def test_cli_generates_and_reports_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "raw"
    assert main(["data", "generate", "--out", str(out), "--scale", "50", "--seed", "1"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("OK: 32 datasets,")
    assert str(out) in printed
    assert (out / MANIFEST_FILE).is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "49"], "--scale: must be between 50"),
        (["--seed", "-1"], "--seed: must be a non-negative integer"),
    ],
)
def test_bad_arguments_are_refused_on_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "raw"
    assert main(["data", "generate", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}")
    assert err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_out_is_kept_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "raw"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["data", "generate", "--out", str(out), "--scale", "50"]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert main(["data", "generate", "--out", str(out), "--scale", "50", "--force"]) == 0
    assert not (out / "notes.txt").exists()
    assert (out / MANIFEST_FILE).exists()


def test_an_out_that_is_a_file_is_refused(tmp_path: Path, policies: Policies) -> None:
    out = tmp_path / "raw"
    out.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="not a directory"):
        generate_raw(out, policies, scale=50, seed=0)


def test_a_catalogue_field_the_generator_cannot_fill_fails_and_leaves_the_old_output(
    policies: Policies, tmp_path: Path
) -> None:
    out = tmp_path / "raw"
    generate_raw(out, policies, scale=50, seed=0)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    basic = policies.catalogue["enterprise_basic"]
    extra = FieldSpec.model_validate(
        {
            "id": "employees_2030",
            "name": "2030年员工数",
            "name_en": "employees in 2030",
            "type": "int",
            "sensitivity": 2,
            "role": "other",
            "masking": {"rule": "keep"},
        }
    )
    broken = policies.model_copy(
        update={
            "catalogue": {
                **policies.catalogue,
                "enterprise_basic": basic.model_copy(update={"fields": [*basic.fields, extra]}),
            }
        }
    )
    with pytest.raises(InputError, match=r"enterprise_basic.*employees_2030"):
        generate_raw(out, broken, scale=50, seed=1, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]  # no staging left behind
