"""IPython syntax in notebook cells: shell escapes (`!cmd`, `x = !cmd`) and magics
(`%%bash`, `%run`, …) are findings; only `%matplotlib` and the timing magics (`%time`,
`%timeit`, `%%time`, `%%timeit`, `%%capture`), whose body is read as Python, pass. The
cell is turned into Python for `ast`, line for line."""

from __future__ import annotations

import re

from shuyu.selfcheck.static_code.findings import CodeFinding, shown

ALLOWED_LINE_MAGICS = frozenset({"matplotlib"})
PASSTHROUGH_MAGICS = frozenset({"time", "timeit"})
PASSTHROUGH_CELL_MAGICS = frozenset({"time", "timeit", "capture"})


_MAGIC = re.compile(r"^(\s*)(%%?)(\w+)(.*)$")
_SHELL_ASSIGNMENT = re.compile(r"^\s*[\w\s,.\[\]]+=\s*[!%]")


def ipython_to_python(source: str, where: str) -> tuple[str, list[CodeFinding]]:
    """Python for `ast` (magic lines blanked, timing magics unwrapped), and the shell
    escapes and magics found."""
    lines = source.splitlines()
    findings: list[CodeFinding] = []

    def refuse(number: int, zh: str, en: str) -> None:
        findings.append(CodeFinding(where, number, zh, en, shown(lines[number - 1])))

    first = _MAGIC.match(lines[0]) if lines else None
    if first and first.group(2) == "%%":
        if first.group(3) not in PASSTHROUGH_CELL_MAGICS:
            refuse(
                1,
                f"单元格魔法 %%{first.group(3)}（执行 Python 之外的代码）",
                f"cell magic %%{first.group(3)} (runs code other than Python)",
            )
            return "", findings
        lines[0] = ""
    out = []
    for number, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        magic = _MAGIC.match(line)
        if stripped.startswith("!") or _SHELL_ASSIGNMENT.match(line):
            refuse(number, "shell 命令（! 或 %sx）", "a shell escape (! or %sx)")
            out.append(indent + "pass")
        elif magic and magic.group(2) == "%":
            name = magic.group(3)
            if name in PASSTHROUGH_MAGICS:
                out.append(indent + magic.group(4).strip())
            else:
                if name not in ALLOWED_LINE_MAGICS:
                    refuse(number, f"IPython 魔法 %{name}", f"IPython magic %{name}")
                out.append(indent + "pass")
        elif stripped.endswith("?") and not stripped.startswith("#"):
            out.append(indent + "pass")  # help syntax: obj?
        else:
            out.append(line)
    return "\n".join(out), findings
