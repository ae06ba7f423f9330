"""The masking report: what went in, what came out, and why it is safe to use.

`masking_report.json` is for machines (views check the masked files against it) and
`masking_report.txt` for people: bilingual, one section per dataset.
"""

from __future__ import annotations

import datetime as dt
import json

from pydantic import BaseModel, ConfigDict, Field

REPORT_JSON = "masking_report.json"
REPORT_TEXT = "masking_report.txt"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldReport(_Model):
    id: str
    name: str
    rule: str  # the catalogue's rule name
    detail: str  # the rule with its parameters (clip bounds resolved)
    masked_type: str | None  # None: dropped


class KAnonymityReport(_Model):
    k: int
    entity: str
    quasi_identifiers: list[str]  # in the order they are given up (most identifying first)
    entities_in: int
    classes: int
    achieved_k: int | None  # smallest class after suppression; None: nothing left
    suppressed_cells: dict[str, int]  # quasi-identifier -> values set to null
    suppressed_entities: int  # dropped because of this dataset's own classes
    rows_removed: int  # rows dropped here, whichever dataset's classes hid the entity


class DatasetReport(_Model):
    id: str
    name: str
    provider: str
    file: str
    rows_in: int
    rows_out: int
    sha256: str  # digest of the masked Parquet file
    fields: list[FieldReport]
    k_anonymity: KAnonymityReport | None = None


class PiiFindingReport(_Model):
    dataset: str
    column: str
    kind: str
    count: int
    example_masked: str


class MaskingReport(_Model):
    created_at: dt.datetime
    reference_date: dt.date
    k_anonymity: int
    k_overrides: dict[str, int]
    suppressed_entities: dict[str, int]  # entity kind -> entities hidden everywhere
    datasets: list[DatasetReport] = Field(min_length=1)
    pii_findings: list[PiiFindingReport]  # the residual scan of the whole output
    masked_digest: str  # over every masked file's digest

    def dataset(self, dataset_id: str) -> DatasetReport | None:
        return next((d for d in self.datasets if d.id == dataset_id), None)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"


def render_text(report: MaskingReport) -> str:
    """The report for people: Chinese first, English alongside."""
    lines = [
        "数据脱敏报告 / Masking report",
        "=" * 40,
        f"生成时间 Created: {report.created_at.isoformat(timespec='seconds')}",
        f"年龄基准日 Reference date for ages: {report.reference_date.isoformat()}",
        f"k-匿名 k-anonymity: k = {report.k_anonymity}"
        + (
            "（例外 overrides: "
            + ", ".join(f"{d}={k}" for d, k in sorted(report.k_overrides.items()))
            + "）"
            if report.k_overrides
            else ""
        ),
        f"脱敏数据摘要 Masked digest: {report.masked_digest}",
    ]
    if report.suppressed_entities:
        hidden = ", ".join(f"{kind} {n}" for kind, n in sorted(report.suppressed_entities.items()))
        lines.append(f"抑制主体（全部表） Entities suppressed in every table: {hidden}")
    lines.append("")
    if report.pii_findings:
        lines.append("残留个人信息扫描：发现问题 / Residual PII scan: FINDINGS")
        lines += [
            f"  - {f.dataset}.{f.column}: {f.kind} × {f.count} (例 e.g. {f.example_masked})"
            for f in report.pii_findings
        ]
    else:
        lines.append("残留个人信息扫描：未发现 / Residual PII scan: nothing found")
    for d in report.datasets:
        lines += [
            "",
            f"[{d.id}] {d.name}（{d.provider}）",
            f"  行数 Rows: {d.rows_in} → {d.rows_out}   文件 File: {d.file}",
            f"  SHA-256: {d.sha256}",
        ]
        kan = d.k_anonymity
        if kan is not None:
            achieved = "—（无剩余 nothing left）" if kan.achieved_k is None else str(kan.achieved_k)
            cells = ", ".join(f"{q} {n}" for q, n in kan.suppressed_cells.items()) or "0"
            lines += [
                f"  k-匿名 k-anonymity ({kan.entity}): 要求 required k={kan.k}, "
                f"达到 achieved k={achieved}, 等价类 classes {kan.classes}",
                f"    准标识符 Quasi-identifiers: {', '.join(kan.quasi_identifiers)}",
                f"    局部抑制 Cells suppressed: {cells}",
                f"    抑制主体 Entities suppressed: {kan.suppressed_entities} / {kan.entities_in}, "
                f"删除行 rows removed: {kan.rows_removed}",
            ]
        lines.append("  字段 Fields:")
        for f in d.fields:
            kind = "已删除 dropped" if f.masked_type is None else f.masked_type
            lines.append(f"    - {f.id}（{f.name}）: {f.detail} → {kind}")
    return "\n".join(lines) + "\n"
