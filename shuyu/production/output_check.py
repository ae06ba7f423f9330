"""The output check (产出检查): nothing leaves a production run's output folder for the
outbox unless every file passes; a failing folder is quarantined with these reasons.

Per file, by the rules of `output_rules.rules_for` (the output policy, made stricter by
the scenario):

- `output.file_type` — an allowed suffix, and bytes that are what the suffix says (a
  PNG's signature, UTF-8 text, JSON that parses, a CSV that reads); links and special
  files are never followed;
- `output.size` — at most `max_file_bytes` (16 MiB), or what the product declares;
- `output.declared` — the file is one the product declares (or the run's own record, the
  executed notebook and its HTML): an undeclared file is row-level data nobody reviewed;
- `output.pii` — no personal or enterprise identifier anywhere: every column of a table,
  every cell source and output of the notebook but pictures, the text of HTML and
  Markdown, a PNG's text chunks;
- `output.columns` — no identifier column (a catalogue direct identifier: id_number,
  uscc, vin …); a scores file has exactly its declared key and columns, the key unique;
  at most `max_rows` (5,000) rows unless the product declares more;
- `output.disclosure` — an aggregate table is rebuilt from the run's input batch
  (`suppression.verify`): no published cell under the threshold, dominated or failing
  the p-ratio, no margin that includes a suppressed cell.

Pictures are checked as files (type, size, text chunks), not read for their content: a
chart is declared, drawn by the reviewed notebook from checked tables.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from shuyu.data import pii
from shuyu.errors import InputError
from shuyu.fsutil import file_sha256
from shuyu.policy.models import AggregateTable, DeclaredOutput, Policies
from shuyu.production.execute import RECORD_FILES
from shuyu.production.output_rules import ScenarioOutputRules, rules_for
from shuyu.production.suppression import (
    MARGIN,
    TableCheck,
    TableProblem,
    read_published,
    verify,
)
from shuyu.production.verdict import FileVerdict, OutputVerdict
from shuyu.selfcheck.extracted import Extracted, Text, numbered_lines
from shuyu.selfcheck.file_formats import decode_text, is_binary
from shuyu.selfcheck.notebooks import notebook_content
from shuyu.selfcheck.pii_findings import pii_evidence, text_findings
from shuyu.selfcheck.result import CheckResult, Evidence, RiskFactor, Status

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=]+")
_EVIDENCE_MAX = 20

_TITLES: dict[str, tuple[RiskFactor, str, str]] = {
    "output.file_type": (
        RiskFactor.OTHER,
        "文件类型允许且内容相符",
        "Allowed file type, content as named",
    ),
    "output.size": (RiskFactor.OTHER, "文件大小在限额内", "File size within the limit"),
    "output.declared": (
        RiskFactor.DIRECT,
        "产出文件已在产品中声明",
        "Output declared by the product",
    ),
    "output.pii": (
        RiskFactor.DIRECT,
        "不含个人或企业标识",
        "No personal or enterprise identifiers",
    ),
    "output.columns": (
        RiskFactor.DIRECT,
        "无标识列，逐条数据不超出声明",
        "No identifier columns, no row-level data beyond the declaration",
    ),
    "output.disclosure": (
        RiskFactor.INDIRECT,
        "小单元格与优势规则（含合计）",
        "Small cells and dominance, margins included",
    ),
}


def _result(
    rule: str,
    status: Status,
    zh: str,
    en: str,
    *,
    evidence: list[Evidence] | None = None,
    remedy: tuple[str, str] = ("", ""),
    figures: dict[str, float] | None = None,
) -> CheckResult:
    factor, title_zh, title_en = _TITLES[rule]
    return CheckResult(
        id=rule,
        factor=factor,
        status=status,
        title_zh=title_zh,
        title_en=title_en,
        summary_zh=zh,
        summary_en=en,
        evidence=(evidence or [])[:_EVIDENCE_MAX],
        remedy_zh=remedy[0],
        remedy_en=remedy[1],
        figures=figures or {},
    )


# ---------------------------------------------------------------- the folder


@dataclass(frozen=True)
class _Run:
    """What every file of one run is checked against."""

    rules: ScenarioOutputRules
    batch: pl.DataFrame | None
    period: str | None


def check_outputs(
    output_dir: Path,
    policies: Policies,
    scenario: str,
    *,
    input_batch: pl.DataFrame | None = None,
    period: str | None = None,
    run_id: str = "",
    now: dt.datetime | None = None,
) -> OutputVerdict:
    """Check every file under `output_dir` (a run's output folder). `input_batch` is
    the batch the run read (to rebuild its aggregate tables), `period` its period."""
    rules = rules_for(policies, scenario)
    root = Path(output_dir)
    if not root.is_dir():
        raise InputError(str(root), "no output folder here")
    run = _Run(rules, input_batch, period)
    files = [_check_file(relative, path, run) for relative, path in _walk(root)]
    present = {f.path for f in files}
    missing = [
        o.name
        for o in (rules.product.outputs if rules.product else [])
        if "*" not in o.name and o.name not in present
    ]
    results = []
    if missing:
        results.append(
            _result(
                "output.declared",
                Status.WARN,
                f"声明的产出未生成：{', '.join(missing)}",
                f"declared outputs not written: {', '.join(missing)}",
            )
        )
    return OutputVerdict(
        scenario=scenario,
        run_id=run_id,
        checked_at=now or dt.datetime.now(dt.UTC),
        files=files,
        results=results,
    )


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    """Every entry but directories, links included (never followed), sorted."""
    found: list[tuple[str, Path]] = []
    for directory, dirs, names in os.walk(root, followlinks=False):
        here = Path(directory)
        for name in dirs:
            if (here / name).is_symlink():
                names.append(name)  # a linked directory is reported, not entered
        for name in names:
            path = here / name
            found.append((path.relative_to(root).as_posix(), path))
    yield from sorted(found)


# ---------------------------------------------------------------- one file


def _check_file(relative: str, path: Path, run: _Run) -> FileVerdict:
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        return FileVerdict(
            path=relative,
            kind="special",
            bytes=0,
            sha256="",
            results=[
                _result(
                    "output.file_type",
                    Status.FAIL,
                    "链接或特殊文件，未读取也不得发布",
                    "a link or special file: not read, and not released",
                    remedy=("只写普通文件", "write regular files only"),
                )
            ],
        )
    rules = run.rules
    record = relative in RECORD_FILES
    declared = None if record else rules.declared(relative)
    kind = "record" if record else (declared.kind if declared else "undeclared")
    suffix = path.suffix.lower()
    results = [_declared_result(relative, record, declared)]
    size_ok, size_result = _size_result(info.st_size, rules.bytes_allowed(declared))
    results.append(size_result)
    rows: int | None = None
    if suffix not in rules.allowed_suffixes:
        allowed = ", ".join(sorted(rules.allowed_suffixes))
        results.append(
            _result(
                "output.file_type",
                Status.FAIL,
                f"不允许的文件类型 {suffix or '（无后缀）'}；允许：{allowed}",
                f"file type {suffix or '(none)'} is not allowed; allowed: {allowed}",
                remedy=(
                    "以允许的类型写出产品（表格用 CSV，图表用 PNG）",
                    "write the product in an allowed type (CSV tables, PNG charts)",
                ),
            )
        )
    elif size_ok:
        content, rows = _content_results(relative, path, declared, run)
        results += content
    return FileVerdict(
        path=relative,
        kind=kind,
        bytes=info.st_size,
        sha256=file_sha256(path),
        rows=rows,
        results=results,
    )


def _declared_result(relative: str, record: bool, declared: DeclaredOutput | None) -> CheckResult:
    if record:
        return _result(
            "output.declared", Status.PASS, "平台运行记录（执行后的笔记本）", "the run's record"
        )
    if declared is not None:
        return _result(
            "output.declared",
            Status.PASS,
            f"声明为 {declared.name}（{declared.kind}）",
            f"declared as {declared.name} ({declared.kind})",
        )
    return _result(
        "output.declared",
        Status.FAIL,
        "未在产品中声明的文件：可能是未经审查的逐条数据",
        "a file the product does not declare: possibly row-level data nobody reviewed",
        evidence=[Evidence(what_zh="未声明文件", what_en="undeclared file", where=relative)],
        remedy=(
            "只写出 policies/outputs.yaml 中声明的文件；新增产出须先修改声明并经审查",
            "write only the files policies/outputs.yaml declares; a new output needs a "
            "reviewed declaration first",
        ),
    )


def _size_result(size: int, limit: int) -> tuple[bool, CheckResult]:
    if size <= limit:
        return True, _result(
            "output.size", Status.PASS, f"{size} 字节", f"{size} bytes", figures={"bytes": size}
        )
    return False, _result(
        "output.size",
        Status.FAIL,
        f"{size} 字节，超过上限 {limit} 字节；内容未读取",
        f"{size} bytes, over the limit of {limit}; content not read",
        figures={"bytes": size, "limit": limit},
        remedy=(
            "拆分或汇总产出；确需更大文件须在产品声明中写明 max_bytes",
            "split or aggregate the output; a larger file needs max_bytes in the declaration",
        ),
    )


def _content_results(
    relative: str, path: Path, declared: DeclaredOutput | None, run: _Run
) -> tuple[list[CheckResult], int | None]:
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix == ".png":
        return _png_results(relative, data), None
    if is_binary(data):
        return [_type_failure(relative, "二进制内容，不是文本", "binary content, not text")], None
    text = decode_text(data)
    if suffix == ".ipynb":
        return _notebook_results(relative, text), None
    if suffix in run.rules.row_level_suffixes:
        return _tabular_results(relative, path, text, declared, run)
    if suffix == ".html":
        text = _DATA_URI.sub("", text)  # embedded pictures are not text
    return [_type_ok(), _pii_result([Text(relative, numbered_lines(text))])], None


def _notebook_results(relative: str, text: str) -> list[CheckResult]:
    out = Extracted()
    if not notebook_content(relative, text, out):
        return [_type_failure(relative, "不是 Jupyter 笔记本", "not a Jupyter notebook")]
    return [_type_ok(), _pii_result(out.texts)]


def _tabular_results(
    relative: str, path: Path, text: str, declared: DeclaredOutput | None, run: _Run
) -> tuple[list[CheckResult], int | None]:
    frame = _table(path, path.suffix.lower(), text)
    if frame is None:
        if path.suffix.lower() == ".json" and _parses(text):  # a document, not records
            return [_type_ok(), _pii_result([Text(relative, numbered_lines(text))])], None
        return [_type_failure(relative, "无法读取为表格", "does not read as a table")], None
    results = [_type_ok(), _frame_pii_result(relative, frame)]
    results.append(_columns_result(relative, frame, run.rules, declared))
    if declared is not None and declared.table is not None:
        results.append(_disclosure_result(relative, path, declared.table, run))
    return results, frame.height


def _type_ok() -> CheckResult:
    return _result("output.file_type", Status.PASS, "类型与内容相符", "content matches its type")


def _type_failure(relative: str, zh: str, en: str) -> CheckResult:
    return _result(
        "output.file_type",
        Status.FAIL,
        zh,
        en,
        evidence=[Evidence(what_zh=zh, what_en=en, where=relative)],
        remedy=("按后缀写出对应格式的内容", "write content of the format the suffix names"),
    )


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _table(path: Path, suffix: str, text: str) -> pl.DataFrame | None:
    """A CSV, or a JSON list of records, as a frame; None if it is neither."""
    try:
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema_length=10_000)
        value: Any = json.loads(text)
    except (pl.exceptions.PolarsError, json.JSONDecodeError, OSError):
        return None
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        try:
            return pl.DataFrame(value, infer_schema_length=None)
        except (pl.exceptions.PolarsError, TypeError, ValueError):
            return None
    return None


# ---------------------------------------------------------------- PII


def _pii_result(texts: list[Text]) -> CheckResult:
    evidence = [
        pii_evidence(text.where, finding, places)
        for text in texts
        for finding, places in text_findings(text)
    ]
    return _pii_verdict(evidence)


def _frame_pii_result(relative: str, frame: pl.DataFrame) -> CheckResult:
    findings = pii.scan_frame(frame)
    evidence = [pii_evidence(f"{relative} 列 {f.column}", f, []) for f in findings]
    return _pii_verdict(evidence)


def _pii_verdict(evidence: list[Evidence]) -> CheckResult:
    if not evidence:
        return _result("output.pii", Status.PASS, "未发现标识", "no identifiers found")
    return _result(
        "output.pii",
        Status.FAIL,
        f"发现 {len(evidence)} 处个人或企业标识（示例已脱敏）",
        f"{len(evidence)} places with personal or enterprise identifiers (examples masked)",
        evidence=evidence,
        remedy=(
            "产出中不得打印或写出身份证号、信用代码、手机号等；用场景内的假名键",
            "never print or write IDs, credit codes, mobiles …; use the scenario's "
            "pseudonymous key",
        ),
    )


def _png_text(data: bytes) -> str | None:
    """The text chunks of a PNG (tEXt, zTXt, iTXt), or None if it is no PNG."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    texts: list[str] = []
    at = len(PNG_SIGNATURE)
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        at += 12 + length
        if kind == b"tEXt":
            texts.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            keyword, _, rest = body.partition(b"\0")
            texts.append(keyword.decode("latin-1") + " " + _inflate(rest[1:]))
        elif kind == b"iTXt":
            keyword, _, rest = body.partition(b"\0")
            compressed, rest = rest[:1] == b"\x01", rest[2:]
            _language, _, rest = rest.partition(b"\0")
            _translated, _, rest = rest.partition(b"\0")
            value = _inflate(rest) if compressed else rest.decode("utf-8", "replace")
            texts.append(keyword.decode("latin-1") + " " + value)
        elif kind == b"IEND":
            break
    return "\n".join(texts)


def _inflate(data: bytes) -> str:
    try:
        return zlib.decompress(data).decode("utf-8", "replace")
    except zlib.error:
        return ""


def _png_results(relative: str, data: bytes) -> list[CheckResult]:
    text = _png_text(data)
    if text is None:
        return [_type_failure(relative, "不是 PNG 图片", "not a PNG picture")]
    return [_type_ok(), _pii_result([Text(f"{relative} 文本块", numbered_lines(text))])]


# ---------------------------------------------------------------- columns and rows


def _columns_result(
    relative: str,
    frame: pl.DataFrame,
    rules: ScenarioOutputRules,
    declared: DeclaredOutput | None,
) -> CheckResult:
    evidence: list[Evidence] = []
    identifiers = [c for c in frame.columns if c.lower() in rules.identifier_columns]
    evidence += [
        Evidence(what_zh="标识列", what_en="identifier column", value=c, where=relative)
        for c in identifiers
    ]
    if declared is not None and declared.kind == "scores" and declared.key is not None:
        wanted = {declared.key, *declared.columns}
        extra = [c for c in frame.columns if c not in wanted]
        absent = sorted(wanted - set(frame.columns))
        evidence += [
            Evidence(what_zh="未声明的列", what_en="undeclared column", value=c, where=relative)
            for c in extra
            if c not in identifiers
        ]
        evidence += [
            Evidence(
                what_zh="缺少声明的列", what_en="declared column missing", value=c, where=relative
            )
            for c in absent
        ]
        if declared.key in frame.columns:
            repeated = frame.height - frame.get_column(declared.key).n_unique()
            if repeated:
                evidence.append(
                    Evidence(
                        what_zh=f"键 {declared.key} 重复 {repeated} 行",
                        what_en=f"key {declared.key} repeated in {repeated} rows",
                        where=relative,
                    )
                )
    limit = rules.rows_allowed(declared)
    if frame.height > limit:
        evidence.append(
            Evidence(
                what_zh=f"{frame.height} 行，超过上限 {limit} 行",
                what_en=f"{frame.height} rows, over the limit of {limit}",
                where=relative,
            )
        )
    figures = {"rows": float(frame.height), "row_limit": float(limit)}
    if not evidence:
        return _result(
            "output.columns",
            Status.PASS,
            f"{frame.height} 行，列：{', '.join(frame.columns)}",
            f"{frame.height} rows; columns: {', '.join(frame.columns)}",
            figures=figures,
        )
    return _result(
        "output.columns",
        Status.FAIL,
        "含标识列、未声明的列或超量逐条数据",
        "identifier columns, undeclared columns or row-level data beyond the declaration",
        evidence=evidence,
        figures=figures,
        remedy=(
            "评分文件只含声明的键与列；不得输出标识字段；超过行数上限须在声明中写明 max_rows",
            "a scores file holds its declared key and columns only; no identifier fields; "
            "more rows need max_rows in the declaration",
        ),
    )


# ---------------------------------------------------------------- aggregate tables


_PROBLEM_TEXT = {
    "unsafe_cell": ("单元格应被抑制", "a cell that must be suppressed"),
    "margin_leak": ("合计包含被抑制的单元格", "a margin includes suppressed cells"),
    "mismatch": ("数值与输入数据不符", "a value the input does not give"),
    "unknown_cell": ("输入数据中没有此单元格", "a cell the input does not have"),
    "duplicate": ("单元格重复", "a cell written twice"),
}


def _cell_label(cell: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in cell.items())


def _problem_evidence(relative: str, problem: TableProblem) -> Evidence:
    zh, en = _PROBLEM_TEXT[problem.kind]
    if problem.reasons:
        zh += "：" + "；".join(r.zh for r in problem.reasons)
        en += ": " + "; ".join(r.en for r in problem.reasons)
    if problem.hidden is not None:
        zh += f"（合计减去已公开单元格即得被抑制部分 {problem.hidden:.6g}）"
        en += f" (the margin minus the published cells gives away {problem.hidden:.6g})"
    shown = "" if problem.published is None else f"{problem.published:.6g}"
    if problem.expected is not None:
        shown += f" ≠ {problem.expected:.6g}" if problem.kind == "mismatch" else ""
    return Evidence(
        what_zh=zh, what_en=en, value=shown, where=f"{relative}: {_cell_label(problem.cell)}"
    )


def _disclosure_result(relative: str, path: Path, table: AggregateTable, run: _Run) -> CheckResult:
    rules, batch, period = run.rules, run.batch, run.period
    if batch is None:
        return _result(
            "output.disclosure",
            Status.ERROR,
            "没有运行的输入批次，无法重建汇总表：不予发布",
            "the run's input batch is missing, so the table cannot be rebuilt: not released",
        )
    try:
        published = read_published(str(path), table)
        checked: TableCheck = verify(published, batch, table, rules.disclosure, period=period)
    except (InputError, pl.exceptions.PolarsError) as exc:
        return _result(
            "output.disclosure",
            Status.FAIL,
            f"汇总表不符合声明：{exc}",
            f"the table does not match its declaration: {exc}",
            remedy=(
                f"按声明写出列 {[*table.by, table.column]}，被抑制的单元格留空，合计行写“{MARGIN}”",
                f"write the declared columns {[*table.by, table.column]}, suppressed cells "
                f"empty, margins as “{MARGIN}”",
            ),
        )
    rule = rules.disclosure
    setting_zh = (
        f"阈值 {rule.min_units} 个单位，({rule.dominance_n}, {rule.dominance_k:.0%}) 优势规则，"
        f"p 比例 {rule.p_ratio:.0%}"
    )
    setting_en = (
        f"threshold {rule.min_units} units, ({rule.dominance_n}, {rule.dominance_k:.0%}) "
        f"dominance, p-ratio {rule.p_ratio:.0%}"
    )
    figures = dict(checked.figures) | {"margins": float(checked.margins)}
    if not checked.problems:
        return _result(
            "output.disclosure",
            Status.PASS,
            f"{checked.published_cells}/{checked.cells} 个单元格公开，"
            f"{checked.margins} 个合计与公开"
            f"单元格一致（{setting_zh}）",
            f"{checked.published_cells} of {checked.cells} cells published, {checked.margins} "
            f"margins consistent with them ({setting_en})",
            figures=figures,
        )
    return _result(
        "output.disclosure",
        Status.FAIL,
        f"{len(checked.problems)} 个单元格或合计不得公开（{setting_zh}）",
        f"{len(checked.problems)} cells or margins may not be published ({setting_en})",
        evidence=[_problem_evidence(relative, p) for p in checked.problems],
        figures=figures,
        remedy=(
            "用 shuyu.production.suppression.publish 生成汇总表："
            "不安全的单元格留空，合计按公开单元格重算",
            "build tables with shuyu.production.suppression.publish: unsafe cells empty, "
            "margins recomputed from the published cells",
        ),
    )
