"""What each name in a unit of code stands for: the modules and functions it was bound
to through imports (aliases, `from` imports, `from os import *`), assignments, the
builtins, `__import__("os")`, `getattr` with a literal name, `sys.modules[...]`,
`globals()[...]`, `vars(os)[...]` and `X.__dict__[...]`; and what is known of the path
an expression computes (literals, `Path`/`os.path.join` of literals, names bound once to
those)."""

from __future__ import annotations

import ast
import builtins
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from shuyu.selfcheck.static_code.folding import Folder

NAME_IMPORTS = frozenset(
    {
        "__import__",
        "importlib.import_module",
        "importlib.__import__",
        "importlib.util.find_spec",
        "pkgutil.resolve_name",
        "pkgutil.get_loader",
        "runpy.run_module",
        "imp.find_module",
        "imp.load_module",
    }
)
"""Calls that import the module named by their first argument."""
_NAMESPACE_CALLS = frozenset({"globals", "locals", "vars"})
_ALIASED_MODULES = {
    "posix": "os",
    "nt": "os",
    "_pickle": "pickle",
    "cPickle": "pickle",
    "__builtin__": "builtins",
}
_BUILTIN_NAMES = frozenset(dir(builtins))


def normal_name(name: str) -> str:
    head, _, rest = name.partition(".")
    head = _ALIASED_MODULES.get(head, head)
    name = f"{head}.{rest}" if rest else head
    return name.removeprefix("builtins.") if name.startswith("builtins.") else name


def module_forbidden(module: str, forbidden: Iterable[str]) -> str | None:
    module = normal_name(module)
    for banned in forbidden:
        if module == banned or module.startswith(banned + "."):
            return banned
    return None


def call_forbidden(name: str, forbidden: Iterable[str]) -> str | None:
    """The forbidden call `name` is: exact, a member of it (`subprocess.run` under
    `subprocess`), or for a dotted entry a name it begins (`os.execv` under `os.exec`)."""
    name = normal_name(name)
    entries = list(forbidden)
    if name in entries:
        return name
    for banned in entries:
        if name.startswith(banned + "."):
            return banned
        if "." in banned and name.startswith(banned) and name[len(banned) :].isidentifier():
            return banned
    return None


@dataclass(frozen=True)
class PathValue:
    """What is known of a path: its leading text, and whether that is all of it."""

    text: str
    complete: bool


def _joined_path(parts: list[PathValue | None]) -> PathValue | None:
    result: PathValue | None = PathValue(".", True)
    for part in parts:
        if part is None or result is None:
            return part if part is not None and part.text.startswith(("/", "~")) else None
        if not result.complete:
            return result
        text = (
            part.text
            if part.text.startswith(("/", "~"))
            else posixpath.join(result.text, part.text)
        )
        result = PathValue(text, part.complete)
    return result


class Aliases:
    """What each name of a module stands for: modules and functions it was bound to."""

    def __init__(self, tree: ast.AST) -> None:
        self.names: dict[str, set[str]] = {}
        self.star: set[str] = set()
        self.paths: dict[str, PathValue | None] = {}
        self.constants: dict[str, str] = {}
        nodes = list(ast.walk(tree))
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.partition(".")[0]
                    self.names.setdefault(bound, set()).add(alias.name if alias.asname else bound)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if alias.name == "*":
                        self.star.add(node.module)
                        continue
                    self.names.setdefault(alias.asname or alias.name, set()).add(
                        f"{node.module}.{alias.name}"
                    )
        folder = Folder(self.constants)
        for _ in range(2):  # a second pass follows aliases of aliases
            for node in nodes:
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        if isinstance(target, ast.Name):
                            self._bind(target.id, node.value, folder)

    def _bind(self, name: str, value: ast.AST, folder: Folder) -> None:
        resolved = self.resolve(value)
        if resolved:  # an alias of a module or function (a rebinding never hides one)
            self.names.setdefault(name, set()).update(resolved)
        text = folder.text(value)
        if text is not None:
            self.constants[name] = text
        path = self.path(value)
        if name in self.paths and self.paths[name] != path:
            self.paths[name] = None  # bound twice to different paths: unknown
        else:
            self.paths[name] = path

    def resolve(self, node: ast.AST) -> set[str]:
        """The qualified names `node` may stand for (module attributes, builtins)."""
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            return {f"{base}.{node.attr}" for base in self.resolve(node.value)}
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        return set()

    def _name(self, name: str) -> set[str]:
        found = set(self.names.get(name, ()))
        found |= {f"{module}.{name}" for module in self.star}  # from os import *
        if name == "__builtins__":
            found.add("builtins")
        elif name in _BUILTIN_NAMES and name not in self.names:
            found.add(name)
        return found

    def _call(self, node: ast.Call) -> set[str]:
        func = {normal_name(n) for n in self.resolve(node.func)}
        first = node.args[0] if node.args else None
        literal = string_literal(first)
        if func & NAME_IMPORTS and literal:
            return {literal}  # __import__("os") is the module os
        if "getattr" in func and len(node.args) >= 2 and string_literal(node.args[1]):
            return {f"{b}.{string_literal(node.args[1])}" for b in self.resolve(node.args[0])}
        return set()

    def _subscript(self, node: ast.Subscript) -> set[str]:
        literal = string_literal(node.slice)
        if literal is None:
            return set()
        owner = self.resolve(node.value)
        if "sys.modules" in owner:
            return {literal}  # sys.modules["os"] is the module os
        if not (is_namespace(node.value, self) or owner & {"builtins", "builtins.__dict__"}):
            return set()
        found = self._name(literal) or {literal}
        holder = node.value  # vars(os)["system"], os.__dict__["system"]
        if isinstance(holder, ast.Call) and holder.args:
            found |= {f"{b}.{literal}" for b in self.resolve(holder.args[0])}
        elif isinstance(holder, ast.Attribute) and holder.attr == "__dict__":
            found |= {f"{b}.{literal}" for b in self.resolve(holder.value)}
        return found

    def path(self, node: ast.AST) -> PathValue | None:  # noqa: PLR0911
        """What is known of the path `node` computes, or None."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return PathValue(node.value, True)
        if isinstance(node, ast.Name):
            return self.paths.get(node.id)
        if isinstance(node, ast.JoinedStr):
            prefix = ""
            for part in node.values:
                if not (isinstance(part, ast.Constant) and isinstance(part.value, str)):
                    return PathValue(prefix, False)
                prefix += part.value
            return PathValue(prefix, True)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Add)):
            left, right = self.path(node.left), self.path(node.right)
            if isinstance(node.op, ast.Add):
                if left is None:
                    return None
                return (
                    PathValue(left.text + right.text, right.complete)
                    if left.complete and right
                    else PathValue(left.text, False)
                )
            return _joined_path([left, right])
        if isinstance(node, ast.Attribute) and node.attr == "parent":
            base = self.path(node.value)
            return (
                PathValue(posixpath.normpath(posixpath.join(base.text, "..")), True)
                if base and base.complete
                else None
            )
        if isinstance(node, ast.Call):
            return self._call_path(node)
        return None

    def _call_path(self, node: ast.Call) -> PathValue | None:
        names = {normal_name(n) for n in self.resolve(node.func)}
        method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        first = self.path(node.args[0]) if node.args else None
        if names & _PATH_MAKERS:
            return _joined_path([self.path(a) for a in node.args])
        fixed = next((v for n, v in _FIXED_PATHS.items() if n in names), None)
        if fixed is None and names & _SAME_PATH:
            return first
        if (
            fixed is None
            and method in _PATH_KEEPING_METHODS
            and isinstance(node.func, ast.Attribute)
        ):
            base = self.path(node.func.value)
            home = base is not None and method == "expanduser" and base.text.startswith("~")
            fixed = PathValue("~", True) if home else base
        return fixed


_PATH_MAKERS = frozenset(
    {
        "pathlib.Path",
        "pathlib.PurePath",
        "pathlib.PosixPath",
        "pathlib.PurePosixPath",
        "os.path.join",
    }
)
_FIXED_PATHS = {
    "os.getcwd": PathValue(".", True),
    "pathlib.Path.cwd": PathValue(".", True),
    "pathlib.Path.home": PathValue("~", True),
    "os.path.expanduser": PathValue("~", True),
}
_SAME_PATH = frozenset(
    {"os.path.abspath", "os.path.realpath", "os.path.normpath", "os.fspath", "str"}
)
_PATH_KEEPING_METHODS = frozenset({"resolve", "absolute", "with_suffix", "with_name", "expanduser"})


def string_literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def is_namespace(node: ast.AST, aliases: Aliases) -> bool:
    """`globals()`, `locals()`, `vars(...)`, `__builtins__`, `X.__dict__`."""
    if (
        isinstance(node, ast.Call)
        and {normal_name(n) for n in aliases.resolve(node.func)} & _NAMESPACE_CALLS
    ):
        return True
    if isinstance(node, ast.Name) and node.id == "__builtins__":
        return True
    return isinstance(node, ast.Attribute) and node.attr == "__dict__"
