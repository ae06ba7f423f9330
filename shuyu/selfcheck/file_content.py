"""What one file holds, parsed by its format (`file_formats`): text, CSV/TSV, JSON/JSON
lines, YAML, Parquet and Arrow IPC (with their metadata), NumPy arrays, notebooks and
ONNX models, as texts, frames and candidate rows. Other binary files are read as bytes
only (text inside them is found, binary numbers are not) and noted; text drawn in
pictures is not read (reviewers see the pictures in the report)."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import yaml

from shuyu.selfcheck.extracted import (
    Extracted,
    Rows,
    Text,
    frame_rows,
    json_records,
    json_strings,
    numbered_lines,
    record_rows,
    tensor_rows,
    token_rows,
)
from shuyu.selfcheck.file_formats import decode_text, file_format, name_suffix
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.notebooks import notebook_content
from shuyu.selfcheck.number_renderings import number_texts, string_elements
from shuyu.selfcheck.onnx_strings import onnx_content
from shuyu.selfcheck.snapshot_files import Entry, ScanProblem


def _load_json(text: str, suffix: str) -> Any:
    if suffix in {".jsonl", ".ndjson"}:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


def _read_frame(fmt: str, data: bytes) -> pl.DataFrame:
    if fmt == "parquet":
        return pl.read_parquet(io.BytesIO(data))
    return pl.read_ipc(io.BytesIO(data))


def _frame_metadata(fmt: str, data: bytes) -> list[tuple[str, str]]:
    if fmt != "parquet":
        return []
    metadata = pq.ParquetFile(io.BytesIO(data)).schema_arrow.metadata or {}
    return [
        (f"metadata {k.decode('utf-8', 'replace')}", v.decode("utf-8", "replace"))
        for k, v in metadata.items()
    ]


def frame_texts(where: str, frame: pl.DataFrame) -> list[Text]:
    """What `scan_frame` does not read in a frame: column names and float columns."""
    texts = [Text(where, [("column names", "\n".join(frame.columns))])]
    for name, dtype in frame.schema.items():
        if dtype.is_float():
            values = frame.get_column(name).drop_nulls().to_numpy()
            texts.append(
                Text(f"{where} column {safe_label(name)!r}", number_texts(values, with_bytes=False))
            )
    return texts


def csv_rows(where: str, text: str) -> Rows | None:
    head = text[:65536]
    first = head.splitlines()[0] if head else ""
    separator = max(",\t;|", key=first.count)
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")),
            has_header=False,
            infer_schema=False,
            separator=separator,
            truncate_ragged_lines=True,
        )
    except Exception:  # a malformed CSV is still read as lines
        return None
    return frame_rows(where, frame, unit="line")


def _as_bytes(entry: Entry, out: Extracted) -> None:
    out.texts.append(Text(entry.where, [("bytes", entry.data.decode("utf-8", errors="replace"))]))


def _extract_frame(entry: Entry, fmt: str, out: Extracted, problems: list[ScanProblem]) -> None:
    try:
        frame = _read_frame(fmt, entry.data)
        metadata = _frame_metadata(fmt, entry.data)
    except Exception:  # a corrupt table is still read as bytes
        problems.append(
            ScanProblem(
                entry.where,
                "表格文件损坏，仅按字节扫描",
                "a corrupt table: scanned as bytes",
                fails=False,
            )
        )
        _as_bytes(entry, out)
        return
    out.frames.append((entry.where, frame))
    out.texts.extend(frame_texts(entry.where, frame))
    out.texts.append(Text(entry.where, metadata))
    out.rows.append(frame_rows(entry.where, frame))


def _extract_npy(entry: Entry, fmt: str, out: Extracted, problems: list[ScanProblem]) -> None:
    try:
        values = np.load(io.BytesIO(entry.data), allow_pickle=False)
    except ValueError:  # an object array is a pickle: other.model_format fails it
        _as_bytes(entry, out)
        return
    if values.dtype.kind in "SU":
        out.texts.append(Text(entry.where, [("strings", string_elements(values))]))
    else:
        out.texts.append(Text(entry.where, number_texts(values)))
    out.rows.extend(tensor_rows(entry.where, values))


def _extract_onnx(entry: Entry, fmt: str, out: Extracted, problems: list[ScanProblem]) -> None:
    onnx_content(entry.where, entry.data, out, problems)


def _extract_bytes(entry: Entry, fmt: str, out: Extracted, problems: list[ScanProblem]) -> None:
    _as_bytes(entry, out)
    if fmt == "binary":
        problems.append(
            ScanProblem(
                entry.where,
                "二进制格式未能解析，仅按字节扫描（其中的二进制数值未检查）",
                "binary format not parsed: scanned as bytes (binary numbers in it not checked)",
                fails=False,
            )
        )


def _parsed(entry: Entry, fmt: str, text: str) -> Any:
    """The JSON or YAML document in `text`, or None if it does not parse."""
    try:
        if fmt == "json":
            return _load_json(text, name_suffix(entry.name))
        loaded = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError):
        return None
    return loaded if isinstance(loaded, (dict, list)) else None


def _extract_text(entry: Entry, fmt: str, out: Extracted, problems: list[ScanProblem]) -> None:
    text = decode_text(entry.data)
    if fmt == "notebook" and notebook_content(entry.where, text, out):
        return
    document = _parsed(entry, fmt, text) if fmt in ("json", "yaml") else None
    if document is not None:
        strings: list[tuple[str, str]] = []
        json_strings(document, "", strings)
        out.texts.append(Text(entry.where, strings))
        out.rows.append(record_rows(entry.where, json_records(document)))
        return
    lines = numbered_lines(text)
    out.texts.append(Text(entry.where, lines))
    table = csv_rows(entry.where, text) if fmt == "csv" else None
    out.rows.append(table if table is not None else token_rows(entry.where, lines))


_EXTRACTORS = {
    "parquet": _extract_frame,
    "ipc": _extract_frame,
    "npy": _extract_npy,
    "onnx": _extract_onnx,
    "image": _extract_bytes,
    "binary": _extract_bytes,
}


def extract(entry: Entry, problems: list[ScanProblem]) -> Extracted:
    """Texts, frames and candidate rows of one file."""
    out = Extracted(texts=[Text(entry.where, [("file name", entry.name)])])
    fmt = file_format(entry)
    _EXTRACTORS.get(fmt, _extract_text)(entry, fmt, out, problems)
    return out
