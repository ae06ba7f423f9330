"""Authorised views: only the scenario's columns, one row per entity, aggregated from
the masked zone, split deterministically, and unlinkable between scenarios."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from shuyu.cli.main import main
from shuyu.data.masking.key import KEY_FILE_ENV, generate_key_file, read_key
from shuyu.data.masking.mask import mask_directory
from shuyu.data.view_manifest import (
    HOLDOUT_FILE,
    PARQUET_METADATA_KEY,
    TRAIN_FILE,
    ViewManifest,
    read_manifest,
)
from shuyu.data.views import (
    AGGREGATION_EXPRESSIONS,
    build_views,
    entity_ids,
    read_embedded_manifest,
    scenario_hasher,
)
from shuyu.errors import InputError
from shuyu.fsutil import file_sha256
from shuyu.policy import load_policies
from shuyu.policy.aggregations import AGGREGATIONS
from shuyu.policy.base import FieldType
from shuyu.policy.models import Policies
from tests.unit.catalogue_frames import raw_frames, write_raw

KEY = bytes(range(32))
POLARS = {"string": pl.String, "int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean}


@pytest.fixture(scope="module")
def policies() -> Policies:
    return load_policies()


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory, policies: Policies) -> Path:
    base = tmp_path_factory.mktemp("zone")
    raw = write_raw(base / "raw", raw_frames(policies, n=300))
    mask_directory(raw, base / "masked", policies=policies, key=KEY)
    return base / "masked"


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory, zone: Path, policies: Policies) -> Path:
    out = tmp_path_factory.mktemp("views") / "views"
    build_views(zone, out, policies=policies, key=KEY)
    return out


def both(view: Path) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(view / TRAIN_FILE), pl.read_parquet(view / HOLDOUT_FILE)])


def test_every_scenario_gets_a_view(views: Path, policies: Policies) -> None:
    assert sorted(p.name for p in views.iterdir()) == sorted(policies.scenarios)
    for sid in policies.scenarios:
        manifest = read_manifest(views / sid)
        assert manifest.scenario == sid
        assert manifest.train_rows > 0
        assert manifest.holdout_rows > 0


def test_columns_are_the_entity_id_the_features_in_order_and_the_label(
    views: Path, policies: Policies
) -> None:
    for sid, scenario in policies.scenarios.items():
        manifest = read_manifest(views / sid)
        for name in (TRAIN_FILE, HOLDOUT_FILE):
            table = pl.read_parquet(views / sid / name)
            assert table.columns == ["entity_id", *scenario.feature_names, scenario.label.name], (
                f"{sid}/{name}"
            )
            types = [c.type for c in [*manifest.features, manifest.label]]
            assert table.dtypes[1:] == [POLARS[t] for t in types]
        assert manifest.feature_names == scenario.feature_names
        assert manifest.label.task == scenario.label.task
        assert manifest.dp == scenario.dp


def test_the_manifest_is_embedded_in_both_files_and_digests_match(views: Path) -> None:
    manifest = read_manifest(views / "bank_credit")
    assert manifest.train_sha256 == file_sha256(views / "bank_credit" / TRAIN_FILE)
    assert manifest.holdout_sha256 == file_sha256(views / "bank_credit" / HOLDOUT_FILE)
    for name in (TRAIN_FILE, HOLDOUT_FILE):
        path = views / "bank_credit" / name
        assert PARQUET_METADATA_KEY in (pq.read_schema(path).metadata or {})
        embedded = read_embedded_manifest(path)
        # a file cannot hold its own digest: view.json is the authority for those
        blank = {"train_sha256": "", "holdout_sha256": ""}
        assert embedded == manifest.model_copy(update=blank)


def test_splits_are_disjoint_and_follow_the_holdout_fraction(
    views: Path, policies: Policies
) -> None:
    for sid, scenario in policies.scenarios.items():
        train = pl.read_parquet(views / sid / TRAIN_FILE)
        holdout = pl.read_parquet(views / sid / HOLDOUT_FILE)
        assert not set(train["entity_id"]) & set(holdout["entity_id"])
        assert train["entity_id"].n_unique() == train.height  # one row per entity
        share = holdout.height / (train.height + holdout.height)
        assert abs(share - scenario.holdout_fraction) < 0.12, sid


def test_entity_ids_cannot_link_two_scenarios(views: Path) -> None:
    credit = set(both(views / "bank_credit")["entity_id"])
    bid = set(both(views / "bid_loan")["entity_id"])
    assert credit
    assert bid
    assert not credit & bid


def test_views_are_deterministic_whatever_the_row_order(
    tmp_path: Path, zone: Path, views: Path, policies: Policies
) -> None:
    shuffled = tmp_path / "masked"
    shutil.copytree(zone, shuffled)
    # the same masked rows in another order, with the report's digests updated
    report = json.loads((shuffled / "masking_report.json").read_text())
    for entry in report["datasets"]:
        path = shuffled / entry["file"]
        pl.read_parquet(path).sample(fraction=1.0, shuffle=True, seed=3).write_parquet(path)
        entry["sha256"] = file_sha256(path)
    (shuffled / "masking_report.json").write_text(json.dumps(report))
    build_views(shuffled, tmp_path / "views", policies=policies, key=KEY, scenario_id="bank_credit")
    for name in (TRAIN_FILE, HOLDOUT_FILE):
        again = pl.read_parquet(tmp_path / "views" / "bank_credit" / name)
        before = pl.read_parquet(views / "bank_credit" / name)
        assert again["entity_id"].to_list() == before["entity_id"].to_list()
        for column in again.columns:
            if again[column].dtype == pl.Float64:  # sums of floats in another order
                assert again[column].to_list() == pytest.approx(before[column].to_list())
            else:
                assert again[column].to_list() == before[column].to_list(), column


def test_features_aggregate_the_rows_of_each_entity(zone: Path, views: Path) -> None:
    """court_cases = count of judicial_case rows; unpaid months = payments with paid
    false; the label = any default on the scenario's product, absent without a loan."""
    basic = pl.read_parquet(zone / "enterprise_basic.parquet")
    ids = entity_ids(scenario_hasher(KEY, "bank_credit"), basic["uscc"].to_list(), 0.2)
    view = both(views / "bank_credit").join(ids, on="entity_id").rename({"_key": "uscc"})
    cases = pl.read_parquet(zone / "judicial_case.parquet").group_by("uscc").len("n")
    payments = (
        pl.read_parquet(zone / "social_insurance_payment.parquet")
        .filter(~pl.col("paid"))
        .group_by("uscc")
        .len("unpaid")
    )
    loans = (
        pl.read_parquet(zone / "bank_loan_outcome.parquet")
        .filter(pl.col("product") == "流动资金贷款")
        .group_by("uscc")
        .agg(pl.col("defaulted_12m").any().alias("label"))
    )
    got = (
        view.join(cases, on="uscc", how="left")
        .join(payments, on="uscc", how="left")
        .join(loans, on="uscc", how="left")
    )
    assert got.height > 10
    assert got["court_cases"].to_list() == got["n"].fill_null(0).to_list()
    assert got["social_insurance_unpaid_months"].to_list() == got["unpaid"].fill_null(0).to_list()
    assert got["default_12m"].to_list() == got["label"].to_list()
    # every enterprise with such a loan and not suppressed is in the view, and no other
    kept = loans.join(basic, on="uscc", how="semi")
    assert set(view["uscc"]) == set(kept["uscc"])


def test_every_aggregation_has_one_expression() -> None:
    assert list(AGGREGATION_EXPRESSIONS) == list(AGGREGATIONS)
    rows = pl.DataFrame({"k": ["a", "a", "b"], "flag": [True, True, False]})
    flags = rows.group_by("k", maintain_order=True).agg(
        AGGREGATION_EXPRESSIONS["sum"](pl.col("flag"), FieldType.bool)
    )
    assert flags["flag"].to_list() == [2, 0]  # a sum of flags counts the true ones


def test_a_regression_label_is_a_number(views: Path) -> None:
    manifest = read_manifest(views / "coal_market")
    assert (manifest.label.task, manifest.label.type) == ("regression", "float")
    assert both(views / "coal_market")["mean_unit_price"].null_count() == 0


def test_views_refuse_anything_but_an_intact_masked_zone(
    tmp_path: Path, zone: Path, policies: Policies
) -> None:
    raw = write_raw(tmp_path / "raw", raw_frames(policies, n=20))
    with pytest.raises(InputError, match="not a masked directory"):
        build_views(raw, tmp_path / "v1", policies=policies, key=KEY)
    tampered = tmp_path / "masked"
    shutil.copytree(zone, tampered)
    table = pl.read_parquet(tampered / "tax_record.parquet")
    table.head(10).write_parquet(tampered / "tax_record.parquet")
    with pytest.raises(InputError, match=r"tax_record\.parquet: missing or changed since masking"):
        build_views(tampered, tmp_path / "v2", policies=policies, key=KEY)
    assert not (tmp_path / "v1").exists()
    assert not (tmp_path / "v2" / "bank_credit").exists()
    with pytest.raises(InputError, match="unknown scenario"):
        build_views(zone, tmp_path / "v3", policies=policies, key=KEY, scenario_id="nope")


def test_the_cli_builds_one_scenario(
    tmp_path: Path, zone: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "masking.key"
    generate_key_file(key)
    monkeypatch.setenv(KEY_FILE_ENV, str(key))
    out = tmp_path / "views"
    code = main(
        ["data", "views", "--masked", str(zone), "--out", str(out), "--scenario", "coal_market"]
    )
    assert code == 0
    assert capsys.readouterr().out.startswith("coal_market: train ")
    assert [p.name for p in out.iterdir()] == ["coal_market"]
    manifest = ViewManifest.model_validate_json((out / "coal_market" / "view.json").read_text())
    # another key names the same entities differently
    train = pl.read_parquet(out / "coal_market" / TRAIN_FILE)
    ids = entity_ids(scenario_hasher(read_key(key), "coal_market"), ["x"], 0.2)
    assert manifest.train_rows == train.height
    assert ids.height == 1
