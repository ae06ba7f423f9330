"""An ONNX model read as protobuf messages, never run: every message inside it with a
readable path, the strings of each, whether a tensor's data lives in an external file,
its values, and whether the model carries fields ONNX does not define."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def onnx_module() -> Any:
    """`onnx`, imported when a model is first read."""
    import onnx  # noqa: PLC0415 - the training extra; only model checks need it

    return onnx


def walk_messages(message: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """`message` and every message inside it (protobuf), with a readable path."""
    yield path, message
    for descriptor, value in message.ListFields():
        if descriptor.type != descriptor.TYPE_MESSAGE:
            continue
        here = f"{path}.{descriptor.name}" if path else descriptor.name
        if descriptor.is_repeated:
            for i, item in enumerate(value):
                yield from walk_messages(item, f"{here}[{i}]")
        else:
            yield from walk_messages(value, here)


def message_strings(message: Any) -> Iterator[str]:
    """Every string and bytes field of `message` itself (not of the messages inside)."""
    for descriptor, value in message.ListFields():
        if descriptor.type not in (descriptor.TYPE_STRING, descriptor.TYPE_BYTES):
            continue
        if descriptor.name in ("raw_data", "string_data"):
            continue  # a tensor's contents: rendered as a tensor
        for item in value if descriptor.is_repeated else [value]:
            yield item.decode("utf-8", errors="replace") if isinstance(item, bytes) else item


def is_external(tensor: Any) -> bool:
    onnx = onnx_module()
    return bool(tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data))


def tensor_array(tensor: Any) -> np.ndarray | None:
    """The tensor's values, never reading external data."""
    if is_external(tensor):
        return None
    from onnx import numpy_helper  # noqa: PLC0415

    try:
        return np.asarray(numpy_helper.to_array(tensor))
    except Exception:  # a malformed tensor: its bytes are still scanned
        return np.frombuffer(bytes(tensor.raw_data), dtype=np.uint8)


def has_unknown_fields(model: Any) -> bool:
    """Whether `model` carries fields its schema does not define (protobuf keeps them)."""
    copy = type(model)()
    copy.CopyFrom(model)
    copy.DiscardUnknownFields()
    return bool(copy.ByteSize() != model.ByteSize())
