"""其他风险 — other risks: a model that can run code, a graph that reaches outside itself,
and notebook code that does what a scoring notebook has no business doing.

`other.model_format`: the MLmodel and the model folder are exactly what
`mlflow.onnx.log_model` writes (an allowlist: `model_format`), and no file in the model
or artifact folders (archive members included) is a serialised Python object — pickle,
a PyTorch archive, a NumPy object array, compiled Python — judged by the bytes, never
by the name (`serialised_code`).

`other.onnx_graph`: the model parses, passes `onnx.checker`, carries no field this
ONNX does not know, no tensor whose data lives in an external file, no operator, opset
or model-local function outside `onnx_domains`, no training graph (`onnx_graph`), and
fits within `model_max_bytes`.

`other.modelscan`: ProtectAI's modelscan over the model and artifact folders as a
second line, with every pickle recognised by its bytes shown to it again
(`modelscan_report`).

`other.static_code`: the run's notebooks and Python files read with `ast`, never run:
forbidden modules and calls however they are reached, dynamic imports and code loaders,
shell escapes and magics, writes outside the working folder, mentions of the masking
key or the secrets (`shuyu.selfcheck.static_code`, where what is decided statically and
what cannot be is listed).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.evidence import capped, evidence_item
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.model_format import (
    folder_bytes,
    mlmodel_findings,
    model_folder_findings,
    model_path,
)
from shuyu.selfcheck.modelscan_report import (
    ScanTally,
    modelscan_unavailable,
    run_modelscan,
    second_look,
)
from shuyu.selfcheck.onnx_graph import model_findings
from shuyu.selfcheck.registry import check
from shuyu.selfcheck.result import CheckResult, Evidence, RiskFactor, Status
from shuyu.selfcheck.serialised_code import serialised_code
from shuyu.selfcheck.snapshot_files import ScanProblem, model_roots, walk_entries
from shuyu.selfcheck.static_code.imports import imported_modules
from shuyu.selfcheck.static_code.units import read_code, scan_code


def _result(
    check_id: str,
    status: Status,
    title: tuple[str, str],
    summary: tuple[str, str],
    *,
    evidence: Sequence[Evidence],
    remedy: tuple[str, str],
    figures: dict[str, float] | None = None,
) -> CheckResult:
    return CheckResult(
        id=check_id,
        factor=RiskFactor.OTHER,
        status=status,
        title_zh=title[0],
        title_en=title[1],
        summary_zh=summary[0],
        summary_en=summary[1],
        evidence=capped(evidence),
        remedy_zh=remedy[0] if status is not Status.PASS else "",
        remedy_en=remedy[1] if status is not Status.PASS else "",
        figures=figures or {},
    )


@check("other.model_format", RiskFactor.OTHER)
def onnx_only(ctx: CheckContext) -> CheckResult:
    """Only the ONNX flavour, only its files, and no serialised code anywhere."""
    found = mlmodel_findings(ctx.model_dir) + model_folder_findings(ctx.model_dir)
    problems: list[ScanProblem] = []
    serialised = 0
    for entry in walk_entries(model_roots(ctx), ctx.thresholds, problems):
        kind = serialised_code(entry)
        if kind is not None:
            serialised += 1
            found.append(evidence_item(kind[0], kind[1], entry.where))
    found.extend(p.evidence() for p in problems if p.fails)
    status = Status.FAIL if found else Status.PASS
    return _result(
        "other.model_format",
        status,
        ("模型只为 ONNX 格式，无可执行的序列化文件", "ONNX only, and no executable serialisation"),
        (
            f"MLmodel 与模型目录{'不符合' if found else '符合'} mlflow.onnx 的格式；"
            f"发现 {serialised} 个可执行的序列化文件（pickle 等）",
            f"MLmodel and model folder {'do not match' if found else 'match'} what mlflow.onnx "
            f"writes; {serialised} executable serialised files (pickle and kin) found",
        ),
        evidence=found,
        remedy=(
            "用 shuyu.train 导出 ONNX，并用 mlflow.onnx.log_model 记录模型；"
            "删除 pickle/joblib/torch 等文件，模型目录中不要放其他文件。",
            "Export the model to ONNX with shuyu.train and log it with mlflow.onnx.log_model; "
            "remove pickle/joblib/torch files and keep nothing else in the model folder.",
        ),
        figures={"serialised_files": float(serialised), "findings": float(len(found))},
    )


@check("other.onnx_graph", RiskFactor.OTHER)
def onnx_graph_is_closed(ctx: CheckContext) -> CheckResult:
    """The ONNX graph parses, passes the checker and uses nothing outside itself."""
    limits = ctx.thresholds
    path = model_path(ctx.model_dir)
    where = f"model/{safe_label(path.name)}"
    title = (
        "ONNX 模型结构封闭、只用标准算子",
        "The ONNX graph is closed and uses standard operators only",
    )
    remedy = (
        "用 shuyu.train 导出模型（标准算子集、权重存于模型文件内），"
        "不要使用自定义算子、外部数据文件或自带函数。",
        "Export with shuyu.train (standard opsets, weights inside the model file); no custom "
        "operators, external data files or model-local functions.",
    )
    found: list[Evidence] = []
    size = path.lstat().st_size if path.is_file() and not path.is_symlink() else -1
    folder = folder_bytes(ctx.model_dir) if ctx.model_dir.is_dir() else 0
    if size < 0:
        found.append(evidence_item("没有 ONNX 模型文件", "no ONNX model file", where))
    elif max(size, folder) > limits.model_max_bytes:
        found.append(
            evidence_item(
                f"模型 {size} 字节（目录共 {folder} 字节），超过上限 {limits.model_max_bytes}",
                f"model {size} bytes (folder {folder}), over the limit {limits.model_max_bytes}",
                where,
            )
        )
    else:
        found.extend(model_findings(path.read_bytes(), where, limits))
    return _result(
        "other.onnx_graph",
        Status.FAIL if found else Status.PASS,
        title,
        (
            f"模型 {max(size, 0)} 字节："
            + (
                f"发现 {len(found)} 个问题" if found else "解析与校验通过，无外部数据、无自定义算子"
            ),
            f"model of {max(size, 0)} bytes: "
            + (
                f"{len(found)} problems"
                if found
                else "parses, passes the checker, no external data or custom operators"
            ),
        ),
        evidence=found,
        remedy=remedy,
        figures={"model_bytes": float(max(size, 0)), "findings": float(len(found))},
    )


@check("other.modelscan", RiskFactor.OTHER)
def modelscan_finds_nothing(ctx: CheckContext) -> CheckResult:
    """modelscan over every file of the model and artifact folders, as a second line."""
    title = ("modelscan 未发现不安全的模型文件", "modelscan finds no unsafe model file")
    remedy = (
        "删除 modelscan 报告的文件（pickle 等可执行序列化文件），模型只用 ONNX。",
        "Remove the files modelscan reports (pickles and other executable serialisations); "
        "use ONNX only for the model.",
    )
    reason = modelscan_unavailable()
    if reason is not None:
        return _result(
            "other.modelscan",
            Status.WARN,
            title,
            (f"modelscan 不可用，未运行：{reason}", f"modelscan did not run: {reason}"),
            evidence=[],
            remedy=(
                "平台运维：在检查镜像中安装 modelscan（selfcheck 依赖组）。",
                "Platform operators: install modelscan (the selfcheck extra) in the check image.",
            ),
        )
    tally = ScanTally()
    for label, root in model_roots(ctx):
        if root.is_dir():
            tally.add(
                run_modelscan(root), lambda source, label=label: safe_label(f"{label}/{source}")
            )
    second = second_look(ctx, tally)
    status = Status.FAIL if tally.issues else Status.WARN if tally.errors else Status.PASS
    return _result(
        "other.modelscan",
        status,
        title,
        (
            f"modelscan 扫描了 {tally.scanned} 个文件（跳过 {tally.skipped} 个它不读的格式，"
            "如 ONNX，"
            f"由 other.onnx_graph 检查；另以 .pkl 名复查了 {second} 个按内容识别的 pickle）："
            f"发现 {len(tally.issues)} 个问题",
            f"modelscan scanned {tally.scanned} files (skipped {tally.skipped} in formats it does "
            f"not read, such as ONNX, which other.onnx_graph checks; {second} pickles "
            f"recognised by content shown to it again as .pkl): {len(tally.issues)} issues",
        ),
        evidence=[*tally.issues, *tally.errors],
        remedy=remedy,
        figures={
            "issues": float(len(tally.issues)),
            "scanned": float(tally.scanned),
            "skipped": float(tally.skipped),
        },
    )


@check("other.static_code", RiskFactor.OTHER)
def code_stays_in_bounds(ctx: CheckContext) -> CheckResult:
    """No network, subprocess, dynamic code, writes outside the working folder or secrets."""
    files, findings = scan_code(ctx.code_dir, ctx.thresholds)
    failing = [f for f in findings if f.fails]
    warnings = [f for f in findings if not f.fails]
    status = Status.FAIL if failing else Status.WARN if warnings or not files else Status.PASS
    none_zh = "；未找到笔记本或 Python 文件" if not files else ""
    none_en = "; no notebook or Python file found" if not files else ""
    return _result(
        "other.static_code",
        status,
        (
            "笔记本与代码无网络、子进程、动态代码、越界写文件或引用秘密",
            "Notebook and code: no network, subprocess, dynamic code, stray writes or secrets",
        ),
        (
            f"静态检查了 {files} 个文件：{len(failing)} 处违规，"
            f"{len(warnings)} 处需人工审查{none_zh}",
            f"{files} files read statically: {len(failing)} violations, "
            f"{len(warnings)} for the reviewer to judge{none_en}",
        ),
        evidence=[f.evidence() for f in (*failing, *warnings)],
        remedy=(
            "删除网络、子进程、eval/exec、动态导入、shell 命令和对平台秘密的引用；"
            "只写入工作目录下的相对路径（如 outputs/）。",
            "Remove network, subprocess, eval/exec, dynamic imports, shell escapes and references "
            "to platform secrets; write only to relative paths under the working folder "
            "(e.g. outputs/).",
        ),
        figures={
            "files": float(files),
            "violations": float(len(failing)),
            "warnings": float(len(warnings)),
        },
    )


def _imports(code_dir: Path, max_bytes: int) -> dict[str, str]:
    found: dict[str, str] = {}
    for units, _problems in read_code(code_dir, max_bytes):  # other.static_code reports them
        for module, where in imported_modules(units or []).items():
            found.setdefault(module, where)
    return found


def _installed(module: str) -> bool:
    """In this runner's image (the one production runs in): found, never imported."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return True  # loaded already in an odd way: it is here


@check("other.packages", RiskFactor.OTHER)
def imports_are_approved(ctx: CheckContext) -> CheckResult:
    """Every module the code imports is in the runner image, approved for the scenario
    (its package set) or the code's own: what production installs is the same set."""
    imported = _imports(ctx.code_dir, ctx.thresholds.scan_max_file_bytes)
    # the code's own modules: a file or folder of the submitted code
    own = list(ctx.code_dir.rglob("*")) if ctx.code_dir.is_dir() else []
    local = {p.stem for p in own if p.suffix == ".py"} | {p.name for p in own if p.is_dir()}
    approved = set(ctx.submission.approved_modules)
    outside = {
        m: where
        for m, where in sorted(imported.items())
        if m not in sys.stdlib_module_names and m not in local and not _installed(m)
    }
    used = sorted(m for m in outside if m in approved)
    missing = {m: where for m, where in outside.items() if m not in approved}
    status = Status.WARN if missing else Status.PASS
    return _result(
        "other.packages",
        status,
        (
            "导入的软件包均在运行镜像中或已为本场景批准",
            "Imported packages: in the runner image or approved for the scenario",
        ),
        (
            f"导入 {len(imported)} 个模块：{len(used)} 个来自已批准软件包"
            f"{'（' + '、'.join(used) + '）' if used else ''}，{len(missing)} 个未获批准",
            f"{len(imported)} modules imported: {len(used)} from approved packages"
            f"{' (' + ', '.join(used) + ')' if used else ''}, {len(missing)} not approved",
        ),
        evidence=[
            Evidence(
                what_zh=f"导入 {m}：既不在运行镜像中，也未为本场景批准",
                what_en=f"imports {m}: neither in the runner image nor approved for the scenario",
                where=safe_label(where),
                value=m,
            )
            for m, where in missing.items()
        ],
        remedy=(
            "在 /services/shuyu/packages 为本场景申请该软件包，或删除该导入："
            "生产运行只安装已批准的软件包。",
            "Ask for the package for this scenario on /services/shuyu/packages, or remove the "
            "import: a production run installs approved packages only.",
        ),
        figures={"imported": float(len(imported)), "not_approved": float(len(missing))},
    )
