"""The units code is read in — a Python file, or the code cells of a notebook, which
share one namespace (a notebook's cells see each other's imports and names) — and the
scan of a code folder over them. A file or cell that does not parse is a finding with
the reason; links and files over the scan limit are not read (and say so)."""

from __future__ import annotations

import ast
import json
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from shuyu.policy.models import SelfCheckThresholds
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.notebooks import cell_source, notebook_cells
from shuyu.selfcheck.static_code.findings import CodeFinding, shown
from shuyu.selfcheck.static_code.ipython import ipython_to_python
from shuyu.selfcheck.static_code.names import Aliases
from shuyu.selfcheck.static_code.scanner import Scanner
from shuyu.selfcheck.static_code.secret_mentions import computed_secrets, secret_findings


def _parsed(
    source: str, where: str, *, notebook: bool
) -> tuple[ast.Module | None, list[CodeFinding]]:
    """The syntax tree of a file or cell (IPython syntax replaced in a notebook cell, line
    for line), the shell escapes and magics found, and why it does not parse."""
    try:
        return ast.parse(source), []
    except SyntaxError as exc:
        error = exc
    escapes: list[CodeFinding] = []
    if notebook:
        python, escapes = ipython_to_python(source, where)
        try:
            return ast.parse(python), escapes
        except SyntaxError as exc:
            error = exc
    line = error.lineno or 0
    reason = CodeFinding(
        where,
        line,
        f"代码无法解析：{error.msg}",
        f"does not parse: {error.msg}",
        shown(error.text or ""),
    )
    return None, [*escapes, reason]


@dataclass(frozen=True)
class CodeUnit:
    """One file, or one cell of a notebook: its text and, if it parses, its tree."""

    where: str
    lines: list[str]
    tree: ast.Module | None


def scan_units(units: Sequence[CodeUnit], limits: SelfCheckThresholds) -> list[CodeFinding]:
    """Findings in the units of one file, which share one namespace (a notebook's cells
    see each other's imports and names)."""
    body = [statement for unit in units if unit.tree is not None for statement in unit.tree.body]
    aliases = Aliases(ast.Module(body=body, type_ignores=[]))
    findings: list[CodeFinding] = []
    for unit in units:
        findings.extend(secret_findings(unit.where, unit.lines))
        if unit.tree is None:
            continue
        scanner = Scanner(aliases, unit.where, unit.lines, limits)
        scanner.visit(unit.tree)
        findings.extend(scanner.findings)
        findings.extend(computed_secrets(unit.where, unit.lines, unit.tree, scanner.folder))
    return findings


def code_units(
    text: str, label: str, *, notebook: bool
) -> tuple[list[CodeUnit], list[CodeFinding]]:
    """The units of one file and what stops them parsing (a notebook's shell escapes and
    magics too)."""
    if not notebook:
        tree, problems = _parsed(text, label, notebook=False)
        return [CodeUnit(label, text.splitlines(), tree)], problems
    try:
        cells = notebook_cells(json.loads(text))
    except (json.JSONDecodeError, ValueError) as exc:
        return [], [
            CodeFinding(label, 0, "笔记本无法解析", f"the notebook does not parse: {exc}", "")
        ]
    units, findings = [], []
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source, where = cell_source(cell), f"{label} cell {number}"
        tree, problems = _parsed(source, where, notebook=True)
        units.append(CodeUnit(where, source.splitlines(), tree))
        findings.extend(problems)
    return units, findings


def code_files(code_dir: Path) -> Iterator[tuple[str, Path | None]]:
    """(label, path) of each notebook and Python file; path None for a symlink."""
    if not code_dir.is_dir():
        return
    for path in sorted(code_dir.rglob("*")):
        if path.suffix not in (".py", ".ipynb") or ".ipynb_checkpoints" in path.parts:
            continue
        label = safe_label(f"code/{path.relative_to(code_dir).as_posix()}")
        if path.is_symlink() or not stat.S_ISREG(path.lstat().st_mode):
            yield label, None
        else:
            yield label, path


def read_code(
    code_dir: Path, max_bytes: int
) -> Iterator[tuple[list[CodeUnit] | None, list[CodeFinding]]]:
    """Each notebook and Python file of `code_dir` read into its units and what stops
    them parsing; a link, a special file or one over `max_bytes` is not read (units
    None) and says so."""
    for label, path in code_files(code_dir):
        if path is None:
            yield (
                None,
                [
                    CodeFinding(
                        label,
                        0,
                        "符号链接或特殊文件，未读取",
                        "a link or special file: not read",
                        "",
                    )
                ],
            )
            continue
        if path.stat().st_size > max_bytes:
            yield (
                None,
                [
                    CodeFinding(
                        label,
                        0,
                        "文件超过扫描上限，未读取",
                        "over the scan size limit: not read",
                        "",
                    )
                ],
            )
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        yield code_units(text, label, notebook=path.suffix == ".ipynb")


def scan_code(code_dir: Path, limits: SelfCheckThresholds) -> tuple[int, list[CodeFinding]]:
    """(files read, findings) over the notebooks and Python files of `code_dir`."""
    findings: list[CodeFinding] = []
    files = 0
    for units, problems in read_code(code_dir, limits.scan_max_file_bytes):
        findings.extend(problems)
        if units is None:
            continue
        files += 1
        findings.extend(scan_units(units, limits))
    return files, findings
