"""The findings of one unit of code (a file or a notebook cell), read with `ast`: imports
of forbidden modules, references to forbidden calls however they are reached, dynamic
imports of names that are not literals, loaders of code from files or bytes, the
introspection attributes sandbox escapes use, IPython's `get_ipython().system` and kin,
and writes to paths outside the working directory (or that cannot be decided)."""

from __future__ import annotations

import ast
import posixpath
import re
from collections.abc import Sequence

from shuyu.policy.models import SelfCheckThresholds
from shuyu.selfcheck.static_code.findings import CodeFinding, shown
from shuyu.selfcheck.static_code.folding import Folder, dotted_name
from shuyu.selfcheck.static_code.names import (
    NAME_IMPORTS,
    Aliases,
    call_forbidden,
    is_namespace,
    module_forbidden,
    normal_name,
)
from shuyu.selfcheck.static_code.writes import write_target

CODE_LOADERS = frozenset(
    {
        "importlib.util.spec_from_file_location",
        "importlib.util.spec_from_loader",
        "importlib.util.module_from_spec",
        "importlib.machinery.SourceFileLoader",
        "importlib.machinery.SourcelessFileLoader",
        "importlib.machinery.ExtensionFileLoader",
        "imp.load_source",
        "imp.load_compiled",
        "imp.load_dynamic",
        "runpy.run_path",
        "zipimport.zipimporter",
        "marshal.load",
        "marshal.loads",
        "types.CodeType",
        "types.FunctionType",
    }
)
"""Calls that load or build code from files or bytes: always a finding."""
GADGETS = frozenset(
    {
        "__subclasses__",
        "__globals__",
        "__builtins__",
        "__code__",
        "__bases__",
        "__base__",
        "__mro__",
        "__import__",
        "__loader__",
        "__getattribute__",
        "f_globals",
        "f_builtins",
        "gi_frame",
    }
)
IPYTHON_CODE = frozenset(
    {"system", "getoutput", "run_line_magic", "run_cell_magic", "run_cell", "ex", "ev", "magic"}
)


class Scanner(ast.NodeVisitor):
    """The findings of one unit of code (a file or a notebook cell)."""

    def __init__(
        self, aliases: Aliases, where: str, lines: Sequence[str], limits: SelfCheckThresholds
    ) -> None:
        self.aliases = aliases
        self.folder = Folder(aliases.constants)
        self.where = where
        self.lines = lines
        self.modules = limits.forbidden_notebook_modules
        self.calls = limits.forbidden_notebook_calls
        self.findings: list[CodeFinding] = []
        self._seen: set[tuple[int, str]] = set()

    def report(self, node: ast.AST, zh: str, en: str, *, fails: bool = True) -> None:
        line = getattr(node, "lineno", 0)
        if (line, en) in self._seen:
            return
        self._seen.add((line, en))
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.findings.append(CodeFinding(self.where, line, zh, en, shown(text), fails))

    # imports
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(node, alias.name)
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            self._imported(node, node.module)
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if module_forbidden(full, self.modules):
                    self._imported(node, full)
                elif (banned := call_forbidden(full, self.calls)) is not None:
                    self.report(
                        node, f"导入禁止调用的函数 {banned}", f"imports the forbidden call {banned}"
                    )
        self.generic_visit(node)

    def _imported(self, node: ast.AST, module: str) -> None:
        banned = module_forbidden(module, self.modules)
        if banned is not None:
            self.report(node, f"导入禁止的模块 {banned}", f"imports the forbidden module {banned}")

    # references to forbidden calls, however they are reached
    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self.report(node, "直接使用 __builtins__", "reaches __builtins__ directly")
        self._reference(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in GADGETS:
            self.report(
                node,
                f"使用内省属性 {node.attr}（沙箱逃逸手法）",
                f"uses the introspection attribute {node.attr} (a sandbox escape)",
            )
        self._reference(node)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        owner = {normal_name(n) for n in self.aliases.resolve(node.value)}
        if is_namespace(node.value, self.aliases) or "sys.modules" in owner:
            key = node.slice
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                computed = self.folder.text(key)
                zh = f"（算得 {computed!r}）" if computed else ""
                en = f" ({computed!r})" if computed else ""
                self.report(
                    node,
                    f"按计算出的名字取命名空间或模块{zh}",
                    f"namespace or module looked up by a computed name{en}",
                )
        self._reference(node)
        self.generic_visit(node)

    def _reference(self, node: ast.AST) -> None:
        for name in self.aliases.resolve(node):
            banned = call_forbidden(name, self.calls)
            if banned is not None:
                self.report(node, f"使用禁止的调用 {banned}", f"uses the forbidden call {banned}")
            module = module_forbidden(name, self.modules)
            if module is not None and isinstance(node, ast.Subscript):
                self.report(
                    node,
                    f"经 sys.modules 等取得禁止的模块 {module}",
                    f"reaches the forbidden module {module}",
                )

    # calls
    def visit_Call(self, node: ast.Call) -> None:
        names = {normal_name(n) for n in self.aliases.resolve(node.func)}
        if names & NAME_IMPORTS:
            self._dynamic_import(node)
        if names & CODE_LOADERS:
            loader = sorted(names & CODE_LOADERS)[0]
            self.report(
                node,
                f"从文件或字节加载代码（{loader}）",
                f"loads code from a file or bytes ({loader})",
            )
        if names & {"getattr", "setattr", "delattr"} and len(node.args) >= 2:
            self._getattr(node)
        if names & {"operator.attrgetter", "operator.methodcaller"} and node.args:
            self._attribute_by_name(node)
        self._ipython(node)
        self._write(node, names)
        self._reference(node)  # getattr(os, "system"), __import__("os").system …
        self.generic_visit(node)

    def _dynamic_import(self, node: ast.Call) -> None:
        first = (
            node.args[0]
            if node.args
            else next((k.value for k in node.keywords if k.arg == "name"), None)
        )
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            banned = module_forbidden(first.value, self.modules)
            if banned is not None:
                self.report(
                    node,
                    f"动态导入禁止的模块 {banned}",
                    f"dynamically imports the forbidden module {banned}",
                )
            return
        computed = self.folder.text(first) if first is not None else None
        shown_zh = f"，算得 {computed!r}" if computed else ""
        shown_en = f", computes to {computed!r}" if computed else ""
        self.report(
            node,
            f"动态导入，模块名不是字面常量{shown_zh}",
            f"dynamic import of a name that is not a literal{shown_en}",
        )

    def _getattr(self, node: ast.Call) -> None:
        owner = self.aliases.resolve(node.args[0])
        name = node.args[1]
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            return  # resolved as an attribute by `_reference`
        computed = self.folder.text(name)
        targets = {f"{o}.{computed}" for o in owner} if computed else set()
        banned = next((b for t in targets if (b := call_forbidden(t, self.calls))), None)
        if banned is not None:
            self.report(
                node,
                f"按计算出的名字取得禁止的调用 {banned}",
                f"reaches the forbidden call {banned} by a computed name",
            )
        elif owner or is_namespace(node.args[0], self.aliases):
            self.report(
                node, "按计算出的名字取模块属性", "module attribute looked up by a computed name"
            )

    def _attribute_by_name(self, node: ast.Call) -> None:
        """`operator.methodcaller("system", ...)(os)`: an attribute named by a string."""
        name = self.folder.text(node.args[0])
        last = {c.rpartition(".")[2] for c in self.calls}
        if name is None or name.split(".")[-1] in last or name.startswith("__"):
            shown = f" {name!r}" if name else ""
            self.report(
                node,
                f"按字符串取属性{shown}（可绕过静态检查）",
                f"attribute looked up by a string{shown} (a way around static checks)",
            )

    def _ipython(self, node: ast.Call) -> None:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in IPYTHON_CODE
            and isinstance(func.value, ast.Call)
            and dotted_name(func.value.func) == "get_ipython"
        ):
            self.report(
                node,
                f"经 IPython 执行命令或魔法（{func.attr}）",
                f"runs commands or magics through IPython ({func.attr})",
            )

    def _write(self, node: ast.Call, names: set[str]) -> None:
        target, kind = write_target(node, names, self.aliases, self.folder)
        if kind is None:
            return
        path = self.aliases.path(target) if target is not None else None
        if path is None:
            self.report(
                node,
                f"写文件（{kind}），路径无法静态确定，请审查",
                f"writes a file ({kind}) to a path that cannot be decided statically: review it",
                fails=False,
            )
            return
        text = path.text
        escapes = text.startswith(("/", "~", "\\")) or re.match(r"^[A-Za-z]:", text) is not None
        normal = posixpath.normpath(text) if text else "."
        escapes = escapes or normal == ".." or normal.startswith("../")
        if escapes:
            self.report(
                node,
                f"写到工作目录之外（{kind}）：{text!r}",
                f"writes outside the working directory ({kind}): {text!r}",
            )
        elif not path.complete:
            self.report(
                node,
                f"写文件（{kind}），路径部分无法确定：{text!r}…",
                f"writes a file ({kind}) to a partly unknown path: {text!r}…",
                fails=False,
            )
