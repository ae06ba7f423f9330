"""Which calls write files, and the argument that holds the path they write to: `open`
in w/a/x/+ mode, `os.open` with write flags, pathlib `write_*`, `touch`, `mkdir`, …,
DataFrame `to_*`/`write_*`/`sink_*`, `np.save*`, `torch.save`, `onnx.save`, `savefig`,
`os.rename`/`remove`…. Only the writers listed here are recognised (a library's own save
helper is not)."""

from __future__ import annotations

import ast

from shuyu.selfcheck.static_code.folding import Folder
from shuyu.selfcheck.static_code.names import Aliases

_WRITE_METHODS = frozenset(
    {
        "to_csv", "to_parquet", "to_json", "to_excel", "to_pickle", "to_feather", "to_hdf",
        "to_stata", "to_xml", "to_orc", "to_html", "to_latex", "to_markdown", "write_csv",
        "write_parquet", "write_json", "write_ndjson", "write_ipc", "write_ipc_stream",
        "write_excel", "write_avro", "write_delta", "sink_parquet", "sink_csv", "sink_ipc",
        "sink_ndjson", "savefig", "tofile", "write_text", "write_bytes",
    }
)  # fmt: skip
_PATH_METHODS = frozenset(
    {"touch", "mkdir", "unlink", "rmdir", "rename", "replace", "symlink_to", "hardlink_to", "chmod"}
)
_PATH_KEYWORDS = ("path", "file", "fname", "f", "path_or_buf", "target", "excel_writer", "buf")
_WRITE_FUNCTIONS: dict[str, int] = {
    "numpy.save": 0,
    "numpy.savez": 0,
    "numpy.savez_compressed": 0,
    "numpy.savetxt": 0,
    "torch.save": 1,
    "onnx.save": 1,
    "onnx.save_model": 1,
    "joblib.dump": 1,
    "matplotlib.pyplot.savefig": 0,
    "mlflow.onnx.save_model": 1,
    "torch.onnx.export": 2,
    "os.rename": 1,
    "os.replace": 1,
    "os.remove": 0,
    "os.unlink": 0,
    "os.makedirs": 0,
    "os.mkdir": 0,
    "os.rmdir": 0,
    "os.symlink": 1,
    "os.link": 1,
    "os.truncate": 0,
    "os.chmod": 0,
}
"""Module functions that write, and the position of the path they write to."""
_OPENERS = frozenset({"open", "io.open", "codecs.open"})
_WRITE_FLAGS = frozenset({"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"})


def write_target(  # noqa: PLR0911
    node: ast.Call, names: set[str], aliases: Aliases, folder: Folder
) -> tuple[ast.AST | None, str | None]:
    """The node of the path a call writes to, and what kind of write, if it writes."""
    args, keywords = node.args, {k.arg: k.value for k in node.keywords if k.arg}
    if names & _OPENERS:
        mode = args[1] if len(args) > 1 else keywords.get("mode")
        if mode is None:
            return None, None
        text = folder.text(mode)
        if text is not None and not set(text) & set("wax+"):
            return None, None
        return (args[0] if args else keywords.get("file")), "open"
    if "os.open" in names:
        flags = args[1] if len(args) > 1 else keywords.get("flags")
        if (
            flags is None
            or not {n.attr for n in ast.walk(flags) if isinstance(n, ast.Attribute)} & _WRITE_FLAGS
        ):
            return None, None
        return (args[0] if args else None), "os.open"
    function = next((n for n in sorted(names) if n in _WRITE_FUNCTIONS), None)
    if function is not None:
        index = _WRITE_FUNCTIONS[function]
        found = (
            args[index]
            if len(args) > index
            else next((keywords[k] for k in _PATH_KEYWORDS if k in keywords), None)
        )
        return (found, function) if found is not None and not _is_none(found) else (None, None)
    func = node.func
    if not isinstance(func, ast.Attribute):
        return None, None
    if func.attr in _WRITE_METHODS:
        if func.attr in ("write_text", "write_bytes", "tofile"):
            return (func.value if func.attr != "tofile" else (args[0] if args else None)), func.attr
        found = (
            args[0] if args else next((keywords[k] for k in _PATH_KEYWORDS if k in keywords), None)
        )
        return (found, func.attr) if found is not None and not _is_none(found) else (None, None)
    if func.attr in _PATH_METHODS | {"open"} and aliases.path(func.value) is not None:
        if func.attr == "open":
            opened = folder.text(args[0]) if args else "r"
            if opened is not None and not set(opened) & set("wax+"):
                return None, None
        return func.value, func.attr
    return None, None


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None
