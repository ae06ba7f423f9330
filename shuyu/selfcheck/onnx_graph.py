"""What in an ONNX model reaches outside itself or outside the standard: tensor data in
an external file (a path that could point anywhere), operators, opsets or model-local
functions outside the allowed domains, opset and IR versions this ONNX does not know,
training graphs, fields ONNX does not define, and what `onnx.checker` refuses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shuyu.policy.models import SelfCheckThresholds
from shuyu.selfcheck.evidence import evidence_item
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.onnx_messages import (
    has_unknown_fields,
    is_external,
    onnx_module,
    walk_messages,
)
from shuyu.selfcheck.result import Evidence


def _standard(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def graph_findings(model: Any, domains: Sequence[str]) -> list[Evidence]:
    """External data, operators and functions outside the allowed domains, opsets."""
    onnx = onnx_module()
    allowed = {_standard(d) for d in domains}
    found: list[Evidence] = []
    max_ml = max(e[3] for e in onnx.helper.VERSION_TABLE)
    latest = {"": onnx.defs.onnx_opset_version(), "ai.onnx.ml": max_ml}
    for opset in model.opset_import:
        domain = _standard(opset.domain)
        if domain not in allowed:
            found.append(
                evidence_item(
                    "非标准算子集",
                    "opset outside the standard domains",
                    "opset_import",
                    f"{opset.domain} v{opset.version}",
                )
            )
        elif domain in latest and not 1 <= opset.version <= latest[domain]:
            found.append(
                evidence_item(
                    "算子集版本超出本平台支持范围",
                    "opset version this platform does not know",
                    "opset_import",
                    f"{opset.domain or 'ai.onnx'} v{opset.version}",
                )
            )
    for function in model.functions:
        if _standard(function.domain) not in allowed:
            found.append(
                evidence_item(
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
                evidence_item(
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
            evidence_item(
                f"自定义域算子（{len(nodes)} 个节点）",
                f"operator outside the allowed domains ({len(nodes)} nodes)",
                f"node {safe_label(nodes[0])!r}",
                f"{domain}::{op}",
            )
        )
    if model.training_info:
        found.append(
            evidence_item("模型含训练图", "the model carries training graphs", "training_info")
        )
    if model.ir_version > onnx.IR_VERSION:
        found.append(
            evidence_item(
                "IR 版本超出本平台支持范围",
                "IR version this platform does not know",
                "ir_version",
                str(model.ir_version),
            )
        )
    return found


def model_findings(data: bytes, where: str, limits: SelfCheckThresholds) -> list[Evidence]:
    """What is wrong with the ONNX model `data`: it does not parse, reaches outside
    itself, carries fields ONNX does not define, or fails `onnx.checker`."""
    onnx = onnx_module()
    try:
        model = onnx.load_from_string(data)
    except Exception as exc:  # whatever the parser says is the reason
        return [
            evidence_item(
                "不是可解析的 ONNX 模型", f"not a parseable ONNX model: {exc}"[:300], where
            )
        ]
    found = graph_findings(model, limits.onnx_domains)
    if has_unknown_fields(model):
        found.append(
            evidence_item(
                "含 ONNX 未定义的字段（可夹带任意数据）",
                "fields ONNX does not define (could carry anything)",
                where,
            )
        )
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # the checker's message is the evidence
        found.append(
            evidence_item("未通过 onnx.checker 校验", f"fails onnx.checker: {exc}"[:300], where)
        )
    return found
