"""What a file is, judged by its bytes before its name: the format to parse it as, and
its text in whichever encoding a partner wrote it (UTF-8, UTF-16/32 with or without a
byte-order mark, GB 18030)."""

from __future__ import annotations

import codecs
import contextlib
import posixpath

from shuyu.selfcheck.snapshot_files import Entry


def decode_text(data: bytes) -> str:
    """Text as a partner may have written it: any Unicode encoding, or GB 18030."""
    for bom, encoding in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    sample = data[:8192]
    wide = _utf16(sample)
    if wide is not None:
        return data.decode(wide, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if b"\0" not in sample:
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode("gb18030")
    return data.decode("utf-8", errors="replace")


def _utf16(sample: bytes) -> str | None:
    """UTF-16 without a byte-order mark: every other byte is zero (in ASCII-heavy text)."""
    half = len(sample) // 2
    if half < 4:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd > 0.4 * half and even < 0.05 * half:
        return "utf-16-le"
    if even > 0.4 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def is_binary(data: bytes) -> bool:
    sample = data[:8192]
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\0" in sample and _utf16(sample) is None


_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"%PDF", b"RIFF", b"BM")


def name_suffix(name: str) -> str:
    return posixpath.splitext(name.lower())[1]


_FORMAT_MAGIC = ((b"PAR1", "parquet"), (b"ARROW1", "ipc"), (b"\x93NUMPY", "npy"))
_FORMAT_SUFFIX = {
    ".ipynb": "notebook",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".geojson": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".csv": "csv",
    ".tsv": "csv",
}


def file_format(entry: Entry) -> str:
    """What to parse `entry` as: parquet, ipc, npy, onnx, image, binary, notebook, json,
    yaml, csv or text."""
    data, suffix = entry.data, name_suffix(entry.name)
    fmt = next((f for magic, f in _FORMAT_MAGIC if data.startswith(magic)), None)
    if fmt is None and suffix == ".onnx":
        fmt = "onnx"
    if fmt is None and data.startswith(_IMAGE_MAGIC):
        fmt = "image"
    if fmt is None and is_binary(data):
        fmt = "binary"
    if fmt is None and entry.name == "MLmodel":
        fmt = "yaml"
    return fmt or _FORMAT_SUFFIX.get(suffix, "text")
