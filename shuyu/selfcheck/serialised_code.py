"""Serialised Python objects, recognised by their bytes, never by their names and never
by loading them: pickle (any protocol; joblib, dill, cloudpickle and legacy torch files
are pickles, and a PyTorch archive is a zip whose members are pickles), a NumPy object
array (a pickle inside) and compiled Python. Each runs code when loaded."""

from __future__ import annotations

import io
import pickletools

import numpy as np

from shuyu.selfcheck.snapshot_files import Entry

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
