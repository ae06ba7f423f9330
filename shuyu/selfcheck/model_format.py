"""The model folder as `mlflow.onnx.log_model` writes it, as an allowlist rather than a
denylist (published tests show pickle denylist scanners missing most attacks): the
MLmodel must describe exactly what MLflow 3.17 writes — an `onnx` flavour and the
`python_function` flavour whose loader is `mlflow.onnx`, both pointing at `model.onnx`,
no code paths, no extra files, no session options, the stock execution providers — and
the folder may hold only the files that flavour writes."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import yaml

from shuyu.selfcheck.evidence import evidence_item
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.result import Evidence

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
        return [evidence_item("缺少 MLmodel 文件", "no MLmodel file", where)]
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        return [
            evidence_item("MLmodel 不是有效的 YAML", f"MLmodel is not valid YAML: {exc}", where)
        ]
    flavors = document.get("flavors") if isinstance(document, dict) else None
    if not isinstance(flavors, dict):
        return [evidence_item("MLmodel 中没有 flavors", "MLmodel has no flavors", where)]
    found = [
        evidence_item("MLmodel 含未知的顶层字段", "unknown top-level MLmodel key", where, str(key))
        for key in document
        if key not in _MLMODEL_KEYS
    ]
    for name in flavors:
        if name not in ("onnx", "python_function"):
            found.append(
                evidence_item(
                    f"模型格式 {name} 不被接受：只接受 ONNX",
                    f"flavour {name!r} is not accepted: ONNX only",
                    f"{where} flavors",
                    str(name),
                )
            )
    onnx_flavour = flavors.get("onnx")
    if not isinstance(onnx_flavour, dict):
        found.append(evidence_item("缺少 onnx 模型格式", "no onnx flavour", f"{where} flavors"))
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
        evidence_item("不允许的字段", "key not allowed", f"{where}.{key}", str(key))
        for key in section
        if key not in allowed
    ]


def _onnx_flavour_findings(flavour: dict[str, Any], where: str) -> list[Evidence]:
    found = _unexpected_keys(flavour, _ONNX_FLAVOUR_KEYS, where)
    if flavour.get("data") != MODEL_FILE:
        found.append(
            evidence_item(
                "模型文件不是 model.onnx",
                "the model file is not model.onnx",
                f"{where}.data",
                str(flavour.get("data")),
            )
        )
    if flavour.get("code"):
        found.append(
            evidence_item(
                "带有代码目录（加载时执行）",
                "code paths (run at load)",
                f"{where}.code",
                str(flavour["code"]),
            )
        )
    if flavour.get("onnx_session_options"):
        found.append(
            evidence_item(
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
            evidence_item(
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
            evidence_item(
                "python_function 格式无效", "python_function flavour is not a mapping", where
            )
        ]
    found = _unexpected_keys(pyfunc, _PYFUNC_KEYS, where)
    if pyfunc.get("loader_module") != "mlflow.onnx":
        found.append(
            evidence_item(
                "python_function 的加载模块不是 mlflow.onnx",
                "python_function loader is not mlflow.onnx",
                f"{where}.loader_module",
                str(pyfunc.get("loader_module")),
            )
        )
    if pyfunc.get("data") != MODEL_FILE:
        found.append(
            evidence_item(
                "python_function 数据不是 model.onnx",
                "python_function data is not model.onnx",
                f"{where}.data",
                str(pyfunc.get("data")),
            )
        )
    if pyfunc.get("code"):
        found.append(
            evidence_item(
                "带有代码目录（加载时执行）",
                "code paths (run at load)",
                f"{where}.code",
                str(pyfunc["code"]),
            )
        )
    env = pyfunc.get("env", {})
    if not isinstance(env, dict) or any(_PYFUNC_ENV.get(k) != v for k, v in env.items()):
        found.append(
            evidence_item(
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
        return [evidence_item("没有模型目录", "no model folder", "model/")]
    found = []
    for path in sorted(model_dir.rglob("*")):
        where = safe_label(f"model/{path.relative_to(model_dir).as_posix()}")
        if path.is_symlink():
            found.append(evidence_item("符号链接", "a symbolic link", where))
        elif path.is_dir():
            found.append(
                evidence_item(
                    "模型目录中不允许有子目录", "no folders allowed in the model folder", where
                )
            )
        elif path.parent != model_dir or path.name not in ALLOWED_MODEL_FILES:
            found.append(
                evidence_item(
                    "模型目录中不允许的文件", "a file the ONNX flavour does not write", where
                )
            )
    return found


def model_path(model_dir: Path) -> Path:
    """The ONNX file the MLmodel names (model.onnx by default)."""
    try:
        document = yaml.safe_load((model_dir / "MLmodel").read_text(encoding="utf-8"))
        data = document["flavors"]["onnx"]["data"]
    except (OSError, yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError):
        return model_dir / MODEL_FILE
    name = str(data)
    return model_dir / name if posixpath.basename(name) == name else model_dir / MODEL_FILE


def folder_bytes(folder: Path) -> int:
    """The size of the files in `folder`, links not followed."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
