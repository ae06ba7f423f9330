"""原始/敏感/隐私数据直接暴露 — direct exposure: identifiers and verbatim records in what
the run would take out of the domain.

Both checks read every file of the submission's snapshot (model, artifacts, code;
archive members included, within limits: `snapshot_files`), judged by its content, not
its name (`file_content`), and the run record: every parameter (name and value), tag
(key and value), metric (name and value) and dataset input (name, digest, tags)
(`run_record_content`). What could not be read fails the check rather than being
skipped.

`direct.pii` scans what is read with `shuyu.data.pii`'s detectors (`scan_text`,
`scan_frame`): valid identifiers only, each finding with a masked example, located by
file, line, cell, output, column, tensor or parameter (a location that itself contains
an identifier is masked the same way).

`direct.verbatim` matches the candidate rows read — a CSV, Parquet, IPC or JSON record,
a row of an HTML table or a line of a notebook output, text file or source cell, a row
(or column) of a 1-D or 2-D tensor, a parameter or tag value — against the row
fingerprints of the raw and masked tables (`fingerprints`, built in the domain when the
data are built).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from shuyu.data import pii
from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.evidence import capped
from shuyu.selfcheck.extracted import Rows, Text
from shuyu.selfcheck.file_content import extract
from shuyu.selfcheck.fingerprints import FingerprintManifest, load_manifest, reproductions
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.pii_findings import pii_evidence, text_findings
from shuyu.selfcheck.registry import check
from shuyu.selfcheck.result import CheckResult, Evidence, RiskFactor, Status
from shuyu.selfcheck.row_sets import RowSet
from shuyu.selfcheck.run_record_content import run_record_rows, run_record_texts
from shuyu.selfcheck.snapshot_files import ScanProblem, snapshot_roots, walk_entries


@check("direct.pii", RiskFactor.DIRECT)
def no_identifiers(ctx: CheckContext) -> CheckResult:
    """Personal identifiers in any artifact, file, parameter, tag, metric or the model."""
    limits = ctx.thresholds
    problems: list[ScanProblem] = []
    evidence: list[Evidence] = []
    total = 0
    files = 0

    def scan(texts: Iterable[Text], frames: Iterable[tuple[str, pl.DataFrame]] = ()) -> None:
        nonlocal total
        for text in texts:
            for finding, places in text_findings(text):
                total += finding.count
                evidence.append(pii_evidence(text.where, finding, places))
        for where, frame in frames:
            for finding in pii.scan_frame(frame):
                total += finding.count
                column = f"column {safe_label(finding.column or '')!r}"
                evidence.append(pii_evidence(where, finding, [column]))

    for entry in walk_entries(snapshot_roots(ctx), limits, problems):
        files += 1
        found = extract(entry, problems)
        scan(found.texts, found.frames)
    scan(run_record_texts(ctx))
    failing = [p for p in problems if p.fails]
    notes = [p for p in problems if not p.fails]
    over = total > limits.max_pii_findings
    status = Status.FAIL if over or failing else Status.WARN if total or notes else Status.PASS
    summary_zh = (
        f"检查了 {files} 个文件及运行的参数、标签、指标和数据集输入：发现个人标识 {total} 个"
        f"（上限 {limits.max_pii_findings}）"
    )
    summary_en = (
        f"{files} files and the run's parameters, tags, metrics and dataset inputs checked: "
        f"{total} personal identifiers found (limit {limits.max_pii_findings})"
    )
    if failing:
        summary_zh += f"；{len(failing)} 处无法完整检查"
        summary_en += f"; {len(failing)} places could not be checked whole"
    return CheckResult(
        id="direct.pii",
        factor=RiskFactor.DIRECT,
        status=status,
        title_zh="产物、参数、标签与模型中无个人标识",
        title_en="No personal identifiers in artifacts, parameters, tags or the model",
        summary_zh=summary_zh,
        summary_en=summary_en,
        evidence=capped(
            [*(p.evidence() for p in failing), *evidence, *(p.evidence() for p in notes)]
        ),
        remedy_zh=(
            "删除含个人标识的输出、产物、参数或模型常量（包括笔记本单元格的输出），"
            "只使用脱敏视图中的字段，重新运行并提交；无法检查的文件请改为普通格式或拆小。"
            if status is not Status.PASS
            else ""
        ),
        remedy_en=(
            "Remove the outputs, artifacts, parameters or model constants that carry identifiers "
            "(notebook cell outputs included), use only the fields of the masked view, re-run and "
            "resubmit; files that could not be checked must be plain formats or smaller."
            if status is not Status.PASS
            else ""
        ),
        figures={
            "identifiers": float(total),
            "files": float(files),
            "unreadable": float(len(failing)),
        },
    )


# ------------------------------------------------------------------ direct.verbatim


_VERBATIM_TITLE = (
    "产物中无原始表或脱敏表的逐条记录",
    "No verbatim records of the raw or masked tables",
)


def _no_fingerprints(ctx: CheckContext, manifest: FingerprintManifest | None) -> CheckResult:
    wanted = ctx.thresholds.row_fingerprint_min_fields
    have_zh = "缺失" if manifest is None else f"按 {manifest.min_fields} 个字段生成"
    have_en = "missing" if manifest is None else f"built for {manifest.min_fields} fields"
    return CheckResult(
        id="direct.verbatim",
        factor=RiskFactor.DIRECT,
        status=Status.ERROR,
        title_zh=_VERBATIM_TITLE[0],
        title_en=_VERBATIM_TITLE[1],
        summary_zh=f"行指纹{have_zh}（策略要求 {wanted} 个字段），无法检查",
        summary_en=f"row fingerprints {have_en} (the policy asks for {wanted} fields): not checked",
        evidence=[
            Evidence(
                what_zh="行指纹目录",
                what_en="fingerprints directory",
                where=str(ctx.fingerprints_dir),
            )
        ],
        remedy_zh="平台运维：在数据域内重新生成行指纹（build_fingerprints）后重跑自查。",
        remedy_en=(
            "Platform operators: rebuild the row fingerprints in the domain "
            "(build_fingerprints), then re-run the self-check."
        ),
    )


@check("direct.verbatim", RiskFactor.DIRECT)
def no_verbatim_records(ctx: CheckContext) -> CheckResult:
    """Records of the raw or masked tables reproduced in artifacts, by row fingerprints."""
    limits = ctx.thresholds
    manifest = load_manifest(ctx.fingerprints_dir)
    if manifest is None or manifest.min_fields != limits.row_fingerprint_min_fields:
        return _no_fingerprints(ctx, manifest)
    problems: list[ScanProblem] = []
    pieces: list[Rows] = []
    files = 0
    for entry in walk_entries(snapshot_roots(ctx), limits, problems):
        files += 1
        pieces.extend(extract(entry, problems).rows)
    rows = RowSet.of([*pieces, *run_record_rows(ctx)])
    found = reproductions(manifest, ctx.fingerprints_dir, rows.frame)
    records = len({(r.table, r.record) for r in found})
    failing = [p for p in problems if p.fails]
    notes = [p for p in problems if not p.fails]
    over = records > limits.max_verbatim_records
    status = Status.FAIL if over or failing else Status.WARN if records or notes else Status.PASS
    unread_zh = f"；{len(failing)} 处无法完整检查" if failing else ""
    unread_en = f"; {len(failing)} places could not be checked whole" if failing else ""
    return CheckResult(
        id="direct.verbatim",
        factor=RiskFactor.DIRECT,
        status=status,
        title_zh=_VERBATIM_TITLE[0],
        title_en=_VERBATIM_TITLE[1],
        summary_zh=(
            f"对照 {len(manifest.tables)} 张表的行指纹检查了 {files} 个文件及运行参数和标签："
            f"{records} 条记录被逐条重现（上限 {limits.max_verbatim_records}；"
            f"一条记录的 {manifest.min_fields} 个字段值出现在同一行即算）{unread_zh}"
        ),
        summary_en=(
            f"{files} files and the run's parameters and tags checked against the row "
            f"fingerprints of {len(manifest.tables)} tables: {records} records reproduced "
            f"(limit {limits.max_verbatim_records}; a record counts when "
            f"{manifest.min_fields} of its values appear in one row){unread_en}"
        ),
        evidence=capped(
            [
                *(p.evidence() for p in failing),
                *rows.evidence(found, manifest.min_fields),
                *(p.evidence() for p in notes),
            ]
        ),
        remedy_zh=(
            "不要把数据行（原始或脱敏）写入产物、输出或模型；只保留汇总统计和模型本身，"
            "重新运行并提交。"
            if status is not Status.PASS
            else ""
        ),
        remedy_en=(
            "Do not write rows of the data (raw or masked) into artifacts, outputs or the "
            "model; keep only aggregates and the model itself, re-run and resubmit."
            if status is not Status.PASS
            else ""
        ),
        figures={
            "records_reproduced": float(records),
            "files": float(files),
            "unreadable": float(len(failing)),
        },
    )
