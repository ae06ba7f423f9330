"""其他风险 — other risks: a model that can run code, a graph that reaches outside itself,
and notebook code that does what a scoring notebook has no business doing.

`other.model_format` is an allowlist, not a denylist (published tests show pickle
denylist scanners missing most attacks): the MLmodel must describe exactly what
`mlflow.onnx.log_model` writes in MLflow 3.17 — an `onnx` flavour and the
`python_function` flavour whose loader is `mlflow.onnx`, both pointing at `model.onnx`,
no code paths, no extra files, no session options, the stock execution providers — and
the model folder may hold only the files that flavour writes. Besides, no file in the
model or artifact folders (archive members included) may be a serialised Python object:
pickle (any protocol; joblib, dill, cloudpickle and legacy torch files are pickles), a
PyTorch archive (a zip whose members are pickles), a NumPy object array, or compiled
Python; judged by the bytes (a pickle parses as pickle opcodes up to STOP), never by
the name.

`other.onnx_graph`: the model parses, passes `onnx.checker`, carries no field this
ONNX does not know, no tensor whose data lives in an external file (a path that could
point anywhere), no operator, opset or model-local function outside `onnx_domains`, no
training graph, and fits within `model_max_bytes`.

`other.modelscan`: ProtectAI's modelscan (the `selfcheck` extra; its core needs only
numpy, tomlkit, click and rich, no TensorFlow) over the model and artifact folders as a
second line. modelscan chooses its scanner by file extension and does not read ONNX, tar
or gzip, so every member this module recognises as a pickle (renamed, nested in any
archive, compressed) is shown to modelscan again under a `.pkl` name.

`other.static_code`: the run's notebooks and Python files read with `ast`, never run.
What is decided statically, and what cannot be:

* imports of `forbidden_notebook_modules` (submodules and `from` imports too), and every
  dynamic import: `__import__`, `importlib.import_module` and their relatives whose
  argument is not a literal allowed name fail (a name built from strings is shown as
  far as it can be computed: ``"so" + "cket"``, ``"".join([...])``, ``bytes.fromhex``,
  ``codecs.decode(..., "rot13")``, base64, ``chr``); loaders of code from files
  (``runpy.run_path``, ``spec_from_file_location``, ``marshal.loads`` …) fail;
* any reference — a call, an alias, a value passed around — to `forbidden_notebook_calls`,
  through import aliases (``import os as o; o.system``), ``from`` imports, ``getattr``
  with a literal or computable name, ``from os import *``, ``sys.modules[...]``,
  ``globals()[...]``, ``vars(os)[...]``, ``__builtins__``; ``getattr`` with an
  incomputable name on a module or the builtins; ``operator.methodcaller`` and
  ``attrgetter`` naming a forbidden call or an incomputable name;
  the introspection attributes sandbox escapes use (``__subclasses__``, ``__globals__``…);
  IPython's ``get_ipython().system`` and kin;
* IPython shell escapes and magics (``!cmd``, ``x = !cmd``, ``%%bash``, ``%run``, …) fail;
  only ``%matplotlib`` and the timing magics (``%time``, ``%timeit``, ``%%time``,
  ``%%timeit``, ``%%capture``), whose body is scanned as Python, pass;
* writes (``open`` in w/a/x/+ mode, ``os.open`` with write flags, pathlib ``write_*``,
  ``touch``, ``mkdir``, …, DataFrame ``to_*``/``write_*``/``sink_*``, ``np.save*``,
  ``torch.save``, ``onnx.save``, ``savefig``, ``os.rename``/``remove``…) to a path that is
  absolute, starts at ``~`` or climbs out of the working directory with ``..`` fail; a
  path that cannot be computed (a variable from elsewhere, an f-string, an environment
  variable) is a warning for the reviewer, not a pass: only literals, ``Path``/
  ``os.path.join`` of literals and names bound once to those are followed, and only the
  writers listed here are recognised (a library's own save helper is not);
* any mention of the masking key or the secrets (file names from `shuyu.secrets`, the
  secrets mount, the key's environment variable), in code, strings or comments, or
  computed from strings, fails.

Each finding names the file, the cell and line, and the offending text. A notebook or
file that does not parse fails with the reason.
"""

from __future__ import annotations

import ast
import base64
import binascii
import builtins
import codecs
import copy
import io
import json
import pickletools
import posixpath
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from shuyu import secrets as platform_secrets
from shuyu.data.masking.key import KEY_FILE_ENV
from shuyu.policy.models import SelfCheckThresholds
from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.notebooks import cell_source, notebook_cells
from shuyu.selfcheck.onnx_messages import is_external, walk_messages
from shuyu.selfcheck.registry import check
from shuyu.selfcheck.result import CheckResult, Evidence, RiskFactor, Status
from shuyu.selfcheck.snapshot_files import Entry, ScanProblem, walk_entries
from shuyu.settings import PlatformSettings

MAX_EVIDENCE = 40


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
    shown = list(evidence)
    if len(shown) > MAX_EVIDENCE:
        rest = len(shown) - MAX_EVIDENCE + 1
        shown = [
            *shown[: MAX_EVIDENCE - 1],
            Evidence(what_zh=f"另有 {rest} 条未列出", what_en=f"{rest} more not listed"),
        ]
    return CheckResult(
        id=check_id,
        factor=RiskFactor.OTHER,
        status=status,
        title_zh=title[0],
        title_en=title[1],
        summary_zh=summary[0],
        summary_en=summary[1],
        evidence=shown,
        remedy_zh=remedy[0] if status is not Status.PASS else "",
        remedy_en=remedy[1] if status is not Status.PASS else "",
        figures=figures or {},
    )


def _evidence(zh: str, en: str, where: str = "", value: str = "") -> Evidence:
    return Evidence(what_zh=zh, what_en=en, where=where, value=value)


def _model_roots(ctx: CheckContext) -> list[tuple[str, Path]]:
    return [("model", ctx.model_dir), ("artifacts", ctx.artifacts_dir)]


# ------------------------------------------------------------------ serialised code


_PICKLE_FIRST = frozenset(b"(}])NILFSVdlcGJKMUTXBC\x80\x8c\x95")
_PICKLE_PREFIX = 1 << 20


def is_pickle(data: bytes) -> bool:
    """Whether `data` is a pickle: its opcodes parse (without running anything) up to
    STOP, or, for a long one, for a good stretch from a protocol header."""
    if len(data) < 2 or data[0] not in _PICKLE_FIRST:
        return False
    framed = data[0] == 0x80 and 2 <= data[1] <= 5
    seen = 0
    try:
        for opcode, _arg, _pos in pickletools.genops(io.BytesIO(data[:_PICKLE_PREFIX])):
            seen += 1
            if opcode.name == "STOP":
                return seen > 1 or framed
    except Exception:  # not pickle opcodes, or the prefix ran out
        return (framed and seen >= 2) or seen >= 64
    return False


def _npy_has_objects(data: bytes) -> bool:
    handle = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(handle)
        header = (
            np.lib.format.read_array_header_1_0(handle)
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0(handle)
        )
    except ValueError:
        return False
    return bool(np.dtype(header[2]).hasobject)


def _is_compiled_python(data: bytes) -> bool:
    return (
        len(data) >= 16
        and data[2:4] == b"\r\n"
        and 3000 <= int.from_bytes(data[:2], "little") < 4000
    )


def serialised_code(entry: Entry) -> tuple[str, str] | None:
    """(zh, en) naming the kind of executable serialisation `entry` is, if it is one."""
    data = entry.data
    if is_pickle(data):
        if "!" in entry.where:
            return (
                "压缩包中的 pickle（如 PyTorch 模型，加载即执行代码）",
                "a pickle inside an archive (e.g. a PyTorch file): runs code when loaded",
            )
        return (
            "pickle 序列化对象（加载即执行代码）",
            "a pickle (joblib, dill, torch …): runs code when loaded",
        )
    if data.startswith(b"\x93NUMPY") and _npy_has_objects(data):
        return "含对象的 NumPy 数组（内含 pickle）", "a NumPy object array (a pickle inside)"
    if _is_compiled_python(data):
        return "编译后的 Python 字节码", "compiled Python bytecode"
    return None


# ------------------------------------------------------------------ other.model_format

MODEL_FILE = "model.onnx"
ALLOWED_MODEL_FILES = frozenset(
    {
        "MLmodel",
        MODEL_FILE,
        "conda.yaml",
        "python_env.yaml",
        "requirements.txt",
        "constraints.txt",  # written when pip constraints are given
        "input_example.json",  # written with an input example
        "serving_input_example.json",
        "environment_variables.txt",  # written when inference read known variables
    }
)
"""What `mlflow.onnx.save_model` writes (MLflow 3.17.2): the model, the MLmodel, the
environment files and, with an input example, its two JSON files. Not `code/` (code
paths run at load) and not `extra_files/`."""
_ONNX_FLAVOUR_KEYS = frozenset(
    {"code", "data", "onnx_session_options", "onnx_version", "providers"}
)
_PYFUNC_KEYS = frozenset({"loader_module", "data", "env", "python_version", "code"})
_PYFUNC_ENV = {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
_PROVIDERS = frozenset({"CPUExecutionProvider", "CUDAExecutionProvider"})
_MLMODEL_KEYS = frozenset(
    {
        "artifact_path",
        "flavors",
        "mlflow_version",
        "model_id",
        "model_size_bytes",
        "model_uuid",
        "prompts",
        "run_id",
        "saved_input_example_info",
        "signature",
        "utc_time_created",
        "metadata",
        "databricks_runtime",
        "resources",
        "env_vars",
        "auth_policy",
        "is_signature_from_type_hint",
        "type_hint_from_example",
    }
)


def mlmodel_findings(model_dir: Path) -> list[Evidence]:
    """What in the MLmodel is not the shape `mlflow.onnx.log_model` writes."""
    path = model_dir / "MLmodel"
    where = "model/MLmodel"
    if not path.is_file() or path.is_symlink():
        return [_evidence("缺少 MLmodel 文件", "no MLmodel file", where)]
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return [_evidence("MLmodel 不是有效的 YAML", f"MLmodel is not valid YAML: {exc}", where)]
    flavors = document.get("flavors") if isinstance(document, dict) else None
    if not isinstance(flavors, dict):
        return [_evidence("MLmodel 中没有 flavors", "MLmodel has no flavors", where)]
    found = [
        _evidence("MLmodel 含未知的顶层字段", "unknown top-level MLmodel key", where, str(key))
        for key in document
        if key not in _MLMODEL_KEYS
    ]
    for name in flavors:
        if name not in ("onnx", "python_function"):
            found.append(
                _evidence(
                    f"模型格式 {name} 不被接受：只接受 ONNX",
                    f"flavour {name!r} is not accepted: ONNX only",
                    f"{where} flavors",
                    str(name),
                )
            )
    onnx_flavour = flavors.get("onnx")
    if not isinstance(onnx_flavour, dict):
        found.append(_evidence("缺少 onnx 模型格式", "no onnx flavour", f"{where} flavors"))
    else:
        found.extend(_onnx_flavour_findings(onnx_flavour, f"{where} flavors.onnx"))
    pyfunc = flavors.get("python_function")
    if pyfunc is not None:
        found.extend(_pyfunc_findings(pyfunc, f"{where} flavors.python_function"))
    return found


def _unexpected_keys(
    section: dict[str, Any], allowed: frozenset[str], where: str
) -> list[Evidence]:
    return [
        _evidence("不允许的字段", "key not allowed", f"{where}.{key}", str(key))
        for key in section
        if key not in allowed
    ]


def _onnx_flavour_findings(flavour: dict[str, Any], where: str) -> list[Evidence]:
    found = _unexpected_keys(flavour, _ONNX_FLAVOUR_KEYS, where)
    if flavour.get("data") != MODEL_FILE:
        found.append(
            _evidence(
                "模型文件不是 model.onnx",
                "the model file is not model.onnx",
                f"{where}.data",
                str(flavour.get("data")),
            )
        )
    if flavour.get("code"):
        found.append(
            _evidence(
                "带有代码目录（加载时执行）",
                "code paths (run at load)",
                f"{where}.code",
                str(flavour["code"]),
            )
        )
    if flavour.get("onnx_session_options"):
        found.append(
            _evidence(
                "带有 onnxruntime 会话选项",
                "onnxruntime session options",
                f"{where}.onnx_session_options",
            )
        )
    providers = flavour.get("providers")
    plain = isinstance(providers, list) and all(
        isinstance(p, str) and p in _PROVIDERS for p in providers
    )
    if providers is not None and not plain:
        found.append(
            _evidence(
                "执行提供者不是默认的 CPU/CUDA",
                "execution providers other than the stock CPU/CUDA",
                f"{where}.providers",
                str(providers)[:200],
            )
        )
    return found


def _pyfunc_findings(pyfunc: Any, where: str) -> list[Evidence]:
    if not isinstance(pyfunc, dict):
        return [
            _evidence("python_function 格式无效", "python_function flavour is not a mapping", where)
        ]
    found = _unexpected_keys(pyfunc, _PYFUNC_KEYS, where)
    if pyfunc.get("loader_module") != "mlflow.onnx":
        found.append(
            _evidence(
                "python_function 的加载模块不是 mlflow.onnx",
                "python_function loader is not mlflow.onnx",
                f"{where}.loader_module",
                str(pyfunc.get("loader_module")),
            )
        )
    if pyfunc.get("data") != MODEL_FILE:
        found.append(
            _evidence(
                "python_function 数据不是 model.onnx",
                "python_function data is not model.onnx",
                f"{where}.data",
                str(pyfunc.get("data")),
            )
        )
    if pyfunc.get("code"):
        found.append(
            _evidence(
                "带有代码目录（加载时执行）",
                "code paths (run at load)",
                f"{where}.code",
                str(pyfunc["code"]),
            )
        )
    env = pyfunc.get("env", {})
    if not isinstance(env, dict) or any(_PYFUNC_ENV.get(k) != v for k, v in env.items()):
        found.append(
            _evidence(
                "环境文件不是默认的 conda.yaml/python_env.yaml",
                "environment files other than conda.yaml/python_env.yaml",
                f"{where}.env",
                str(env)[:200],
            )
        )
    return found


def model_folder_findings(model_dir: Path) -> list[Evidence]:
    """Files and folders in the model folder that `mlflow.onnx` does not write."""
    if not model_dir.is_dir():
        return [_evidence("没有模型目录", "no model folder", "model/")]
    found = []
    for path in sorted(model_dir.rglob("*")):
        where = safe_label(f"model/{path.relative_to(model_dir).as_posix()}")
        if path.is_symlink():
            found.append(_evidence("符号链接", "a symbolic link", where))
        elif path.is_dir():
            found.append(
                _evidence(
                    "模型目录中不允许有子目录", "no folders allowed in the model folder", where
                )
            )
        elif path.parent != model_dir or path.name not in ALLOWED_MODEL_FILES:
            found.append(
                _evidence("模型目录中不允许的文件", "a file the ONNX flavour does not write", where)
            )
    return found


@check("other.model_format", RiskFactor.OTHER)
def onnx_only(ctx: CheckContext) -> CheckResult:
    """Only the ONNX flavour, only its files, and no serialised code anywhere."""
    found = mlmodel_findings(ctx.model_dir) + model_folder_findings(ctx.model_dir)
    problems: list[ScanProblem] = []
    serialised = 0
    for entry in walk_entries(_model_roots(ctx), ctx.thresholds, problems):
        kind = serialised_code(entry)
        if kind is not None:
            serialised += 1
            found.append(_evidence(kind[0], kind[1], entry.where))
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


# ------------------------------------------------------------------ other.onnx_graph


def _onnx() -> Any:
    import onnx  # noqa: PLC0415 - the training extra; only model checks need it

    return onnx


def model_path(model_dir: Path) -> Path:
    """The ONNX file the MLmodel names (model.onnx by default)."""
    try:
        document = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
        data = document["flavors"]["onnx"]["data"]
    except (OSError, yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError):
        return model_dir / MODEL_FILE
    name = str(data)
    return model_dir / name if posixpath.basename(name) == name else model_dir / MODEL_FILE


def _standard(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def graph_findings(model: Any, domains: Sequence[str]) -> list[Evidence]:
    """External data, operators and functions outside the allowed domains, opsets."""
    onnx = _onnx()
    allowed = {_standard(d) for d in domains}
    found: list[Evidence] = []
    max_ml = max(e[3] for e in onnx.helper.VERSION_TABLE)
    latest = {"": onnx.defs.onnx_opset_version(), "ai.onnx.ml": max_ml}
    for opset in model.opset_import:
        domain = _standard(opset.domain)
        if domain not in allowed:
            found.append(
                _evidence(
                    "非标准算子集",
                    "opset outside the standard domains",
                    "opset_import",
                    f"{opset.domain} v{opset.version}",
                )
            )
        elif domain in latest and not 1 <= opset.version <= latest[domain]:
            found.append(
                _evidence(
                    "算子集版本超出本平台支持范围",
                    "opset version this platform does not know",
                    "opset_import",
                    f"{opset.domain or 'ai.onnx'} v{opset.version}",
                )
            )
    for function in model.functions:
        if _standard(function.domain) not in allowed:
            found.append(
                _evidence(
                    "模型自带非标准域的函数",
                    "model-local function outside the standard domains",
                    f"function {safe_label(function.name)!r}",
                    function.domain,
                )
            )
    custom: dict[tuple[str, str], list[str]] = {}
    for path, message in walk_messages(model):
        if isinstance(message, onnx.TensorProto) and is_external(message):
            location = next((e.value for e in message.external_data if e.key == "location"), "")
            found.append(
                _evidence(
                    "张量数据引用外部文件",
                    "tensor data in an external file",
                    f"{path} {safe_label(message.name)!r}",
                    safe_label(location)[:200],
                )
            )
        elif isinstance(message, onnx.NodeProto) and _standard(message.domain) not in allowed:
            custom.setdefault((message.domain, message.op_type), []).append(message.name or path)
    for (domain, op), nodes in sorted(custom.items()):
        found.append(
            _evidence(
                f"自定义域算子（{len(nodes)} 个节点）",
                f"operator outside the allowed domains ({len(nodes)} nodes)",
                f"node {safe_label(nodes[0])!r}",
                f"{domain}::{op}",
            )
        )
    if model.training_info:
        found.append(
            _evidence("模型含训练图", "the model carries training graphs", "training_info")
        )
    if model.ir_version > onnx.IR_VERSION:
        found.append(
            _evidence(
                "IR 版本超出本平台支持范围",
                "IR version this platform does not know",
                "ir_version",
                str(model.ir_version),
            )
        )
    return found


def _unknown_fields(model: Any) -> bool:
    copy_ = type(model)()
    copy_.CopyFrom(model)
    copy_.DiscardUnknownFields()
    return bool(copy_.ByteSize() != model.ByteSize())


def _folder_bytes(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


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
    folder = _folder_bytes(ctx.model_dir) if ctx.model_dir.is_dir() else 0
    if size < 0:
        found.append(_evidence("没有 ONNX 模型文件", "no ONNX model file", where))
    elif max(size, folder) > limits.model_max_bytes:
        found.append(
            _evidence(
                f"模型 {size} 字节（目录共 {folder} 字节），超过上限 {limits.model_max_bytes}",
                f"model {size} bytes (folder {folder}), over the limit {limits.model_max_bytes}",
                where,
            )
        )
    else:
        found.extend(_model_findings(path.read_bytes(), where, limits))
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


def _model_findings(data: bytes, where: str, limits: SelfCheckThresholds) -> list[Evidence]:
    onnx = _onnx()
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # whatever the parser says is the reason
        return [
            _evidence("不是可解析的 ONNX 模型", f"not a parseable ONNX model: {exc}"[:300], where)
        ]
    found = graph_findings(model, limits.onnx_domains)
    if _unknown_fields(model):
        found.append(
            _evidence(
                "含 ONNX 未定义的字段（可夹带任意数据）",
                "fields ONNX does not define (could carry anything)",
                where,
            )
        )
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # the checker's message is the evidence
        found.append(
            _evidence("未通过 onnx.checker 校验", f"fails onnx.checker: {exc}"[:300], where)
        )
    return found


# ------------------------------------------------------------------ other.modelscan


def modelscan_unavailable() -> str | None:
    """Why modelscan cannot run here, or None."""
    try:
        from modelscan.modelscan import ModelScan  # noqa: F401, PLC0415
    except ImportError as exc:
        return f"modelscan is not installed ({exc}); install the `selfcheck` extra"
    return None


def _run_modelscan(path: Path) -> dict[str, Any]:
    from modelscan.modelscan import ModelScan  # noqa: PLC0415
    from modelscan.settings import DEFAULT_SETTINGS  # noqa: PLC0415

    report: dict[str, Any] = ModelScan(settings=copy.deepcopy(DEFAULT_SETTINGS)).scan(path)
    return report


@dataclass
class _ScanTally:
    scanned: int = 0
    skipped: int = 0
    issues: list[Evidence] = field(default_factory=list)
    errors: list[Evidence] = field(default_factory=list)

    def add(self, report: dict[str, Any], name: Any) -> None:
        summary = report.get("summary", {})
        self.scanned += int(summary.get("scanned", {}).get("total_scanned", 0))
        self.skipped += int(summary.get("skipped", {}).get("total_skipped", 0))
        for issue in report.get("issues", []):
            self.issues.append(
                _evidence(
                    f"modelscan {issue.get('severity', '')}：{issue.get('description', '')}",
                    f"modelscan {issue.get('severity', '')}: {issue.get('description', '')}",
                    name(str(issue.get("source", ""))),
                    f"{issue.get('module', '')}.{issue.get('operator', '')}",
                )
            )
        for error in report.get("errors", []):
            self.errors.append(
                _evidence(
                    "modelscan 无法扫描",
                    f"modelscan could not scan: {error.get('description', error)}"[:300],
                    name(str(error.get("source", ""))),
                )
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
    tally = _ScanTally()
    for label, root in _model_roots(ctx):
        if root.is_dir():
            tally.add(
                _run_modelscan(root), lambda source, label=label: safe_label(f"{label}/{source}")
            )
    second = _second_look(ctx, tally)
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


def _second_look(ctx: CheckContext, tally: _ScanTally) -> int:
    """Show modelscan, as `.pkl` files, the pickles it would have missed (renamed, nested
    in tar or gzip, compressed)."""
    pickles = [
        e
        for e in walk_entries(_model_roots(ctx), ctx.thresholds, [])
        if is_pickle(e.data)
        and not (
            e.name.endswith((".pkl", ".pickle", ".joblib", ".dill", ".pt", ".pth", ".bin", ".ckpt"))
            and "!" not in e.where
        )
    ]
    if not pickles:
        return 0
    try:
        with tempfile.TemporaryDirectory(prefix="shuyu-modelscan-") as scratch:
            names = {}
            for i, entry in enumerate(pickles):
                name = f"{i:05d}.pkl"
                Path(scratch, name).write_bytes(entry.data)
                names[name] = entry.where
            tally.add(_run_modelscan(Path(scratch)), lambda source: names.get(source, source))
    except OSError as exc:
        tally.errors.append(
            _evidence(
                "无法复查按内容识别的 pickle", f"second look at renamed pickles failed: {exc}"
            )
        )
    return len(pickles)


# ------------------------------------------------------------------ other.static_code


SECRET_MARKERS: tuple[str, ...] = tuple(
    dict.fromkeys(
        m.lower()
        for m in (
            platform_secrets.MASKING_KEY,
            platform_secrets.MLFLOW_GATE_PASSWORD,
            platform_secrets.MLFLOW_ADMIN_PASSWORD,
            platform_secrets.HUB_MLFLOW_ADMIN_PASSWORD,
            str(PlatformSettings.model_fields["secrets_dir"].default),
            "shuyu-secrets",
            "var/secrets",
            KEY_FILE_ENV.removesuffix("_FILE"),
        )
    )
)
"""What a reference to the masking key or the platform's secrets looks like."""

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
_NAMESPACE_CALLS = frozenset({"globals", "locals", "vars"})
_ALIASED_MODULES = {
    "posix": "os",
    "nt": "os",
    "_pickle": "pickle",
    "cPickle": "pickle",
    "__builtin__": "builtins",
}
_BUILTIN_NAMES = frozenset(dir(builtins))
ALLOWED_LINE_MAGICS = frozenset({"matplotlib"})
PASSTHROUGH_MAGICS = frozenset({"time", "timeit"})
PASSTHROUGH_CELL_MAGICS = frozenset({"time", "timeit", "capture"})


@dataclass(frozen=True)
class CodeFinding:
    where: str
    line: int
    what_zh: str
    what_en: str
    text: str
    fails: bool = True

    def evidence(self) -> Evidence:
        place = f"{self.where} line {self.line}" if self.line else self.where
        return Evidence(what_zh=self.what_zh, what_en=self.what_en, where=place, value=self.text)


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return safe_label(text if len(text) <= 160 else text[:157] + "…")


# ---- names


def _normal_name(name: str) -> str:
    head, _, rest = name.partition(".")
    head = _ALIASED_MODULES.get(head, head)
    name = f"{head}.{rest}" if rest else head
    return name.removeprefix("builtins.") if name.startswith("builtins.") else name


def _module_forbidden(module: str, forbidden: Iterable[str]) -> str | None:
    module = _normal_name(module)
    for banned in forbidden:
        if module == banned or module.startswith(banned + "."):
            return banned
    return None


def _call_forbidden(name: str, forbidden: Iterable[str]) -> str | None:
    """The forbidden call `name` is: exact, a member of it (`subprocess.run` under
    `subprocess`), or for a dotted entry a name it begins (`os.execv` under `os.exec`)."""
    name = _normal_name(name)
    entries = list(forbidden)
    if name in entries:
        return name
    for banned in entries:
        if name.startswith(banned + "."):
            return banned
        if "." in banned and name.startswith(banned) and name[len(banned) :].isidentifier():
            return banned
    return None


# ---- folding strings without running anything

_Folded = str | bytes | int | list[Any] | None


class _Folder:
    """Computes the value of string-building expressions made of literals only."""

    def __init__(self, constants: dict[str, str]) -> None:
        self.constants = constants

    def text(self, node: ast.AST) -> str | None:
        value = self.value(node)
        if isinstance(value, bytes):
            return value.decode("latin-1")
        return value if isinstance(value, str) else None

    def value(self, node: ast.AST, depth: int = 0) -> _Folded:  # noqa: PLR0911
        if depth > 20:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes, int)):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        if isinstance(node, ast.JoinedStr):
            parts = [
                self.text(v) if not isinstance(v, ast.FormattedValue) else self.text(v.value)
                for v in node.values
            ]
            return "".join(parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(e, depth + 1) for e in node.elts]
            return items if all(i is not None for i in items) else None
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
            base = self.value(node.value, depth + 1)
            if isinstance(base, (str, bytes)) and _is_reversal(node.slice):
                return base[::-1]
            return None
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        return None

    def _binop(self, node: ast.BinOp, depth: int) -> _Folded:
        left, right = self.value(node.left, depth + 1), self.value(node.right, depth + 1)
        if (
            isinstance(node.op, ast.Add)
            and type(left) is type(right)
            and isinstance(left, (str, bytes))
        ):
            return left + right  # type: ignore[operator]
        if (
            isinstance(node.op, ast.Mult)
            and isinstance(left, str)
            and isinstance(right, int)
            and right < 64
        ):
            return left * right
        if isinstance(node.op, ast.Mod) and isinstance(left, str) and right is not None:
            try:
                return left % (tuple(right) if isinstance(right, list) else right)
            except (TypeError, ValueError):
                return None
        return None

    def _call(self, node: ast.Call, depth: int) -> _Folded:  # noqa: PLR0911
        args = [self.value(a, depth + 1) for a in node.args]
        func = node.func
        if (
            isinstance(func, ast.Name)
            and func.id == "chr"
            and len(args) == 1
            and isinstance(args[0], int)
        ):
            return chr(args[0]) if 0 <= args[0] < 0x110000 else None
        if (
            isinstance(func, ast.Name)
            and func.id in ("bytes", "bytearray")
            and args
            and isinstance(args[0], list)
        ):
            return (
                bytes(args[0])
                if all(isinstance(a, int) and 0 <= a < 256 for a in args[0])
                else None
            )
        if isinstance(func, ast.Name) and func.id == "str" and args and isinstance(args[0], str):
            return args[0]
        if not isinstance(func, ast.Attribute):
            return None
        owner = self.value(func.value, depth + 1)
        dotted = _dotted(func)
        if func.attr == "join" and isinstance(owner, str) and len(args) == 1:
            items = args[0] if isinstance(args[0], list) else _mapped_chr(node.args[0], self, depth)
            return (
                owner.join(items)
                if items is not None and all(isinstance(i, str) for i in items)
                else None
            )
        if func.attr == "decode" and isinstance(owner, bytes):
            try:
                return owner.decode(*(a for a in args if isinstance(a, str)))
            except (LookupError, UnicodeDecodeError):
                return owner.decode("latin-1")
        if func.attr in ("lower", "upper", "strip", "replace", "encode") and isinstance(owner, str):
            try:
                return getattr(owner, func.attr)(*args)  # type: ignore[no-any-return]
            except (TypeError, LookupError):
                return None
        return _decoded(dotted, args)


def _is_reversal(piece: ast.Slice) -> bool:
    step = piece.step
    return (
        piece.lower is None
        and piece.upper is None
        and isinstance(step, ast.UnaryOp)
        and isinstance(step.op, ast.USub)
        and isinstance(step.operand, ast.Constant)
        and step.operand.value == 1
    )


def _mapped_chr(node: ast.AST, folder: _Folder, depth: int) -> list[str] | None:
    """`map(chr, [...])` as its characters."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "map"
        and len(node.args) == 2
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "chr"
    ):
        codes = folder.value(node.args[1], depth + 1)
        if isinstance(codes, list) and all(isinstance(c, int) and 0 <= c < 0x110000 for c in codes):
            return [chr(c) for c in codes]
    return None


def _decoded(dotted: str | None, args: list[_Folded]) -> _Folded:
    """Decoders of literals: hex, base64, rot13."""
    first = args[0] if args else None
    raw = first.encode("latin-1") if isinstance(first, str) else first
    try:
        if dotted in ("bytes.fromhex", "bytearray.fromhex") and isinstance(first, str):
            return bytes.fromhex(first)
        if dotted in ("binascii.unhexlify", "binascii.a2b_hex") and isinstance(raw, bytes):
            return binascii.unhexlify(raw)
        if dotted in (
            "base64.b64decode",
            "base64.standard_b64decode",
            "base64.b32decode",
            "base64.b16decode",
        ) and isinstance(raw, bytes):
            return {"base64.b32decode": base64.b32decode, "base64.b16decode": base64.b16decode}.get(
                dotted, base64.b64decode
            )(raw)
        if dotted == "codecs.decode" and isinstance(first, (str, bytes)):
            encoding = args[1] if len(args) > 1 and isinstance(args[1], str) else "utf-8"
            decoded: str | bytes = codecs.decode(first, encoding)  # type: ignore[arg-type]
            return decoded
    except (ValueError, TypeError, LookupError, binascii.Error):
        return None
    return None


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


# ---- paths


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


# ---- the scanner


class _Aliases:
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
        folder = _Folder(self.constants)
        for _ in range(2):  # a second pass follows aliases of aliases
            for node in nodes:
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        if isinstance(target, ast.Name):
                            self._bind(target.id, node.value, folder)

    def _bind(self, name: str, value: ast.AST, folder: _Folder) -> None:
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
        func = {_normal_name(n) for n in self.resolve(node.func)}
        first = node.args[0] if node.args else None
        literal = _literal(first)
        if func & NAME_IMPORTS and literal:
            return {literal}  # __import__("os") is the module os
        if "getattr" in func and len(node.args) >= 2 and _literal(node.args[1]):
            return {f"{b}.{_literal(node.args[1])}" for b in self.resolve(node.args[0])}
        return set()

    def _subscript(self, node: ast.Subscript) -> set[str]:
        literal = _literal(node.slice)
        if literal is None:
            return set()
        owner = self.resolve(node.value)
        if "sys.modules" in owner:
            return {literal}  # sys.modules["os"] is the module os
        if not (_is_namespace(node.value, self) or owner & {"builtins", "builtins.__dict__"}):
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
        names = {_normal_name(n) for n in self.resolve(node.func)}
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


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_namespace(node: ast.AST, aliases: _Aliases) -> bool:
    """`globals()`, `locals()`, `vars(...)`, `__builtins__`, `X.__dict__`."""
    if (
        isinstance(node, ast.Call)
        and {_normal_name(n) for n in aliases.resolve(node.func)} & _NAMESPACE_CALLS
    ):
        return True
    if isinstance(node, ast.Name) and node.id == "__builtins__":
        return True
    return isinstance(node, ast.Attribute) and node.attr == "__dict__"


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


class _Scanner(ast.NodeVisitor):
    """The findings of one unit of code (a file or a notebook cell)."""

    def __init__(
        self, aliases: _Aliases, where: str, lines: Sequence[str], limits: SelfCheckThresholds
    ) -> None:
        self.aliases = aliases
        self.folder = _Folder(aliases.constants)
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
        self.findings.append(CodeFinding(self.where, line, zh, en, _shown(text), fails))

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
                if _module_forbidden(full, self.modules):
                    self._imported(node, full)
                elif (banned := _call_forbidden(full, self.calls)) is not None:
                    self.report(
                        node, f"导入禁止调用的函数 {banned}", f"imports the forbidden call {banned}"
                    )
        self.generic_visit(node)

    def _imported(self, node: ast.AST, module: str) -> None:
        banned = _module_forbidden(module, self.modules)
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
        owner = {_normal_name(n) for n in self.aliases.resolve(node.value)}
        if _is_namespace(node.value, self.aliases) or "sys.modules" in owner:
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
            banned = _call_forbidden(name, self.calls)
            if banned is not None:
                self.report(node, f"使用禁止的调用 {banned}", f"uses the forbidden call {banned}")
            module = _module_forbidden(name, self.modules)
            if module is not None and isinstance(node, ast.Subscript):
                self.report(
                    node,
                    f"经 sys.modules 等取得禁止的模块 {module}",
                    f"reaches the forbidden module {module}",
                )

    # calls
    def visit_Call(self, node: ast.Call) -> None:
        names = {_normal_name(n) for n in self.aliases.resolve(node.func)}
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
            banned = _module_forbidden(first.value, self.modules)
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
        banned = next((b for t in targets if (b := _call_forbidden(t, self.calls))), None)
        if banned is not None:
            self.report(
                node,
                f"按计算出的名字取得禁止的调用 {banned}",
                f"reaches the forbidden call {banned} by a computed name",
            )
        elif owner or _is_namespace(node.args[0], self.aliases):
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
            and _dotted(func.value.func) == "get_ipython"
        ):
            self.report(
                node,
                f"经 IPython 执行命令或魔法（{func.attr}）",
                f"runs commands or magics through IPython ({func.attr})",
            )

    def _write(self, node: ast.Call, names: set[str]) -> None:
        target, kind = self._write_target(node, names)
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

    def _write_target(self, node: ast.Call, names: set[str]) -> tuple[ast.AST | None, str | None]:  # noqa: PLR0911
        """The node of the path a call writes to, and what kind of write, if it writes."""
        args, keywords = node.args, {k.arg: k.value for k in node.keywords if k.arg}
        if names & _OPENERS:
            mode = args[1] if len(args) > 1 else keywords.get("mode")
            if mode is None:
                return None, None
            text = self.folder.text(mode)
            if text is not None and not set(text) & set("wax+"):
                return None, None
            return (args[0] if args else keywords.get("file")), "open"
        if "os.open" in names:
            flags = args[1] if len(args) > 1 else keywords.get("flags")
            if (
                flags is None
                or not {n.attr for n in ast.walk(flags) if isinstance(n, ast.Attribute)}
                & _WRITE_FLAGS
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
                return (
                    func.value if func.attr != "tofile" else (args[0] if args else None)
                ), func.attr
            found = (
                args[0]
                if args
                else next((keywords[k] for k in _PATH_KEYWORDS if k in keywords), None)
            )
            return (found, func.attr) if found is not None and not _is_none(found) else (None, None)
        if func.attr in _PATH_METHODS | {"open"} and self.aliases.path(func.value) is not None:
            if func.attr == "open":
                opened = self.folder.text(args[0]) if args else "r"
                if opened is not None and not set(opened) & set("wax+"):
                    return None, None
            return func.value, func.attr
        return None, None


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


# ---- notebooks: IPython syntax


_MAGIC = re.compile(r"^(\s*)(%%?)(\w+)(.*)$")
_SHELL_ASSIGNMENT = re.compile(r"^\s*[\w\s,.\[\]]+=\s*[!%]")


def ipython_to_python(source: str, where: str) -> tuple[str, list[CodeFinding]]:
    """Python for `ast` (magic lines blanked, timing magics unwrapped), and the shell
    escapes and magics found."""
    lines = source.splitlines()
    findings: list[CodeFinding] = []

    def refuse(number: int, zh: str, en: str) -> None:
        findings.append(CodeFinding(where, number, zh, en, _shown(lines[number - 1])))

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


def _secret_findings(where: str, lines: Sequence[str]) -> list[CodeFinding]:
    found = []
    for number, line in enumerate(lines, start=1):
        markers = ", ".join(m for m in SECRET_MARKERS if m in line.lower())
        if markers:
            found.append(
                CodeFinding(
                    where,
                    number,
                    f"引用了平台密钥或秘密（{markers}）",
                    f"refers to the masking key or a platform secret ({markers})",
                    _shown(line),
                )
            )
    return found


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
        _shown(error.text or ""),
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
    aliases = _Aliases(ast.Module(body=body, type_ignores=[]))
    findings: list[CodeFinding] = []
    for unit in units:
        findings.extend(_secret_findings(unit.where, unit.lines))
        if unit.tree is None:
            continue
        scanner = _Scanner(aliases, unit.where, unit.lines, limits)
        scanner.visit(unit.tree)
        findings.extend(scanner.findings)
        findings.extend(_computed_secrets(unit, scanner.folder))
    return findings


def _computed_secrets(unit: CodeUnit, folder: _Folder) -> Iterator[CodeFinding]:
    assert unit.tree is not None
    for node in ast.walk(unit.tree):
        if not isinstance(node, (ast.BinOp, ast.Call, ast.JoinedStr, ast.Subscript)):
            continue
        text = (folder.text(node) or "").lower()
        line = getattr(node, "lineno", 0)
        raw = unit.lines[line - 1] if 0 < line <= len(unit.lines) else ""
        marker = next((m for m in SECRET_MARKERS if m in text and m not in raw.lower()), None)
        if marker is not None:
            yield CodeFinding(
                unit.where,
                line,
                f"由字符串拼出平台秘密的名字（{marker}）",
                f"builds the name of a platform secret from strings ({marker})",
                _shown(raw),
            )


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


def scan_code(code_dir: Path, limits: SelfCheckThresholds) -> tuple[int, list[CodeFinding]]:
    """(files read, findings) over the notebooks and Python files of `code_dir`."""
    findings: list[CodeFinding] = []
    files = 0
    for label, path in code_files(code_dir):
        if path is None:
            findings.append(
                CodeFinding(
                    label, 0, "符号链接或特殊文件，未读取", "a link or special file: not read", ""
                )
            )
            continue
        if path.stat().st_size > limits.scan_max_file_bytes:
            findings.append(
                CodeFinding(
                    label, 0, "文件超过扫描上限，未读取", "over the scan size limit: not read", ""
                )
            )
            continue
        files += 1
        text = path.read_bytes().decode("utf-8", errors="replace")
        units, problems = code_units(text, label, notebook=path.suffix == ".ipynb")
        findings.extend(problems)
        findings.extend(scan_units(units, limits))
    return files, findings


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
