"""`shuyu data mask` over a whole raw directory: the masked zone, its report, and
the guarantee that a failed run leaves nothing behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

from shuyu.cli.main import main
from shuyu.data.masking.key import KEY_FILE_ENV, generate_key_file
from shuyu.data.masking.mask import mask_directory
from shuyu.data.masking.report import REPORT_JSON, REPORT_TEXT, MaskingReport
from shuyu.errors import InputError, ShuyuError
from shuyu.fsutil import file_sha256
from shuyu.policy import load_policies
from shuyu.policy.models import Policies, Role
from tests.unit.catalogue_frames import raw_frames, write_raw

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def policies() -> Policies:
    return load_policies()


@pytest.fixture(scope="module")
def frames(policies: Policies) -> dict[str, pl.DataFrame]:
    return raw_frames(policies, n=150)


@pytest.fixture
def raw(tmp_path: Path, frames: dict[str, pl.DataFrame]) -> Path:
    return write_raw(tmp_path / "raw", frames)


@pytest.fixture(scope="module")
def masked(
    tmp_path_factory: pytest.TempPathFactory, policies: Policies, frames: dict[str, pl.DataFrame]
) -> tuple[Path, MaskingReport]:
    base = tmp_path_factory.mktemp("run")
    raw = write_raw(base / "raw", frames)
    report = mask_directory(raw, base / "masked", policies=policies, key=KEY)
    return base / "masked", report


def test_every_table_is_masked_with_its_report(masked: tuple[Path, MaskingReport]) -> None:
    out, report = masked
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{d.id}.parquet" for d in report.datasets] + [REPORT_JSON, REPORT_TEXT]
    )
    assert MaskingReport.model_validate_json((out / REPORT_JSON).read_text()) == report
    for entry in report.datasets:
        assert file_sha256(out / entry.file) == entry.sha256
        assert pl.read_parquet(out / entry.file).height == entry.rows_out
    assert report.pii_findings == []
    text = (out / REPORT_TEXT).read_text()
    assert "残留个人信息扫描：未发现 / Residual PII scan: nothing found" in text
    assert "k-匿名 k-anonymity" in text


def test_dropped_fields_are_gone_and_the_rest_follow_the_rules(
    masked: tuple[Path, MaskingReport], policies: Policies
) -> None:
    out, report = masked
    basic = pl.read_parquet(out / "enterprise_basic.parquet")
    assert "enterprise_name" not in basic.columns
    assert "address" not in basic.columns
    entry = report.dataset("enterprise_basic")
    assert entry is not None
    rules = {f.id: f.rule for f in entry.fields}
    assert rules["uscc"] == "pseudonym"
    assert rules["legal_rep_name"] == "drop"
    dataset = policies.dataset("enterprise_basic")
    assert basic.columns == [f.id for f in dataset.fields if f.masking.rule != "drop"]


def test_no_raw_identifier_appears_anywhere_in_the_masked_zone(
    masked: tuple[Path, MaskingReport], frames: dict[str, pl.DataFrame], policies: Policies
) -> None:
    out, _ = masked
    secrets: set[str] = set()
    for dataset in policies.catalogue.values():
        for field in dataset.fields:
            if field.role is Role.direct_identifier and field.masking.rule != "partial":
                secrets |= set(frames[dataset.id][field.id].cast(pl.String).drop_nulls())
    assert len(secrets) > 1000
    cells: set[str] = set()
    for path in out.glob("*.parquet"):
        table = pl.read_parquet(path)
        for column in table.columns:
            cells |= set(table[column].cast(pl.String).drop_nulls())
    assert not secrets & cells
    blob = "\n".join(cells)
    leaked = [s for s in list(secrets)[:3000] if len(s) >= 8 and s in blob]
    assert leaked == []


def test_pseudonyms_join_across_tables(
    masked: tuple[Path, MaskingReport], frames: dict[str, pl.DataFrame]
) -> None:
    out, _ = masked
    basic = pl.read_parquet(out / "enterprise_basic.parquet")
    tax = pl.read_parquet(out / "tax_record.parquet")
    # every tax row of a kept enterprise finds it; suppressed ones are gone from both
    assert set(tax["uscc"]) <= set(basic["uscc"])
    raw_basic, raw_tax = frames["enterprise_basic"], frames["tax_record"]
    code = raw_basic["uscc"][0]
    n_raw = raw_tax.filter(pl.col("uscc") == code).height
    basic_row = pl.read_parquet(out / "enterprise_basic.parquet")
    assert basic_row.height > 0
    assert n_raw >= 0


def test_k_anonymity_is_reached_for_every_dataset_with_quasi_identifiers(
    masked: tuple[Path, MaskingReport], policies: Policies
) -> None:
    out, report = masked
    checked = [d for d in report.datasets if d.k_anonymity is not None]
    assert {d.id for d in checked} >= {"enterprise_basic", "resident_population", "vehicle_basic"}
    for entry in checked:
        kan = entry.k_anonymity
        assert kan is not None
        assert kan.achieved_k is None or kan.achieved_k >= kan.k
        table = pl.read_parquet(out / entry.file)
        key = next(iter(policies.dataset(entry.id).keys.values()))
        sizes = table.group_by(kan.quasi_identifiers).agg(pl.col(key).n_unique())[key]
        assert sizes.len() == 0 or sizes.min() >= kan.k  # type: ignore[operator]
    population = report.dataset("resident_population")
    assert population is not None
    assert population.k_anonymity is not None
    assert population.k_anonymity.k == 10  # the policy's override


def test_a_residual_identifier_fails_the_run_and_leaves_nothing(
    tmp_path: Path, frames: dict[str, pl.DataFrame], policies: Policies
) -> None:
    """A kept free-text column that carries a phone number: the scan catches it."""
    leaky = dict(frames)
    leaky["judicial_case"] = frames["judicial_case"].with_columns(
        pl.format("{} 联系电话13812345678", pl.col("cause")).alias("cause")
    )
    raw = write_raw(tmp_path / "raw", leaky)
    with pytest.raises(ShuyuError, match=r"judicial_case\.cause.*mobile") as raised:
        mask_directory(raw, tmp_path / "masked", policies=policies, key=KEY)
    assert "13812345678" not in str(raised.value)
    assert not (tmp_path / "masked").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no staging debris either


def test_a_failure_midway_leaves_the_previous_output_untouched(
    tmp_path: Path, raw: Path, policies: Policies
) -> None:
    out = tmp_path / "masked"
    out.mkdir()
    (out / "previous.txt").write_text("old run")
    (raw / "tax_record.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(InputError, match=r"tax_record\.parquet: not a readable Parquet file"):
        mask_directory(raw, out, policies=policies, key=KEY, force=True)
    assert [p.name for p in out.iterdir()] == ["previous.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masked", "raw"]


def test_a_non_empty_output_needs_force(tmp_path: Path, raw: Path, policies: Policies) -> None:
    out = tmp_path / "masked"
    out.mkdir()
    (out / "x").write_text("x")
    with pytest.raises(InputError, match=r"--force"):
        mask_directory(raw, out, policies=policies, key=KEY)
    mask_directory(raw, out, policies=policies, key=KEY, force=True)
    assert not (out / "x").exists()
    assert (out / REPORT_JSON).exists()


def test_raw_tables_must_match_the_catalogue(
    tmp_path: Path, raw: Path, frames: dict[str, pl.DataFrame], policies: Policies
) -> None:
    tax = frames["tax_record"]
    tax.with_columns(pl.lit("x").alias("secret_note")).write_parquet(raw / "tax_record.parquet")
    with pytest.raises(InputError, match=r"secret_note are not in the catalogue entry"):
        mask_directory(raw, tmp_path / "m1", policies=policies, key=KEY)
    tax.drop("vat").write_parquet(raw / "tax_record.parquet")
    with pytest.raises(InputError, match=r"missing column.*vat"):
        mask_directory(raw, tmp_path / "m2", policies=policies, key=KEY)
    tax.with_columns(pl.col("vat").cast(pl.String)).write_parquet(raw / "tax_record.parquet")
    with pytest.raises(InputError, match=r"column vat: has type String.*float"):
        mask_directory(raw, tmp_path / "m3", policies=policies, key=KEY)
    tax.write_parquet(raw / "tax_record.parquet")
    tax.write_parquet(raw / "mystery.parquet")
    with pytest.raises(InputError, match=r"mystery.parquet not in the catalogue"):
        mask_directory(raw, tmp_path / "m4", policies=policies, key=KEY)
    (raw / "mystery.parquet").unlink()
    (raw / "tax_record.parquet").unlink()
    with pytest.raises(InputError, match=r"missing raw table.*tax_record.parquet"):
        mask_directory(raw, tmp_path / "m5", policies=policies, key=KEY)
    assert not any((tmp_path / f"m{i}").exists() for i in range(1, 6))


def test_the_cli_masks_with_the_key_from_the_environment(
    tmp_path: Path, raw: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "masking.key"
    generate_key_file(key)
    monkeypatch.setenv(KEY_FILE_ENV, str(key))
    assert main(["data", "mask", "--raw", str(raw), "--out", str(tmp_path / "masked")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 32 datasets masked")
    key_hex = key.read_text().strip()
    for path in (tmp_path / "masked").iterdir():
        assert key_hex.encode() not in path.read_bytes()
    report = json.loads((tmp_path / "masked" / REPORT_JSON).read_text())
    assert report["pii_findings"] == []
    assert os.environ[KEY_FILE_ENV] not in json.dumps(report)
