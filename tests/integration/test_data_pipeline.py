"""The data plane end to end, through the real CLI: `shuyu data keygen → generate →
mask → views` for every scenario at small scale, then what the partner would mount is
checked against the promises: only masked, authorised columns, no raw identifier
anywhere, k-anonymity reached, splits disjoint, manifests true to the files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from shuyu.data.masking.report import REPORT_JSON, MaskingReport
from shuyu.data.view_manifest import HOLDOUT_FILE, TRAIN_FILE, read_manifest
from shuyu.fsutil import file_sha256
from shuyu.policy import load_policies
from shuyu.policy.models import Policies, Role

pytestmark = [pytest.mark.integration, pytest.mark.host]

SCALE = "300"


def shuyu(*args: str, key: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SHUYU_MASKING_KEY_FILE"}
    if key is not None:
        env["SHUYU_MASKING_KEY_FILE"] = str(key)
    return subprocess.run(
        [sys.executable, "-m", "shuyu.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def policies() -> Policies:
    return load_policies()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pipeline")
    key = base / "secrets" / "masking.key"
    ok(shuyu("data", "keygen", "--out", str(key)))
    ok(shuyu("data", "generate", "--out", str(base / "raw"), "--scale", SCALE, "--seed", "11"))
    ok(shuyu("data", "mask", "--raw", str(base / "raw"), "--out", str(base / "masked"), key=key))
    ok(
        shuyu(
            "data", "views", "--masked", str(base / "masked"), "--out", str(base / "views"), key=key
        )
    )
    return base


def test_every_scenario_has_a_usable_view(pipeline: Path, policies: Policies) -> None:
    views = pipeline / "views"
    assert sorted(p.name for p in views.iterdir()) == sorted(policies.scenarios)
    for sid, scenario in policies.scenarios.items():
        manifest = read_manifest(views / sid)
        train = pl.read_parquet(views / sid / TRAIN_FILE)
        holdout = pl.read_parquet(views / sid / HOLDOUT_FILE)
        expected = ["entity_id", *scenario.feature_names, scenario.label.name]
        assert train.columns == expected, sid
        assert holdout.columns == expected, sid
        assert (manifest.train_rows, manifest.holdout_rows) == (train.height, holdout.height)
        assert train.height >= 20, sid
        assert holdout.height >= 1, sid
        assert manifest.train_sha256 == file_sha256(views / sid / TRAIN_FILE)
        assert manifest.holdout_sha256 == file_sha256(views / sid / HOLDOUT_FILE)
        assert not set(train["entity_id"]) & set(holdout["entity_id"])
        label = train[scenario.label.name]
        assert label.null_count() == 0
        if scenario.label.task == "classification":
            assert label.n_unique() == 2, f"{sid}: a label with one class teaches nothing"
        else:
            assert label.dtype == pl.Float64
            assert label.std() > 0


def test_the_masked_zone_reaches_k_and_carries_no_personal_data(
    pipeline: Path, policies: Policies
) -> None:
    report = MaskingReport.model_validate_json((pipeline / "masked" / REPORT_JSON).read_text())
    assert report.pii_findings == []
    assert {d.id for d in report.datasets} >= set(policies.used_datasets())
    for entry in report.datasets:
        assert file_sha256(pipeline / "masked" / entry.file) == entry.sha256
        kan = entry.k_anonymity
        if kan is not None and kan.achieved_k is not None:
            assert kan.achieved_k >= kan.k, entry.id


def test_no_raw_identifier_reaches_the_masked_zone_or_a_view(
    pipeline: Path, policies: Policies
) -> None:
    secrets: set[str] = set()
    for dataset_id in policies.used_datasets():
        raw = pl.read_parquet(pipeline / "raw" / f"{dataset_id}.parquet")
        for field in policies.dataset(dataset_id).fields:
            if field.role is Role.direct_identifier and field.masking.rule != "partial":
                secrets |= {s for s in raw[field.id].cast(pl.String).drop_nulls() if len(s) >= 6}
    assert len(secrets) > 500
    outputs = [*(pipeline / "masked").glob("*.parquet"), *(pipeline / "views").rglob("*.parquet")]
    for path in outputs:
        table = pl.read_parquet(path)
        cells = {v for c in table.columns for v in table[c].cast(pl.String).drop_nulls().unique()}
        assert not cells & secrets, path
        blob = "\n".join(cells)
        assert not [s for s in secrets if s in blob], path


def test_masking_is_repeatable_with_the_same_key(pipeline: Path, tmp_path: Path) -> None:
    key = pipeline / "secrets" / "masking.key"
    ok(shuyu("data", "mask", "--raw", str(pipeline / "raw"), "--out", str(tmp_path / "m"), key=key))
    first = json.loads((pipeline / "masked" / REPORT_JSON).read_text())
    again = json.loads((tmp_path / "m" / REPORT_JSON).read_text())
    assert again["masked_digest"] == first["masked_digest"]


def test_views_refuse_raw_data_and_masking_refuses_a_loose_key(
    pipeline: Path, tmp_path: Path
) -> None:
    key = pipeline / "secrets" / "masking.key"
    refused = shuyu(
        "data", "views", "--masked", str(pipeline / "raw"), "--out", str(tmp_path / "v"), key=key
    )
    assert refused.returncode == 2
    assert "not a masked directory" in refused.stderr
    loose = tmp_path / "loose.key"
    loose.write_text(key.read_text())
    loose.chmod(0o644)
    refused = shuyu(
        "data", "mask", "--raw", str(pipeline / "raw"), "--out", str(tmp_path / "m"), key=loose
    )
    assert refused.returncode == 2
    assert "chmod 600" in refused.stderr
    assert not (tmp_path / "v").exists()
    assert not (tmp_path / "m").exists()
