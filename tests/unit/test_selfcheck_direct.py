"""原始/敏感/隐私数据直接暴露: each test is a way a partner could carry identifiers or
rows out in what the run leaves behind — notebook outputs, artifacts, archives, run
parameters, the model's own constants — and the clean submissions that must pass."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
import polars as pl
import pytest
from onnx import helper, numpy_helper

from shuyu.data.generate.identifiers import make_bank_cards, make_mobiles, make_resident_ids
from shuyu.data.masking.mask import mask_table
from shuyu.data.masking.pseudonym import Pseudonymiser
from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.direct_exposure import no_identifiers, no_verbatim_records
from shuyu.selfcheck.extracted import token_rows
from shuyu.selfcheck.fingerprints import (
    build_fingerprints,
    load_manifest,
    reproductions,
    value_hashes,
)
from shuyu.selfcheck.normal_form import canonical_values
from shuyu.selfcheck.registry import CHECKS
from shuyu.selfcheck.result import CheckResult, Status
from tests.unit.catalogue_frames import raw_frames
from tests.unit.selfcheck_snapshot import (
    TRAINING_NOTEBOOK,
    code_cell,
    context,
    exported_model,
    notebook,
    policies,
    run_record,
    stream,
    thresholds_with,
)

RNG = np.random.default_rng(11)
PEOPLE = make_resident_ids(RNG, 6, ["341302", "341321"], dt.date(1960, 1, 1), dt.date(2000, 12, 31))
MOBILES = make_mobiles(RNG, 3)
CARDS = make_bank_cards(RNG, 2)
TABLES = ("resident_population", "medical_settlement")


@pytest.fixture(scope="module")
def raw() -> dict[str, pl.DataFrame]:
    frames = raw_frames(policies(), n=120, seed=5)
    return {name: frames[name] for name in TABLES}


@pytest.fixture(scope="module")
def masked(raw: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    pseudonymiser = Pseudonymiser(bytes(range(32)))
    return {
        name: mask_table(
            frame,
            policies().dataset(name),
            pseudonymiser=pseudonymiser,
            reference_date=dt.date(2026, 6, 30),
        ).frame
        for name, frame in raw.items()
    }


@pytest.fixture
def snapshot(
    tmp_path: Path, raw: dict[str, pl.DataFrame], masked: dict[str, pl.DataFrame]
) -> CheckContext:
    ctx = context(tmp_path)
    tables = {f"raw.{k}": v for k, v in raw.items()} | {f"masked.{k}": v for k, v in masked.items()}
    build_fingerprints(tables, ctx.fingerprints_dir, ctx.thresholds.row_fingerprint_min_fields)
    return ctx


def text(result: CheckResult) -> str:
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False)


def wheres(result: CheckResult) -> str:
    return "\n".join(f"{e.where} | {e.what_en} | {e.value}" for e in result.evidence)


def assert_masked(result: CheckResult, *values: str) -> None:
    dumped = text(result)
    for value in values:
        assert value not in dumped, f"{value} appears unmasked"


def test_both_checks_are_registered_once() -> None:
    ids = [c.id for c in CHECKS]
    assert ids.count("direct.pii") == 1
    assert ids.count("direct.verbatim") == 1


# ------------------------------------------------------------------ clean submissions


def test_a_normal_training_run_passes_both_checks(snapshot: CheckContext) -> None:
    (snapshot.code_dir / "train.ipynb").write_text(TRAINING_NOTEBOOK)
    (snapshot.artifacts_dir / "preprocessing.json").write_text(
        json.dumps({"features": [{"name": "total_assets", "scaling": {"centre": 1.5e6}}]})
    )
    pl.DataFrame({"epoch": [0, 1, 2], "loss": [0.69, 0.68, 0.67]}).write_csv(
        snapshot.artifacts_dir / "history.csv"
    )
    for check in (no_identifiers, no_verbatim_records):
        result = check(snapshot)
        assert result.status is Status.PASS, (result.id, wheres(result))
        assert result.summary_zh
        assert result.summary_en
    assert no_identifiers(snapshot).figures["files"] >= 8  # model folder, artifacts, code


def test_a_predictions_file_of_full_precision_floats_is_not_taken_for_cards(
    snapshot: CheckContext,
) -> None:
    # ~1 in 40 such floats has a fraction that passes a bank card's or a mobile's checks
    scores = np.random.default_rng(3).random(5000)
    pl.DataFrame({"row": np.arange(5000), "score": scores}).write_csv(
        snapshot.artifacts_dir / "scores.csv"
    )
    (snapshot.artifacts_dir / "scores.json").write_text(json.dumps(scores.tolist()))
    assert no_identifiers(snapshot).status is Status.PASS


def test_aggregates_and_common_values_reproduce_no_record(
    snapshot: CheckContext, raw: dict[str, pl.DataFrame]
) -> None:
    people = raw["resident_population"]
    summary = people.group_by("gender").agg(pl.len().alias("n"), pl.col("birth_date").min())
    summary.write_csv(snapshot.artifacts_dir / "by_gender.csv")
    (snapshot.artifacts_dir / "log.txt").write_text("0 1 2 3 4 5\nM F true false 1 0\n")
    assert no_verbatim_records(snapshot).status is Status.PASS


# ------------------------------------------------------------------ identifiers


def test_notebook_output_printing_resident_ids_fails(snapshot: CheckContext) -> None:
    printed = "\n".join(f"{i}  {p}" for i, p in enumerate(PEOPLE[:3]))
    (snapshot.code_dir / "explore.ipynb").write_text(
        notebook(
            code_cell("import polars as pl"),
            code_cell("print(people['id_number'].head(3))", [stream(printed)]),
        )
    )
    result = no_identifiers(snapshot)
    assert result.status is Status.FAIL
    (finding,) = [e for e in result.evidence if "resident_id" in e.what_en]
    assert finding.what_en == "3 × resident_id"
    assert "code/explore.ipynb" in finding.where
    assert "cell 2 output 1" in finding.where
    assert finding.value == PEOPLE[0][:4] + "*" * 10 + PEOPLE[0][-4:]
    assert result.remedy_zh
    assert result.remedy_en
    assert_masked(result, *PEOPLE)


def test_identifiers_in_html_outputs_errors_and_cell_sources_are_found(
    snapshot: CheckContext,
) -> None:
    html = f"<table><tr><td>{MOBILES[0]}</td></tr></table>"
    error = {"output_type": "error", "ename": "KeyError", "evalue": PEOPLE[1], "traceback": []}
    (snapshot.code_dir / "nb.ipynb").write_text(
        notebook(
            code_cell("df", [{"output_type": "execute_result", "data": {"text/html": html}, "metadata": {}, "execution_count": 1}]),
            code_cell("lookup()", [error]),
            code_cell(f"card = '{CARDS[0]}'"),
        )
    )  # fmt: skip
    found = wheres(no_identifiers(snapshot))
    assert "cell 1 output 1 (text/html)" in found
    assert "mobile" in found
    assert "cell 2 output 1 (error)" in found
    assert "resident_id" in found
    assert "cell 3 line 1" in found
    assert "bank_card" in found


def test_a_csv_artifact_with_raw_rows_fails_both_checks(
    snapshot: CheckContext, raw: dict[str, pl.DataFrame]
) -> None:
    rows = raw["resident_population"].head(5)
    rows.write_csv(snapshot.artifacts_dir / "sample.csv")
    pii = no_identifiers(snapshot)
    assert pii.status is Status.FAIL
    assert "artifacts/sample.csv (line 2" in wheres(pii)
    verbatim = no_verbatim_records(snapshot)
    assert verbatim.status is Status.FAIL
    assert verbatim.figures["records_reproduced"] == 5
    (evidence,) = verbatim.evidence
    assert evidence.where.startswith("artifacts/sample.csv: line 2, line 3")
    assert "raw.resident_population" in evidence.what_en
    assert_masked(verbatim, *rows["id_number"].to_list())


def test_reformatted_reordered_and_partial_rows_are_still_found(
    snapshot: CheckContext, raw: dict[str, pl.DataFrame]
) -> None:
    settlements = raw["medical_settlement"].head(4)
    disguised = settlements.select(
        pl.all().exclude("id_number", "name").reverse().name.prefix("c_")  # no identifiers left
    ).with_columns(
        pl.col(pl.Date).dt.strftime("%Y/%m/%d"),
        pl.col(pl.Float64).map_elements(lambda x: f"{x:,}", return_dtype=pl.String),
    )
    disguised.write_csv(snapshot.artifacts_dir / "features.tsv", separator="\t")
    result = no_verbatim_records(snapshot)
    assert result.status is Status.FAIL
    assert result.figures["records_reproduced"] >= 4


def test_masked_rows_are_verbatim_records_too(
    snapshot: CheckContext, masked: dict[str, pl.DataFrame]
) -> None:
    rows = masked["resident_population"].head(3)
    (snapshot.artifacts_dir / "rows.json").write_text(json.dumps(rows.to_dicts(), default=str))
    result = no_verbatim_records(snapshot)
    assert result.status is Status.FAIL
    assert "masked.resident_population" in wheres(result)


def test_a_notebook_printing_a_frame_reproduces_its_rows(
    snapshot: CheckContext, masked: dict[str, pl.DataFrame]
) -> None:
    head = masked["medical_settlement"].head(2)
    shown = {  # as Jupyter keeps a polars frame: its HTML table and its text drawing
        "output_type": "execute_result",
        "execution_count": 1,
        "metadata": {},
        "data": {"text/html": head._repr_html_(), "text/plain": str(head)},
    }
    (snapshot.code_dir / "peek.ipynb").write_text(notebook(code_cell("df.head(2)", [shown])))
    result = no_verbatim_records(snapshot)
    assert result.status is Status.FAIL
    assert result.figures["records_reproduced"] >= 2  # the amounts are the raw ones as well
    assert "code/peek.ipynb: cell 1 output 1 table row" in wheres(result)
    assert "masked.medical_settlement" in wheres(result)


def test_a_model_that_memorises_rows_in_an_initializer_reproduces_them(tmp_path: Path) -> None:
    reports = raw_frames(policies(), n=60, seed=9)["enterprise_annual_report"]
    amounts = reports.select(pl.col(pl.Float64)).head(5)  # a nearest-neighbour "model"
    memory = numpy_helper.from_array(amounts.to_numpy().astype(np.float32), "memory")
    snapshot = context(tmp_path, model=exported_model(extra_initializers=[memory]))
    build_fingerprints({"raw.enterprise_annual_report": reports}, snapshot.fingerprints_dir, 4)
    result = no_verbatim_records(snapshot)
    assert result.status is Status.FAIL
    assert result.figures["records_reproduced"] == 5
    assert "model/model.onnx tensor 'memory' rows: row 1, row 2" in wheres(result)


@pytest.mark.parametrize(
    ("name", "tensor"),
    [
        ("as strings", numpy_helper.from_array(np.array(PEOPLE[:2], dtype=object), "vocab")),
        ("as int64", numpy_helper.from_array(np.array([int(p) for p in PEOPLE[:2] if p[-1] != "X"], dtype=np.int64), "w")),
        ("as float64", numpy_helper.from_array(np.array([float(PEOPLE[0][:17] + "0")], dtype=np.float64), "w")),
        ("17 digits", numpy_helper.from_array(np.array([int(PEOPLE[0][:17])], dtype=np.int64), "w")),
        ("one digit each", numpy_helper.from_array(np.array([int(c) for c in PEOPLE[0][:17]] + [0.5], dtype=np.float32), "w")),
        ("character codes", numpy_helper.from_array(np.array([ord(c) for c in PEOPLE[0]], dtype=np.int32), "w")),
        ("bytes", numpy_helper.from_array(np.frombuffer(PEOPLE[0].encode(), dtype=np.uint8).copy(), "w")),
        ("mobile as float64", numpy_helper.from_array(np.array([float(MOBILES[0]), 0.25]), "w")),
    ],
)  # fmt: skip
def test_identifiers_hidden_in_an_onnx_initializer_are_found(
    tmp_path: Path, name: str, tensor: onnx.TensorProto
) -> None:
    snapshot = context(tmp_path, model=exported_model(extra_initializers=[tensor]))
    result = no_identifiers(snapshot)
    assert result.status is Status.FAIL, name
    assert f"model/model.onnx tensor '{tensor.name}'" in wheres(result)
    assert_masked(result, *PEOPLE, *MOBILES)


def test_identifiers_in_onnx_metadata_names_and_constants_are_found(tmp_path: Path) -> None:
    constant = helper.make_node(
        "Constant", [], ["c"], name=f"node_{MOBILES[1]}",
        value=numpy_helper.from_array(np.array([int(CARDS[0])], dtype=np.int64)),
    )  # fmt: skip
    constant.doc_string = f"contact {PEOPLE[2]}"
    model = exported_model(nodes=[constant], metadata={"shuyu.note": f"{MOBILES[2]}@example.com"})
    found = wheres(no_identifiers(context(tmp_path, model=model)))
    for kind in ("resident_id", "mobile", "bank_card", "email"):
        assert kind in found, kind


def test_identifiers_in_run_parameters_tags_and_metrics_fail_without_being_shown(
    tmp_path: Path,
) -> None:
    run = run_record(
        params={"lr": "0.001", "example_customer": PEOPLE[3]},
        tags={f"contact_{MOBILES[0]}": "x", "owner": "ops@example.org"},
        metrics={f"loss_{PEOPLE[4]}": 0.1, "phone": float(MOBILES[1])},
    )
    result = no_identifiers(context(tmp_path, run=run))
    assert result.status is Status.FAIL
    found = wheres(result)
    assert "run parameters (parameter 'example_customer' value)" in found
    assert "run tags" in found
    assert "email" in found
    assert "run metrics (metric #1 name)" in found
    assert "run metric values" in found
    assert_masked(result, PEOPLE[3], PEOPLE[4], MOBILES[0], MOBILES[1])


def test_plain_parameter_and_metric_names_pass(tmp_path: Path) -> None:
    run = run_record(
        params={
            "epochs": "20",
            "hidden": "[64, 32]",
            "seed": "20240105",
            "noise_multiplier": "1.1",
        },
        metrics={"train_auc": 0.74, "epsilon": 2.98, "step_1700000000": 1.0, "rows": 85213.0},
    )
    assert no_identifiers(context(tmp_path, run=run)).status is Status.PASS


def test_a_parquet_artifact_is_scanned_by_column(snapshot: CheckContext) -> None:
    pl.DataFrame({"score": [0.1, 0.2, 0.3], "phone": MOBILES}).write_parquet(
        snapshot.artifacts_dir / "s.parquet"
    )
    found = wheres(no_identifiers(snapshot))
    assert "artifacts/s.parquet (column 'phone') | 3 × mobile" in found


def test_utf16_text_and_a_file_named_after_a_person_are_read(snapshot: CheckContext) -> None:
    (snapshot.artifacts_dir / "report.txt").write_bytes(f"客户 {PEOPLE[0]}\n".encode("utf-16-le"))
    (snapshot.artifacts_dir / f"{PEOPLE[1]}.txt").write_text("nothing inside")
    result = no_identifiers(snapshot)
    found = wheres(result)
    assert "artifacts/report.txt" in found
    assert f"artifacts/{PEOPLE[1][:4]}" in found  # the file name, masked
    assert_masked(result, PEOPLE[0], PEOPLE[1])


# ------------------------------------------------------------------ archives and limits


def test_identifiers_inside_nested_archives_are_found(snapshot: CheckContext) -> None:
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as tar:
        data = "\n".join(PEOPLE).encode()
        info = tarfile.TarInfo("deep/ids.csv")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with zipfile.ZipFile(
        snapshot.artifacts_dir / "bundle.zip", "w", zipfile.ZIP_DEFLATED
    ) as archive:
        archive.writestr("inner.tar.gz", gzip.compress(inner.getvalue()))
    found = wheres(no_identifiers(snapshot))
    assert "artifacts/bundle.zip!inner.tar.gz!inner.tar!deep/ids.csv" in found
    assert "6 × resident_id" in found


def test_a_zip_bomb_over_the_limits_fails_rather_than_being_skipped(tmp_path: Path) -> None:
    snapshot = context(
        tmp_path, policies_=thresholds_with(archive_max_bytes=1 << 20, archive_max_members=50)
    )
    with zipfile.ZipFile(snapshot.artifacts_dir / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * (4 << 20))  # 4 MiB that deflate to 4 KiB
    with zipfile.ZipFile(snapshot.artifacts_dir / "many.zip", "w") as archive:
        for i in range(60):
            archive.writestr(f"f{i}.txt", "x")
    result = no_identifiers(snapshot)
    assert result.status is Status.FAIL
    found = wheres(result)
    assert "artifacts/bomb.zip | archive over the unpacking limits" in found
    assert "artifacts/many.zip | archive over the unpacking limits" in found
    assert no_verbatim_records(snapshot).status in (Status.FAIL, Status.ERROR)


def test_archive_members_that_escape_or_link_fail(snapshot: CheckContext) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        link = tarfile.TarInfo("holdout")
        link.type, link.linkname = tarfile.SYMTYPE, "/data/bank_credit/holdout.parquet"
        tar.addfile(link)
        escape = tarfile.TarInfo("../../etc/cron.d/x")
        escape.size = 1
        tar.addfile(escape, io.BytesIO(b"x"))
    (snapshot.artifacts_dir / "t.tar").write_bytes(buffer.getvalue())
    found = wheres(no_identifiers(snapshot))
    assert "artifacts/t.tar!holdout | member is a link or a device" in found
    assert "artifacts/t.tar!../../etc/cron.d/x | member path escapes the archive" in found


def test_files_over_the_scan_limit_and_links_fail(tmp_path: Path) -> None:
    snapshot = context(tmp_path, policies_=thresholds_with(scan_max_file_bytes=4096))
    (snapshot.artifacts_dir / "big.txt").write_text("x" * 5000)
    (snapshot.artifacts_dir / "train.parquet").symlink_to("/data/bank_credit/train.parquet")
    result = no_identifiers(snapshot)
    assert result.status is Status.FAIL
    found = wheres(result)
    assert "artifacts/big.txt | 5000 bytes, over the scan limit of 4096" in found
    assert "artifacts/train.parquet | a symbolic link: not followed" in found


def test_the_model_file_is_read_whole_up_to_the_model_size_limit(tmp_path: Path) -> None:
    padding = numpy_helper.from_array(np.zeros(4096, dtype=np.float32), "padding")
    snapshot = context(
        tmp_path,
        model=exported_model(extra_initializers=[padding]),
        policies_=thresholds_with(scan_max_file_bytes=4096),
    )
    assert (snapshot.model_dir / "model.onnx").stat().st_size > 4096
    assert no_identifiers(snapshot).status is Status.PASS


def test_an_archive_format_that_cannot_be_opened_fails(snapshot: CheckContext) -> None:
    (snapshot.artifacts_dir / "data.7z").write_bytes(b"7z\xbc\xaf\x27\x1c" + b"\0" * 64)
    assert "a 7z archive: cannot be opened" in wheres(no_identifiers(snapshot))


# ------------------------------------------------------------------ fingerprints


def test_the_normal_form_ignores_trivial_reformatting() -> None:
    same = [
        ["1234.5", "1,234.50", "1234.500", " 1234.5 ", "１２３４.５", "1.2345e3"],
        ["35", "35.0", "+35"],
        ["2024-01-05", "2024/1/5", "2024.01.05", "2024年1月5日", "20240105", "2024-01-05 00:00:00", "2024-01-05T00:00:00.000"],
        ["Hello  World", "hello world", "ＨＥＬＬＯ World"],
        ["0.1234567", "0.123457"],
    ]  # fmt: skip
    for spellings in same:
        assert canonical_values(pl.Series(spellings)).n_unique() == 1, spellings
    missing = canonical_values(pl.Series(["", "NaN", "None", "null", "-", "N/A"]))
    assert missing.null_count() == 6
    different = canonical_values(
        pl.Series(["341302199001011234", "341302199001011235", "2024-01-05 13:00:00", "2024-01-05"])
    )
    assert different.n_unique() == 4


def test_fingerprints_hold_salted_hashes_only(
    snapshot: CheckContext, raw: dict[str, pl.DataFrame]
) -> None:
    manifest = load_manifest(snapshot.fingerprints_dir)
    assert manifest is not None
    assert manifest.min_fields == 4
    assert manifest.tables["raw.resident_population"].fingerprinted > 0
    stored = b"".join(p.read_bytes() for p in snapshot.fingerprints_dir.iterdir())
    people = raw["resident_population"]
    for value in [*people["id_number"].to_list()[:20], *people["name"].to_list()[:20]]:
        assert value.encode() not in stored
    # hashes of one value differ from build to build (the salt is fresh)
    assert not np.array_equal(
        value_hashes(pl.Series(["a"]), b"1" * 16), value_hashes(pl.Series(["a"]), b"2" * 16)
    )


def test_a_record_of_common_values_alone_is_not_fingerprinted(tmp_path: Path) -> None:
    flags = pl.DataFrame(
        {"a": [0, 1] * 500, "b": [1, 0] * 500, "c": [2, 3] * 500, "d": ["M", "F"] * 500}
    )
    manifest = build_fingerprints({"flags": flags}, tmp_path / "fp", 4)
    assert manifest.tables["flags"].fingerprinted == 0
    rows = token_rows("log", [("line 1", "0 1 2 M")])
    frame = pl.DataFrame({"row": rows.row, "value": rows.value})
    assert reproductions(manifest, tmp_path / "fp", frame) == []


def test_missing_or_stale_fingerprints_stop_the_check_with_a_reason(tmp_path: Path) -> None:
    snapshot = context(tmp_path)
    result = no_verbatim_records(snapshot)
    assert result.status is Status.ERROR
    assert "missing" in result.summary_en
    assert result.remedy_en
    build_fingerprints(
        {"t": pl.DataFrame({"a": ["x"], "b": ["y"], "c": ["z"]})}, snapshot.fingerprints_dir, 3
    )
    assert "built for 3 fields" in no_verbatim_records(snapshot).summary_en
