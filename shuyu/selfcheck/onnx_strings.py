"""What an ONNX model holds in which identifiers or records can hide: every string of
every message (names, doc strings, metadata, attributes, in subgraphs and functions too)
and every tensor, initializer or constant, as text (`number_renderings`) and as
candidate rows; the raw bytes too when the model carries fields ONNX does not define."""

from __future__ import annotations

from typing import Any

from shuyu.selfcheck.extracted import Extracted, Text, tensor_rows
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.number_renderings import number_texts, string_elements
from shuyu.selfcheck.onnx_messages import (
    has_unknown_fields,
    message_strings,
    onnx_module,
    tensor_array,
    walk_messages,
)
from shuyu.selfcheck.snapshot_files import ScanProblem

MAX_MODEL_ROWS_ELEMENTS = 8_000_000  # per model searched for records; beyond: noted


def _tensor_name(path: str, tensor: Any) -> str:
    return f"tensor {safe_label(tensor.name)!r}" if tensor.name else path


def _parse_onnx(data: bytes) -> Any | None:
    try:
        return onnx_module().load_from_string(data)
    except Exception:  # not a model: read as bytes (other.onnx_graph fails it)
        return None


def onnx_content(where: str, data: bytes, out: Extracted, problems: list[ScanProblem]) -> None:
    model = _parse_onnx(data)
    if model is None:
        out.texts.append(Text(where, [("bytes", data.decode("utf-8", errors="replace"))]))
        problems.append(
            ScanProblem(
                where,
                "不是可解析的 ONNX 模型，仅按字节扫描",
                "not a parseable ONNX model: scanned as bytes",
                fails=False,
            )
        )
        return
    onnx = onnx_module()
    strings: list[tuple[str, str]] = []
    row_budget = MAX_MODEL_ROWS_ELEMENTS
    for path, message in walk_messages(model):
        strings.extend((path or "model", s) for s in message_strings(message))
        if isinstance(message, onnx.TensorProto):
            values = tensor_array(message)
            if values is None:
                continue
            name = _tensor_name(path, message)
            if values.dtype.kind in "OSU":
                out.texts.append(Text(f"{where} {name}", [("strings", string_elements(values))]))
            else:
                out.texts.append(Text(f"{where} {name}", number_texts(values)))
            if values.size <= row_budget:
                out.rows.extend(tensor_rows(f"{where} {name}", values))
            row_budget -= values.size
    out.texts.append(Text(where, strings))
    if row_budget < 0:
        problems.append(
            ScanProblem(
                where,
                f"模型常量超过 {MAX_MODEL_ROWS_ELEMENTS} 个元素，其余张量未查逐条记录",
                f"tensors beyond {MAX_MODEL_ROWS_ELEMENTS} elements not searched for records",
                fails=False,
            )
        )
    if has_unknown_fields(model):
        out.texts.append(
            Text(f"{where} (raw bytes)", [("bytes", data.decode("utf-8", errors="replace"))])
        )
