"""The top-level modules code imports (absolute `import x.y` and `from x import y`):
what a run will need installed, as the self-check and the production service read it."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from shuyu.selfcheck.static_code.units import CodeUnit


def imported_modules(units: Sequence[CodeUnit]) -> dict[str, str]:
    """Module → where it is first imported ("code/x.ipynb cell 3 line 2")."""
    found: dict[str, str] = {}
    for unit in units:
        if unit.tree is None:
            continue
        for node in ast.walk(unit.tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], f"{unit.where} line {node.lineno}")
    return found
