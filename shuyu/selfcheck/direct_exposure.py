"""原始/敏感/隐私数据直接暴露 — direct exposure: identifiers and verbatim records in what
the run would take out of the domain.

What is read
------------
Every file of the submission's snapshot (model, artifacts, code), every run parameter
(name and value), tag (key and value), metric (name and value) and dataset input (name,
digest, tags). Files are judged by their content, not their names: archives (zip, tar,
gzip, bzip2, xz, and zlib streams such as joblib's) are unpacked in memory within
`archive_max_members` and `archive_max_bytes` per archive, nested ones included, never
trusting the sizes an archive declares; a member whose name is absolute or climbs out
with `..`, a link or device member, an encrypted member, an archive we cannot open
(7z, rar, zstd, lz4) and any file over `scan_max_file_bytes` make the check fail rather
than be skipped: what could not be read could hold anything. Symbolic links in the
snapshot are never followed (they fail too).

Parsed formats: text (UTF-8, UTF-16/32 with or without BOM, GB 18030), CSV/TSV,
JSON/JSON lines, YAML, Parquet and Arrow IPC (with their metadata), NumPy arrays,
notebooks (cell sources, every output but pictures, metadata) and ONNX models. In an
ONNX model every string of every message is read (names, doc strings, metadata,
attributes, in subgraphs and functions too) and every tensor, initializer or constant,
is rendered the ways an identifier can hide in it: string elements; the raw bytes as
text (an ID written as bytes into a uint8 or float tensor); whole numbers (an ID as an
int64, a mobile number or card as an exact float64, a 17-digit number completed with
its computed check digit, a float64 too large to be exact searched within its rounding
window for a valid ID or card); runs of elements that are single digits (one digit per
element) and runs of elements that are character codes. Other binary files are read as
bytes only (text inside them is found, binary numbers are not) and noted; text drawn in
pictures is not read (reviewers see the pictures in the report).

The detectors are `shuyu.data.pii`'s (`scan_text`, `scan_frame`): valid identifiers only,
each finding with a masked example. Locations name the file, line, cell, output,
column, tensor or parameter; a location that itself contains an identifier (a file
named after a resident ID) is masked the same way.

Row fingerprints (verbatim records)
-----------------------------------
A record of a raw or masked table counts as reproduced when at least `min_fields` of its
distinct non-null values appear together in one row of an artifact: a CSV, Parquet, IPC
or JSON record, a row of an HTML table or a line of a notebook output, text file or
source cell, a row (or column) of a 1-D or 2-D tensor, a parameter or tag value.
Values are compared without their column, so renaming or reordering columns does not
hide a row. Values are compared in a normal form, so trivial reformatting does not
either:

* text: full-width characters to ASCII, whitespace runs to one space, trimmed, lower
  case; the usual spellings of missing (``NaN``, ``None``, ``null``, ``NA``, ``-``, empty)
  are missing;
* dates: ``2024-01-05``, ``2024/1/5``, ``2024.01.05``, ``2024年1月5日``, ``20240105``,
  ``2024-01-05T00:00:00.000`` and ``2024-01-05 00:00:00`` are one date; a non-zero time
  of day is kept to the second;
* numbers: thousands separators dropped; an integer literal is kept exactly (codes,
  counts and account numbers keep telling records apart; leading zeros dropped); any
  other number is rounded to 6 significant digits, then written as an integer if that
  is whole (``35.0`` is ``35``) or as mantissa and exponent (``1234.5``, ``1,234.50``,
  ``1.2345e3``, ``１２３４.５`` are all ``12345e-1``): pandas and polars print 6 or more
  significant digits, and a partner who rounds further has transformed, not copied, the
  data.

A table is fingerprinted in the domain when the data are built (`build_fingerprints`).
Only salted 64-bit hashes (BLAKE2b keyed with a random salt per build) are stored,
never values, and for each record only its `min_fields + 2` most distinctive values
(those fewest records contain), rarest first, with how many records contain each. A row
that holds `min_fields` values of a record's anchors holds at least one of its three
rarest (pigeonhole), so an index of those three finds every candidate without
enumerating combinations, and the candidate is confirmed on all its anchors. The price
of keeping ~50 bytes per record (about 60 MB for a million rows) instead of every
combination: a row that reproduces a record on values that avoid three of its six most
distinctive ones is not found. Records whose values are all common (whose `min_fields`
rarest values would be expected to co-occur in one row by chance, N·Π(fᵢ/N) ≥ 1, with
fᵢ the number of records holding value i) are not fingerprinted, and a match counts
only on a combination that distinctive: a line ``0 1 2 3`` reproduces no one.

The hashes protect the values from a reader of the fingerprint files about as well as
the salt next to them does, that is against nothing but a casual look: the
fingerprints stay in the domain, mounted read-only in check runners only.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import hashlib
import html.parser
import io
import json
import lzma
import math
import os
import posixpath
import re
import secrets
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import yaml
from pydantic import BaseModel, ConfigDict

from shuyu.data import identifiers as ids
from shuyu.data import pii
from shuyu.data.regions import PLATE_CHARS
from shuyu.fsutil import staged_directory
from shuyu.policy.models import PiiKind, SelfCheckThresholds
from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.registry import check
from shuyu.selfcheck.result import CheckResult, Evidence, RiskFactor, Status

# ------------------------------------------------------------------ reading the snapshot

MAX_ARCHIVE_DEPTH = 6
MAX_EVIDENCE = 40  # per check; the count in the summary is always the whole count


@dataclass(frozen=True)
class ScanProblem:
    """Something that could not be read as it should: `fails` unless it is only a note."""

    where: str
    what_zh: str
    what_en: str
    fails: bool = True

    def evidence(self) -> Evidence:
        return Evidence(what_zh=self.what_zh, what_en=self.what_en, where=self.where)


@dataclass(frozen=True)
class Entry:
    """One file of the snapshot, or one member of an archive in it, with its bytes."""

    where: str  # "artifacts/a.zip!b/c.csv", identifiers masked
    name: str  # the file or member name, for its suffix
    data: bytes


def snapshot_roots(ctx: CheckContext) -> list[tuple[str, Path]]:
    return [("model", ctx.model_dir), ("artifacts", ctx.artifacts_dir), ("code", ctx.code_dir)]


def safe_label(text: str) -> str:
    """`text` with every identifier in it masked (file names, parameter names …)."""
    if not pii.scan_text(text):
        return text

    def mask(match: re.Match[str]) -> str:
        found = pii.scan_text(match.group())
        return pii.mask_example(found[0].kind, match.group()) if found else match.group()

    for pattern in (pii.EMAIL_RUN, pii.PLATE_RUN, pii.ALNUM_RUN, pii.NUMERIC_RUN):
        text = re.sub(pattern, mask, text)
    return text


class _Budget:
    """What is left of one archive's unpacking limits, shared by its nested archives."""

    def __init__(self, limits: SelfCheckThresholds) -> None:
        self.members = limits.archive_max_members
        self.bytes = limits.archive_max_bytes

    def take(self, declared: int) -> None:
        self.members -= 1
        if self.members < 0 or declared > self.bytes:
            raise _LimitExceeded

    def read(self, handle: Any) -> bytes:
        """At most what is left, whatever the archive declares, so a bomb never inflates."""
        data: bytes = handle.read(self.bytes + 1)
        if len(data) > self.bytes:
            raise _LimitExceeded
        self.bytes -= len(data)
        return data


class _LimitExceeded(Exception):
    pass


@dataclass(frozen=True)
class _Refused:
    """A member that is not plain data: a path out of the archive, a link, a device."""

    name: str
    zh: str
    en: str


_MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
)
UNREADABLE_ARCHIVES = frozenset({"7z", "rar", "zstd", "lz4"})


def container_kind(data: bytes) -> str | None:
    """The kind of archive or compressed stream `data` is, judged by its bytes."""
    kind = next((k for magic, k in _MAGIC if data.startswith(magic)), None)
    if kind is None and data.startswith(b"BZh") and data[3:4].isdigit():
        kind = "bzip2"
    if kind is None and data[257:262] == b"ustar":
        kind = "tar"
    if kind is None and data[:1] == b"\x78" and data[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
        kind = "zlib"  # joblib's compressed pickles, among others
    if kind is None and b"\0" in data[:8192] and _has_zip_directory(data):
        kind = "zip"  # a zip appended to something else (a polyglot) still opens
    return kind


def _has_zip_directory(data: bytes) -> bool:
    return b"PK\x05\x06" in data[-(1 << 16) - 22 :] and zipfile.is_zipfile(io.BytesIO(data))


def _escapes(name: str) -> _Refused | None:
    normal = name.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal) or ".." in normal.split("/"):
        return _Refused(
            name,
            "成员路径越出压缩包（绝对路径或 ..）",
            "member path escapes the archive (absolute or ..)",
        )
    return None


def walk_entries(
    roots: Sequence[tuple[str, Path]], limits: SelfCheckThresholds, problems: list[ScanProblem]
) -> Iterator[Entry]:
    """Every file under `roots` and every member of every archive among them; what cannot
    be read is appended to `problems`."""
    for label, root in roots:
        if not root.is_dir():
            continue
        for directory, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                path = Path(directory, name)
                where = safe_label(f"{label}/{path.relative_to(root).as_posix()}")
                info = path.lstat()
                if stat.S_ISDIR(info.st_mode):
                    continue
                if stat.S_ISLNK(info.st_mode):
                    problems.append(
                        ScanProblem(where, "符号链接，未跟随", "a symbolic link: not followed")
                    )
                elif not stat.S_ISREG(info.st_mode):
                    problems.append(ScanProblem(where, "不是普通文件", "not a regular file"))
                elif info.st_size > _file_limit(label, limits):
                    problems.append(_too_large(where, info.st_size, limits))
                else:
                    yield from expand(Entry(where, name, path.read_bytes()), limits, problems)


def _file_limit(label: str, limits: SelfCheckThresholds) -> int:
    """The model file may be as large as `model_max_bytes` and is still read whole."""
    if label == "model":
        return max(limits.scan_max_file_bytes, limits.model_max_bytes)
    return limits.scan_max_file_bytes


def _too_large(where: str, size: int, limits: SelfCheckThresholds) -> ScanProblem:
    limit = _file_limit(where.partition("/")[0], limits)
    return ScanProblem(
        where,
        f"文件 {size} 字节，超过扫描上限 {limit} 字节，未能检查",
        f"{size} bytes, over the scan limit of {limit}: not checked",
    )


def expand(
    entry: Entry,
    limits: SelfCheckThresholds,
    problems: list[ScanProblem],
    budget: _Budget | None = None,
    depth: int = 0,
) -> Iterator[Entry]:
    """`entry` itself, or, if it is an archive, its members (recursively)."""
    kind = container_kind(entry.data)
    if kind is None:
        yield entry
        return
    if kind in UNREADABLE_ARCHIVES or depth >= MAX_ARCHIVE_DEPTH:
        problems.append(
            ScanProblem(
                entry.where, f"{kind} 压缩文件无法打开检查", f"a {kind} archive: cannot be opened"
            )
            if kind in UNREADABLE_ARCHIVES
            else ScanProblem(
                entry.where, "压缩文件嵌套过深", f"archives nested deeper than {depth}"
            )
        )
        return
    budget = budget or _Budget(limits)
    members = _members(entry, kind, budget)
    while True:
        try:
            member = next(members)
        except StopIteration:
            return
        except _LimitExceeded:
            problems.append(
                ScanProblem(
                    entry.where,
                    f"压缩文件超过解压上限（{limits.archive_max_members} 个成员、"
                    f"{limits.archive_max_bytes} 字节），未能完整检查",
                    f"archive over the unpacking limits ({limits.archive_max_members} members, "
                    f"{limits.archive_max_bytes} bytes): not checked whole",
                )
            )
            return
        except (
            zipfile.BadZipFile,
            tarfile.TarError,
            OSError,
            EOFError,
            lzma.LZMAError,
            zlib.error,
        ):
            if kind == "zlib" and depth == 0:  # two bytes that only looked like a zlib header
                yield entry
            else:
                problems.append(
                    ScanProblem(
                        entry.where, f"{kind} 压缩文件损坏，无法检查", f"a corrupt {kind} archive"
                    )
                )
            return
        if isinstance(member, _Refused):
            problems.append(
                ScanProblem(f"{entry.where}!{safe_label(member.name)}", member.zh, member.en)
            )
        elif len(member.data) > limits.scan_max_file_bytes:
            problems.append(_too_large(member.where, len(member.data), limits))
        else:
            yield from expand(member, limits, problems, budget, depth + 1)


def _members(entry: Entry, kind: str, budget: _Budget) -> Iterator[Entry | _Refused]:
    """The members of one archive, each within the budget, and the members refused."""
    if kind == "zip":
        yield from _zip_members(entry, budget)
    elif kind == "tar":
        yield from _tar_members(entry, budget)
    else:
        budget.take(0)
        inner = re.sub(r"\.(gz|tgz|bz2|xz|z|zz)$", "", entry.name, flags=re.IGNORECASE)
        inner += ".tar" if entry.name.lower().endswith(".tgz") else ""
        if kind == "zlib":
            data = budget.read(_ZlibReader(entry.data))
        else:
            opener = _STREAMS[kind]
            with opener(io.BytesIO(entry.data)) as handle:
                data = budget.read(handle)
        yield Entry(f"{entry.where}!{safe_label(inner or 'data')}", inner or "data", data)


_STREAMS: dict[str, Any] = {
    "gzip": lambda raw: gzip.GzipFile(fileobj=raw),
    "bzip2": bz2.BZ2File,
    "xz": lzma.LZMAFile,
}


class _ZlibReader:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int) -> bytes:
        return zlib.decompressobj().decompress(self._data, size)


def _zip_members(entry: Entry, budget: _Budget) -> Iterator[Entry | _Refused]:
    with zipfile.ZipFile(io.BytesIO(entry.data)) as archive:
        for info in archive.infolist():
            name = info.filename
            refused = _escapes(name)
            if stat.S_ISLNK(info.external_attr >> 16):
                refused = _Refused(name, "成员是符号链接", "member is a symbolic link")
            elif info.flag_bits & 0x1:
                refused = _Refused(
                    name, "成员已加密，无法检查", "member is encrypted: cannot be checked"
                )
            if refused is not None:
                yield refused
                continue
            if info.is_dir():
                continue
            budget.take(info.file_size)
            try:
                with archive.open(info) as handle:
                    data = budget.read(handle)
            except NotImplementedError:
                yield _Refused(name, "成员压缩方式不受支持", "member compression not supported")
                continue
            yield Entry(f"{entry.where}!{safe_label(name)}", name, data)


def _tar_members(entry: Entry, budget: _Budget) -> Iterator[Entry | _Refused]:
    with tarfile.open(fileobj=io.BytesIO(entry.data), mode="r:") as archive:
        for info in archive:
            refused = _escapes(info.name)
            if refused is None and not (info.isreg() or info.isdir()):
                refused = _Refused(
                    info.name, "成员是链接或设备文件", "member is a link or a device"
                )
            if refused is not None:
                yield refused
                continue
            if info.isdir():
                continue
            budget.take(info.size)
            handle = archive.extractfile(info)
            if handle is not None:
                yield Entry(
                    f"{entry.where}!{safe_label(info.name)}", info.name, budget.read(handle)
                )


# ------------------------------------------------------------------ what a file holds


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


def _suffix(name: str) -> str:
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
    data, suffix = entry.data, _suffix(entry.name)
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


@dataclass(frozen=True)
class Text:
    """Text to scan for identifiers: (sub-location, text) parts of one place."""

    where: str
    parts: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Rows:
    """Candidate records: tokens of rows, as (row index, value) pairs."""

    where: str
    row: np.ndarray  # uint32 row index per value
    value: list[str]
    labels: Sequence[str] | None = None  # per row; None: f"{unit} {i + 1}"
    unit: str = "row"

    def label(self, index: int) -> str:
        return self.labels[index] if self.labels is not None else f"{self.unit} {index + 1}"


@dataclass
class Extracted:
    texts: list[Text] = field(default_factory=list)
    frames: list[tuple[str, pl.DataFrame]] = field(default_factory=list)
    rows: list[Rows] = field(default_factory=list)


def _lines(text: str) -> list[tuple[str, str]]:
    return [(f"line {i}", line) for i, line in enumerate(text.splitlines(), start=1)]


_TOKEN = re.compile(r"[^\s|│┆┃║;,'\"`()\[\]{}<>=]+")


def token_rows(where: str, lines: Sequence[tuple[str, str]]) -> Rows:
    """Each line a row of the tokens a printed table or a record in code splits into."""
    row: list[int] = []
    value: list[str] = []
    labels: list[str] = []
    for label, line in lines:
        tokens = _TOKEN.findall(line)
        if not tokens:
            continue
        row.extend([len(labels)] * len(tokens))
        value.extend(tokens)
        labels.append(label)
    return Rows(where, np.asarray(row, dtype=np.uint32), value, labels)


def frame_rows(where: str, frame: pl.DataFrame, unit: str = "row") -> Rows:
    """Every flat column of `frame` as text, one row per record."""
    names = [n for n, t in frame.schema.items() if _flat(t)]
    if not names or frame.height == 0:
        return Rows(where, np.zeros(0, np.uint32), [], None, unit)
    long = (
        frame.select(pl.col(n).cast(pl.String, strict=False).alias(n) for n in names)
        .with_row_index("row")
        .unpivot(index="row", value_name="value")
        .drop_nulls("value")
    )
    return Rows(
        where, long["row"].to_numpy().astype(np.uint32), long["value"].to_list(), None, unit
    )


def _flat(dtype: pl.DataType) -> bool:
    return not (dtype.is_nested() or isinstance(dtype, (pl.Binary, pl.Null, pl.Object)))


def _json_strings(value: Any, path: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((path, str(key)))
            _json_strings(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _json_strings(item, f"{path}[{i}]", out)
    elif isinstance(value, str):
        out.append((path, value))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append((path, _number_text(value)))


def _number_text(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value == math.floor(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def json_records(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, list[str]]]:
    """Records in parsed JSON/YAML: objects of scalars, lists of scalars in a list, and
    the rows of column-oriented objects (`{"a": [...], "b": [...]}`)."""
    if depth > 32:
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            here = f"{path}[{i}]"
            if isinstance(item, dict) and any(_scalar(v) for v in item.values()):
                yield here, [str(v) for v in item.values() if _scalar(v)]
            elif isinstance(item, list) and item and all(_scalar(v) or v is None for v in item):
                yield here, [str(v) for v in item if v is not None]
            yield from json_records(item, here, depth + 1)
    elif isinstance(value, dict):
        columns = [v for v in value.values() if isinstance(v, list)]
        if len(columns) >= 2 and len({len(c) for c in columns}) == 1:
            for i, cells in enumerate(zip(*columns, strict=True)):
                yield f"{path}[{i}]", [str(c) for c in cells if _scalar(c)]
        for key, item in value.items():
            yield from json_records(item, f"{path}.{key}" if path else str(key), depth + 1)


def _record_rows(where: str, records: Iterable[tuple[str, list[str]]]) -> Rows:
    row: list[int] = []
    value: list[str] = []
    labels: list[str] = []
    for label, cells in records:
        row.extend([len(labels)] * len(cells))
        value.extend(cells)
        labels.append(label)
    return Rows(where, np.asarray(row, dtype=np.uint32), value, labels)


def _load_json(text: str, suffix: str) -> Any:
    if suffix in {".jsonl", ".ndjson"}:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


# ---- numbers in which identifiers can hide


def _runs(mask: np.ndarray, shortest: int) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True) if e - s >= shortest]


_CHAR_CODES = (
    (48, 57),
    (65, 90),
    (97, 122),
    (64, 64),
    (45, 46),
    (95, 95),
    (183, 183),
    (0x4E00, 0x9FFF),
)
MAX_INEXACT_CANDIDATES = 10_000


def number_texts(values: np.ndarray, *, with_bytes: bool = True) -> list[tuple[str, str]]:
    """The renderings of a numeric array in which an identifier could be read."""
    flat = np.asarray(values).ravel()
    if flat.size == 0 or flat.dtype.kind not in "iuf":
        return []
    out = [("bytes", flat.tobytes().decode("utf-8", errors="replace"))] if with_bytes else []
    if flat.dtype.kind == "f":
        finite = np.isfinite(flat)
        numbers = np.where(finite, flat, 0.0).astype(np.float64)
        integral = finite & (np.floor(numbers) == numbers)
    else:
        numbers = flat.astype(np.float64)
        integral = np.ones(flat.shape, dtype=bool)
    whole = _whole_numbers(flat, numbers, integral)
    if whole:
        out.append(("whole numbers", "\n".join(whole)))
    digits = _runs(integral & (numbers >= 0) & (numbers <= 9), 11)
    if digits:
        runs = [(numbers[s:e].astype(np.uint8) + 48).tobytes().decode() for s, e in digits]
        runs += [r + ids.resident_id_check(r) for r in runs if len(r) == 17]  # check digit left out
        out.append(("one digit per element", "\n".join(runs)))
    is_code = np.zeros(flat.shape, dtype=bool)
    for low, high in _CHAR_CODES:
        is_code |= (numbers >= low) & (numbers <= high)
    codes = _runs(integral & is_code, 6)
    if codes:
        text = "\n".join(
            numbers[s:e].astype("<u4").tobytes().decode("utf-32-le", errors="replace")
            for s, e in codes
        )
        out.append(("character codes", text))
    return out


def _whole_numbers(flat: np.ndarray, numbers: np.ndarray, integral: np.ndarray) -> list[str]:
    """Whole numbers long enough to be identifiers, as an attacker would read them."""
    big = integral & (np.abs(numbers) >= 1e10)
    whole: list[str] = []
    if flat.dtype.kind in "iu":
        for v in flat[big].tolist():
            text = str(abs(int(v)))
            whole.append(text)
            if len(text) == 17:  # a resident ID without its check digit
                whole.append(text + ids.resident_id_check(text))
    elif flat.dtype.itemsize >= 8:
        exact = big & (np.abs(numbers) < 2**53)
        whole.extend(str(abs(int(v))) for v in numbers[exact].tolist())
        inexact = np.flatnonzero(big & (np.abs(numbers) >= 2**53) & (np.abs(numbers) < 1e19))
        for v in numbers[inexact[:MAX_INEXACT_CANDIDATES]].tolist():
            if (found := _valid_near(abs(v))) is not None:
                whole.append(found)
    return whole


def _valid_near(value: float) -> str | None:
    """A resident ID or bank card within the rounding window of a float64 too large to
    hold one exactly (the attacker's reading of it)."""
    width = min(int(np.spacing(value)), 256)
    centre = int(value)
    for candidate in range(centre - width, centre + width + 1):
        text = str(candidate)
        if ids.is_resident_id(text) or ids.is_bank_card(text):
            return text
    return None


def _strings(values: np.ndarray) -> str:
    flat = np.asarray(values, dtype=object).ravel()
    return "\n".join(
        v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in flat
    )


# ---- ONNX


def _onnx() -> Any:
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
    onnx = _onnx()
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


def _tensor_name(path: str, tensor: Any) -> str:
    return f"tensor {safe_label(tensor.name)!r}" if tensor.name else path


def _parse_onnx(data: bytes) -> Any | None:
    try:
        return _onnx().load_from_string(data)
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
    onnx = _onnx()
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
                out.texts.append(Text(f"{where} {name}", [("strings", _strings(values))]))
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
    if _has_unknown_fields(model):
        out.texts.append(
            Text(f"{where} (raw bytes)", [("bytes", data.decode("utf-8", errors="replace"))])
        )


def _has_unknown_fields(model: Any) -> bool:
    copy = type(model)()
    copy.CopyFrom(model)
    copy.DiscardUnknownFields()
    return bool(copy.ByteSize() != model.ByteSize())


MAX_TENSOR_ROWS_ELEMENTS = 4_000_000
MAX_MODEL_ROWS_ELEMENTS = 8_000_000  # per model searched for records; beyond: noted


def tensor_rows(where: str, values: np.ndarray) -> list[Rows]:
    """A 1-D array as one row; a 2-D array by rows and by columns."""
    if values.ndim not in (1, 2) or values.size == 0 or values.size > MAX_TENSOR_ROWS_ELEMENTS:
        return []
    if values.dtype.kind in "OS":
        text = np.vectorize(
            lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v),
            otypes=[object],
        )(values)
    else:
        text = values
    matrix = text.reshape(1, -1) if values.ndim == 1 else text
    found = [_matrix_rows(f"{where} rows", matrix, "row")]
    if values.ndim == 2:
        found.append(_matrix_rows(f"{where} columns", matrix.T, "column"))
    return found


def _matrix_rows(where: str, matrix: np.ndarray, unit: str) -> Rows:
    n, width = matrix.shape
    series = (
        pl.Series(matrix.ravel())
        if matrix.dtype.kind != "O"
        else pl.Series(matrix.ravel().tolist())
    )
    value = series.cast(pl.String, strict=False).to_list()
    return Rows(where, np.repeat(np.arange(n, dtype=np.uint32), width), value, None, unit)


# ---- notebooks


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _HtmlTables(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if self.rows:  # polars quotes strings in its tables
                self.rows[-1].append("".join(self._cell).strip().strip("\"'"))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def notebook_cells(notebook: Any) -> list[dict[str, Any]]:
    if not isinstance(notebook, dict):
        raise ValueError("a notebook is a JSON object")
    if "worksheets" in notebook:  # nbformat 3
        return [c for ws in notebook["worksheets"] for c in ws.get("cells", [])]
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise ValueError("a notebook has a list of cells")
    return [c for c in cells if isinstance(c, dict)]


def cell_source(cell: dict[str, Any]) -> str:
    return _joined(cell.get("source", cell.get("input", "")))


def notebook_content(where: str, text: str, out: Extracted) -> bool:
    """Cell sources, outputs (but pictures) and metadata; False if not a notebook."""
    try:
        notebook = json.loads(text)
        cells = notebook_cells(notebook)
    except (json.JSONDecodeError, ValueError):
        return False
    parts = [("metadata", json.dumps(notebook.get("metadata", {}), ensure_ascii=False))]
    lines: list[tuple[str, str]] = []
    records: list[tuple[str, list[str]]] = []
    for number, cell in enumerate(cells, start=1):
        for j, line in enumerate(cell_source(cell).splitlines(), start=1):
            parts.append((f"cell {number} line {j}", line))
            lines.append((f"cell {number} line {j}", line))
        metadata = json.dumps(cell.get("metadata", {}), ensure_ascii=False)
        parts.append((f"cell {number} metadata", metadata))
        for k, output in enumerate(cell.get("outputs", []) or [], start=1):
            if not isinstance(output, dict):
                continue
            here = f"cell {number} output {k}"
            for mime, body in _output_bodies(output, here, records):
                for j, line in enumerate(_ANSI.sub("", body).splitlines(), start=1):
                    parts.append((f"{here} ({mime}) line {j}", line))
                    if mime != "text/html":  # its rows come from the table parser
                        lines.append((f"{here} line {j}", line))
    out.texts.append(Text(where, parts))
    out.rows.append(token_rows(where, lines))
    out.rows.append(_record_rows(where, records))
    return True


def _output_bodies(
    output: dict[str, Any], here: str, records: list[tuple[str, list[str]]]
) -> list[tuple[str, str]]:
    """The texts of one cell output by MIME type; tables and JSON records to `records`."""
    bodies: list[tuple[str, str]] = []
    if "text" in output:
        bodies.append(("text", _joined(output["text"])))
    if output.get("output_type") == "error":
        trace = [str(output.get("ename", "")), str(output.get("evalue", ""))]
        bodies.append(("error", "\n".join(trace + [str(t) for t in output.get("traceback", [])])))
    for mime, content in (output.get("data") or {}).items():
        if mime.startswith("image/") or mime == "application/pdf":
            continue  # pictures: not read (the reviewers see them)
        body = _joined(content)
        bodies.append((mime, body))
        if mime == "text/html":
            tables = _HtmlTables()
            with contextlib.suppress(Exception):
                tables.feed(body)
            numbered = enumerate(tables.rows, start=1)
            records.extend((f"{here} table row {r}", cells) for r, cells in numbered if cells)
        elif "json" in mime:
            parsed = _try_json(content) if isinstance(content, str) else content
            records.extend((f"{here} {p}", cells) for p, cells in json_records(parsed))
    return bodies


def _try_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


# ---- tables and the rest


def _read_frame(fmt: str, data: bytes) -> pl.DataFrame:
    if fmt == "parquet":
        return pl.read_parquet(io.BytesIO(data))
    return pl.read_ipc(io.BytesIO(data))


def _frame_metadata(fmt: str, data: bytes) -> list[tuple[str, str]]:
    import pyarrow.parquet as pq  # noqa: PLC0415

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
        out.texts.append(Text(entry.where, [("strings", _strings(values))]))
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
            return _load_json(text, _suffix(entry.name))
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
        _json_strings(document, "", strings)
        out.texts.append(Text(entry.where, strings))
        out.rows.append(_record_rows(entry.where, json_records(document)))
        return
    lines = _lines(text)
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


def run_record_texts(ctx: CheckContext) -> list[Text]:
    run = ctx.submission.run
    params = [(f"parameter #{i} name", k) for i, k in enumerate(run.params, 1)]
    params += [(f"parameter {safe_label(k)!r} value", v) for k, v in run.params.items()]
    tags = [(f"tag #{i} key", k) for i, k in enumerate(run.tags, 1)]
    tags += [(f"tag {safe_label(k)!r} value", v) for k, v in run.tags.items()]
    metrics = [(f"metric #{i} name", k) for i, k in enumerate(run.metrics, 1)]
    values = np.asarray(list(run.metrics.values()), dtype=np.float64)
    datasets: list[tuple[str, str]] = []
    for i, d in enumerate(run.dataset_inputs, 1):
        datasets += [(f"dataset input #{i} name", d.name), (f"dataset input #{i} digest", d.digest)]
        datasets += [
            (f"dataset input #{i} tag {safe_label(k)!r}", f"{k}\n{v}") for k, v in d.tags.items()
        ]
    return [
        Text("run parameters", params),
        Text("run tags", tags),
        Text("run metrics", metrics),
        Text("run metric values", number_texts(values, with_bytes=False)),
        Text("run dataset inputs", datasets),
    ]


def run_record_rows(ctx: CheckContext) -> list[Rows]:
    run = ctx.submission.run
    found = []
    for where, values in (("run parameters", run.params), ("run tags", run.tags)):
        lines = [(f"{safe_label(k)!r}", v) for k, v in values.items()]
        found.append(token_rows(where, lines))
        for key, value in values.items():
            parsed = _try_json(value) if value[:1] in "[{" else None
            if parsed is not None:
                found.append(_record_rows(f"{where} {safe_label(key)!r}", json_records(parsed)))
    return found


# ------------------------------------------------------------------ direct.pii

_KIND_ZH = {
    PiiKind.resident_id: "居民身份证号",
    PiiKind.uscc: "统一社会信用代码",
    PiiKind.mobile: "手机号码",
    PiiKind.bank_card: "银行卡号",
    PiiKind.email: "电子邮箱",
    PiiKind.plate: "车牌号码",
    PiiKind.vin: "车辆识别代号",
}
# a cheap necessary condition for a finding in a line, to locate findings in big files
_CANDIDATE = re.compile(rf"\d{{11}}|[0-9A-Z]{{17}}|@|[{PLATE_CHARS}]")


def _kind_zh(kind: PiiKind) -> str:
    return _KIND_ZH.get(kind, kind.value)


def text_findings(text: Text) -> list[tuple[pii.PiiFinding, list[str]]]:
    """Findings in one place, each with up to three sub-locations where it occurs."""
    joined = "\n".join(t for _, t in text.parts)
    findings = pii.scan_text(joined)
    if not findings:
        return []
    where: dict[PiiKind, list[str]] = {f.kind: [] for f in findings}
    for label, part in text.parts:
        if not all(len(v) >= 3 for v in where.values()) and _CANDIDATE.search(part):
            for found in pii.scan_text(part):
                places = where.setdefault(found.kind, [])
                if len(places) < 3 and label and label not in places:
                    places.append(safe_label(label))
    return [(f, where.get(f.kind, [])) for f in findings]


def _pii_evidence(where: str, finding: pii.PiiFinding, places: Sequence[str]) -> Evidence:
    at = f"{where} ({', '.join(places)})" if places else where
    return Evidence(
        what_zh=f"{_kind_zh(finding.kind)} {finding.count} 个",
        what_en=f"{finding.count} × {finding.kind.value}",
        value=finding.example_masked,
        where=at,
    )


def _capped(evidence: list[Evidence]) -> list[Evidence]:
    if len(evidence) <= MAX_EVIDENCE:
        return evidence
    rest = len(evidence) - MAX_EVIDENCE + 1
    return [
        *evidence[: MAX_EVIDENCE - 1],
        Evidence(what_zh=f"另有 {rest} 条未列出", what_en=f"{rest} more not listed"),
    ]


@check("direct.pii", RiskFactor.DIRECT)
def no_identifiers(ctx: CheckContext) -> CheckResult:
    """Personal identifiers in any artifact, file, parameter, tag, metric or the model."""
    limits = ctx.thresholds
    problems: list[ScanProblem] = []
    evidence: list[Evidence] = []
    total = 0
    files = 0

    def scan(texts: Iterable[Text], frames: Iterable[tuple[str, pl.DataFrame]] = ()) -> None:
        nonlocal total
        for text in texts:
            for finding, places in text_findings(text):
                total += finding.count
                evidence.append(_pii_evidence(text.where, finding, places))
        for where, frame in frames:
            for finding in pii.scan_frame(frame):
                total += finding.count
                column = f"column {safe_label(finding.column or '')!r}"
                evidence.append(_pii_evidence(where, finding, [column]))

    for entry in walk_entries(snapshot_roots(ctx), limits, problems):
        files += 1
        found = extract(entry, problems)
        scan(found.texts, found.frames)
    scan(run_record_texts(ctx))
    failing = [p for p in problems if p.fails]
    notes = [p for p in problems if not p.fails]
    over = total > limits.max_pii_findings
    status = Status.FAIL if over or failing else Status.WARN if total or notes else Status.PASS
    summary_zh = (
        f"检查了 {files} 个文件及运行的参数、标签、指标和数据集输入：发现个人标识 {total} 个"
        f"（上限 {limits.max_pii_findings}）"
    )
    summary_en = (
        f"{files} files and the run's parameters, tags, metrics and dataset inputs checked: "
        f"{total} personal identifiers found (limit {limits.max_pii_findings})"
    )
    if failing:
        summary_zh += f"；{len(failing)} 处无法完整检查"
        summary_en += f"; {len(failing)} places could not be checked whole"
    return CheckResult(
        id="direct.pii",
        factor=RiskFactor.DIRECT,
        status=status,
        title_zh="产物、参数、标签与模型中无个人标识",
        title_en="No personal identifiers in artifacts, parameters, tags or the model",
        summary_zh=summary_zh,
        summary_en=summary_en,
        evidence=_capped(
            [*(p.evidence() for p in failing), *evidence, *(p.evidence() for p in notes)]
        ),
        remedy_zh=(
            "删除含个人标识的输出、产物、参数或模型常量（包括笔记本单元格的输出），"
            "只使用脱敏视图中的字段，重新运行并提交；无法检查的文件请改为普通格式或拆小。"
            if status is not Status.PASS
            else ""
        ),
        remedy_en=(
            "Remove the outputs, artifacts, parameters or model constants that carry identifiers "
            "(notebook cell outputs included), use only the fields of the masked view, re-run and "
            "resubmit; files that could not be checked must be plain formats or smaller."
            if status is not Status.PASS
            else ""
        ),
        figures={
            "identifiers": float(total),
            "files": float(files),
            "unreadable": float(len(failing)),
        },
    )


# ------------------------------------------------------------------ normal form and hashes

_FULL_WIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
_HALF_WIDTH = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" "]
MISSING = ["", "-", "nan", "null", "none", "na", "n/a", "nat", "<na>"]
_DATE = (
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[ t](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?)?(?:z|[+-]\d{2}:?\d{2})?$"
)
_COMPACT_DATE = r"^((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$"
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$"
_INTEGER = r"^[+-]?\d+$"
_GROUPED = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
SIGNIFICANT_DIGITS = 6


def canonical_values(values: pl.Series) -> pl.Series:
    """Each value in its normal form (see the module docstring); null for missing."""
    v = pl.col("v")
    frame = pl.DataFrame({"v": values.cast(pl.String, strict=False)}).lazy()
    frame = frame.with_columns(
        v.str.replace_many(_FULL_WIDTH, _HALF_WIDTH)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .str.to_lowercase()
    )
    frame = frame.with_columns(
        pl.when(v.is_in(MISSING))
        .then(None)
        .when(v.str.contains(_GROUPED))
        .then(v.str.replace_all(",", "", literal=True))
        .otherwise(v)
        .alias("v")
    )
    frame = frame.with_columns(
        v.str.extract_groups(_DATE).struct.unnest().name.prefix("d"),
        v.str.extract_groups(_COMPACT_DATE).struct.unnest().name.prefix("c"),
        x=v.cast(pl.Float64, strict=False),
    )
    shift = SIGNIFICANT_DIGITS - 1
    frame = frame.with_columns(
        s=pl.col("d6").fill_null("0"),
        e=(pl.col("x").abs().log10().floor() - shift).cast(pl.Int64, strict=False),
    )
    frame = frame.with_columns(
        m=(pl.col("x") / pl.lit(10.0).pow(pl.col("e")))
        .round(0)
        .cast(pl.Int64, strict=False)
        .cast(pl.String)
    )
    frame = frame.with_columns(mantissa=pl.col("m").str.replace(r"0+$", ""))
    frame = frame.with_columns(
        exponent=pl.col("e") + pl.col("m").str.len_chars() - pl.col("mantissa").str.len_chars()
    )
    whole = (pl.col("exponent") >= 0) & (pl.col("x").abs() < 1e15)  # integral after rounding
    frame = frame.with_columns(
        rounded=pl.when(whole)
        .then(
            (
                pl.col("mantissa").cast(pl.Int64, strict=False)
                * pl.lit(10, pl.Int64).pow(pl.col("exponent"))
            ).cast(pl.String)
        )
        .otherwise(
            pl.concat_str(pl.col("mantissa"), pl.lit("e"), pl.col("exponent").cast(pl.String))
        )
    )

    def ymd(y: str, m: str, d: str) -> pl.Expr:
        return pl.concat_str(
            pl.col(y), pl.lit("-"), pl.col(m).str.zfill(2), pl.lit("-"), pl.col(d).str.zfill(2)
        )

    midnight = pl.col("d4").is_null() | (
        pl.col("d4").cast(pl.Int32) + pl.col("d5").cast(pl.Int32) + pl.col("s").cast(pl.Int32) == 0
    )
    number = v.str.contains(_NUMBER) & pl.col("x").is_finite()
    normal = (
        pl.when(pl.col("d1").is_not_null() & midnight)
        .then(ymd("d1", "d2", "d3"))
        .when(pl.col("d1").is_not_null())
        .then(
            pl.concat_str(
                ymd("d1", "d2", "d3"),
                pl.lit("t"),
                pl.col("d4").str.zfill(2),
                pl.lit(":"),
                pl.col("d5").str.zfill(2),
                pl.lit(":"),
                pl.col("s").str.zfill(2),
            )
        )
        .when(pl.col("c1").is_not_null())
        .then(ymd("c1", "c2", "c3"))
        .when(v.str.contains(_INTEGER) & (pl.col("x") == 0))
        .then(pl.lit("0"))
        .when(v.str.contains(_INTEGER))  # codes and counts: exact, whatever their length
        .then(v.str.replace(r"^\+", "").str.replace(r"^(-?)0+(\d)", "${1}${2}"))
        .when(number & (pl.col("x") == 0))
        .then(pl.lit("0"))
        .when(number & pl.col("rounded").is_not_null())
        .then(pl.col("rounded"))
        .otherwise(v)
    )
    return frame.select(normal.alias("normal")).collect().to_series()


_PERSON = b"shuyu.fp.v1"
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijection of 64-bit words that spreads every bit."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    mixed: np.ndarray = z ^ (z >> np.uint64(31))
    return mixed


def value_hashes(values: pl.Series, salt: bytes) -> np.ndarray:
    """Salted 64-bit hashes of normal-form values, never 0 (an empty anchor slot).

    Each value's UTF-8 bytes are folded 8 bytes at a time through splitmix64 rounds
    seeded with a key derived from the salt and the length. It is computed in numpy over
    the Arrow buffers (millions of values a second), and it is ours, so a library upgrade
    can never change it and silently invalidate fingerprints built before."""
    arrow = values.cast(pl.String).to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    if not pa.types.is_large_string(arrow.type):
        arrow = arrow.cast(pa.large_string())
    if len(arrow) == 0:
        return np.zeros(0, dtype=np.uint64)
    _validity, offset_buffer, data_buffer = arrow.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[
        arrow.offset : arrow.offset + len(arrow) + 1
    ]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    data = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    key = np.frombuffer(hashlib.blake2b(salt, digest_size=16, person=_PERSON).digest(), dtype="<u8")
    starts, lengths = offsets[:-1], np.diff(offsets)
    byte = np.arange(8)
    with np.errstate(over="ignore"):
        hashes = _mix(key[0] ^ (lengths.astype(np.uint64) * _GOLDEN))
        live, word = np.flatnonzero(lengths > 0), 0
        while live.size:
            chunk = data[starts[live, None] + 8 * word + byte]
            chunk[byte >= lengths[live, None] - 8 * word] = 0
            hashes[live] = _mix(hashes[live] ^ chunk.view("<u8").ravel())
            word += 1
            live = live[lengths[live] > 8 * word]
        hashes = _mix(hashes ^ key[1])
    hashes[hashes == 0] = 1
    return hashes


def normal_long(row: np.ndarray, value: Sequence[str] | pl.Series) -> pl.DataFrame:
    """(row, value) in normal form, missing values dropped, each pair once."""
    raw = pl.DataFrame(
        {"row": pl.Series(row, dtype=pl.UInt32), "raw": pl.Series(value, dtype=pl.String)}
    )
    distinct = raw.get_column("raw").unique().drop_nulls()
    mapping = pl.DataFrame({"raw": distinct, "value": canonical_values(distinct)})
    return raw.join(mapping, on="raw").select("row", "value").drop_nulls("value").unique()


# ------------------------------------------------------------------ fingerprints

FINGERPRINT_MANIFEST = "fingerprints.json"
SPARE_ANCHORS = 2
"""Anchors kept per record beyond `min_fields`: a copy must avoid this many + 1 of a
record's most distinctive values to go unseen."""
_RARITY_SCALE = 8.0  # rarity is stored as round(8·log2(records holding the value)), uint8


class TableFingerprints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stem: str
    rows: int
    fingerprinted: int  # records distinctive enough to be fingerprinted


class FingerprintManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    min_fields: int
    anchors: int
    salt: str
    tables: dict[str, TableFingerprints]


def value_codes(frame: pl.DataFrame) -> tuple[np.ndarray, pl.Series]:
    """Each flat cell of `frame` as the code of its normal form ([rows, columns], -1 for
    missing), and the normal forms by code."""
    names = [n for n, t in frame.schema.items() if _flat(t)]
    raw = [frame.get_column(n).cast(pl.String, strict=False) for n in names]
    distinct = [r.unique().drop_nulls() for r in raw]
    normal = [canonical_values(d) for d in distinct]
    vocabulary = (
        pl.concat([n.drop_nulls() for n in normal]).unique()
        if normal
        else pl.Series([], dtype=pl.String)
    )
    coded = pl.DataFrame({"value": vocabulary, "code": pl.int_range(len(vocabulary), eager=True)})
    matrix = np.full((frame.height, len(names)), -1, dtype=np.int64)
    for j, (column, d, n) in enumerate(zip(raw, distinct, normal, strict=True)):
        lookup = pl.DataFrame({"raw": d, "value": n}).join(coded, on="value")
        codes = (
            pl.DataFrame({"raw": column})
            .join(lookup.select("raw", "code"), on="raw", how="left", maintain_order="left")
            .get_column("code")
        )
        matrix[:, j] = codes.fill_null(-1).to_numpy()
    return matrix, vocabulary


def table_anchors(
    frame: pl.DataFrame, min_fields: int, width: int, salt: bytes
) -> tuple[np.ndarray, np.ndarray]:
    """Each distinctive record's `width` rarest value hashes, rarest first (0 = none),
    and their rarity (8·log2 of the number of records holding each value)."""
    codes, vocabulary = value_codes(frame)
    n = frame.height
    if n == 0 or codes.shape[1] == 0:
        return np.zeros((0, width), np.uint64), np.zeros((0, width), np.uint8)
    codes.sort(axis=1)
    codes[:, 1:][codes[:, 1:] == codes[:, :-1]] = -1  # a value twice in a record counts once
    present = codes >= 0
    holding = np.bincount(codes[present], minlength=len(vocabulary))
    count = np.where(present, holding[np.maximum(codes, 0)], np.iinfo(np.int64).max)
    order = np.argsort(count, axis=1, kind="stable")[:, :width]
    codes = np.take_along_axis(codes, order, axis=1)
    count = np.take_along_axis(count, order, axis=1)
    if codes.shape[1] < width:  # fewer columns than anchors
        pad = width - codes.shape[1]
        codes = np.pad(codes, ((0, 0), (0, pad)), constant_values=-1)
        count = np.pad(count, ((0, 0), (0, pad)), constant_values=np.iinfo(np.int64).max)
    log_n = math.log2(n)
    known = codes[:, :min_fields] >= 0
    log_share = np.where(known, np.log2(np.maximum(count[:, :min_fields], 1)) - log_n, 0.0)
    keep = known.all(axis=1) & (log_share.sum(axis=1) + log_n < 0)
    codes, count = codes[keep], count[keep]
    used = np.unique(codes[codes >= 0])
    hashes = value_hashes(vocabulary.gather(used), salt)
    anchors = np.zeros(codes.shape, dtype=np.uint64)
    anchors[codes >= 0] = hashes[np.searchsorted(used, codes[codes >= 0])]
    rarity = np.full(codes.shape, 255, dtype=np.uint8)
    rarity[codes >= 0] = np.clip(
        np.round(np.log2(count[codes >= 0]) * _RARITY_SCALE), 0, 254
    ).astype(np.uint8)
    return anchors, rarity


def build_fingerprints(
    tables: Mapping[str, pl.DataFrame], out_dir: Path, min_fields: int
) -> FingerprintManifest:
    """Fingerprint the raw and masked tables (run in the domain when the data are
    built): salted hashes of each record's most distinctive values, never the values.
    `out_dir` is replaced whole, or left as it was on failure."""
    if min_fields < 2:
        raise ValueError("row fingerprints need at least 2 fields")
    salt = secrets.token_bytes(16)
    width = min_fields + SPARE_ANCHORS
    entries: dict[str, TableFingerprints] = {}
    with staged_directory(out_dir) as staging:
        for index, (name, frame) in enumerate(tables.items()):
            anchors, rarity = table_anchors(frame, min_fields, width, salt)
            stem = f"table{index:03d}"
            np.save(staging / f"{stem}.anchors.npy", anchors)
            np.save(staging / f"{stem}.rarity.npy", rarity)
            entries[name] = TableFingerprints(
                stem=stem, rows=frame.height, fingerprinted=len(anchors)
            )
        manifest = FingerprintManifest(
            min_fields=min_fields, anchors=width, salt=salt.hex(), tables=entries
        )
        (staging / FINGERPRINT_MANIFEST).write_text(
            manifest.model_dump_json(indent=2), encoding="utf-8"
        )
    return manifest


@dataclass(frozen=True)
class Reproduction:
    table: str
    record: int
    row: int  # global row id of the artifact rows


def load_manifest(directory: Path) -> FingerprintManifest | None:
    path = directory / FINGERPRINT_MANIFEST
    if not path.is_file():
        return None
    return FingerprintManifest.model_validate_json(path.read_text(encoding="utf-8"))


def reproductions(
    manifest: FingerprintManifest, directory: Path, rows: pl.DataFrame
) -> list[Reproduction]:
    """Records of the fingerprinted tables that rows (row, value — raw text) reproduce."""
    k = manifest.min_fields
    lead = manifest.anchors - k + 1
    long = normal_long(rows.get_column("row").to_numpy(), rows.get_column("value"))
    if long.is_empty():
        return []
    distinct = long.get_column("value").unique()
    hashed = pl.DataFrame(
        {
            "value": distinct,
            "h": pl.Series(value_hashes(distinct, bytes.fromhex(manifest.salt)), dtype=pl.UInt64),
        }
    )
    present = long.join(hashed, on="value").select("row", "h").unique()
    found: list[Reproduction] = []
    for name, table in manifest.tables.items():
        anchors = np.load(
            directory / f"{table.stem}.anchors.npy", mmap_mode="r", allow_pickle=False
        )
        rarity = np.load(directory / f"{table.stem}.rarity.npy", mmap_mode="r", allow_pickle=False)
        if anchors.shape[0] == 0:
            continue
        leads = np.asarray(anchors[:, :lead])
        record, _slot = np.nonzero(leads)
        index = pl.DataFrame(
            {
                "h": pl.Series(leads[record, _slot], dtype=pl.UInt64),
                "record": pl.Series(record, dtype=pl.UInt32),
            }
        )
        candidates = present.join(index, on="h").select("row", "record").unique()
        if candidates.is_empty():
            continue
        rec = candidates.get_column("record").to_numpy()
        width = anchors.shape[1]
        detail = pl.DataFrame(
            {
                "row": pl.Series(
                    np.repeat(candidates.get_column("row").to_numpy(), width), dtype=pl.UInt32
                ),
                "record": pl.Series(np.repeat(rec, width), dtype=pl.UInt32),
                "h": pl.Series(np.asarray(anchors[rec]).ravel(), dtype=pl.UInt64),
                "rarity": pl.Series(
                    np.asarray(rarity[rec]).ravel().astype(np.float64) / _RARITY_SCALE
                ),
            }
        ).filter(pl.col("h") != 0)
        log_n = math.log2(max(table.rows, 1))
        matched = (
            detail.join(present, on=["row", "h"], how="semi")
            .group_by("row", "record")
            .agg(
                pl.len().alias("count"),
                (pl.col("rarity").sort().head(k) - log_n).sum().alias("log_share"),
            )
            .filter((pl.col("count") >= k) & (pl.col("log_share") + log_n < 0))
            .sort("row", "record")
        )
        found.extend(
            Reproduction(name, int(r), int(row))
            for row, r in matched.select("row", "record").iter_rows()
        )
    return found


# ------------------------------------------------------------------ direct.verbatim


@dataclass(frozen=True)
class _RowSet:
    """All candidate rows of a submission, numbered one after another."""

    pieces: list[Rows]
    offsets: np.ndarray  # first global row of each piece
    frame: pl.DataFrame  # row (global), value (raw text)

    @classmethod
    def of(cls, pieces: list[Rows]) -> _RowSet:
        pieces = [p for p in pieces if len(p.value)]
        sizes = [int(p.row.max()) + 1 for p in pieces]
        offsets = np.cumsum([0, *sizes])[:-1].astype(np.int64)
        rows = [p.row.astype(np.int64) + o for p, o in zip(pieces, offsets, strict=True)]
        frame = pl.DataFrame(
            {
                "row": pl.Series(np.concatenate(rows) if rows else [], dtype=pl.UInt32),
                "value": pl.Series([v for p in pieces for v in p.value], dtype=pl.String),
            }
        )
        return cls(pieces, offsets, frame)

    def evidence(self, found: list[Reproduction], min_fields: int) -> list[Evidence]:
        by_piece: dict[int, list[Reproduction]] = {}
        for hit in found:
            index = int(np.searchsorted(self.offsets, hit.row, side="right")) - 1
            by_piece.setdefault(index, []).append(hit)
        evidence = []
        for index, hits in sorted(by_piece.items()):
            piece = self.pieces[index]
            rows = sorted({h.row - int(self.offsets[index]) for h in hits})
            records = len({(h.table, h.record) for h in hits})
            tables = sorted({h.table for h in hits})
            shown = ", ".join(piece.label(i) for i in rows[:5])
            more = f" (+{len(rows) - 5})" if len(rows) > 5 else ""
            evidence.append(
                Evidence(
                    what_zh=f"{len(rows)} 行重现了 {'、'.join(tables)} 的 {records} 条记录",
                    what_en=f"{len(rows)} rows reproduce {records} records of {', '.join(tables)}",
                    value=f"≥ {min_fields} fields",
                    where=f"{piece.where}: {shown}{more}",
                )
            )
        return evidence


_VERBATIM_TITLE = (
    "产物中无原始表或脱敏表的逐条记录",
    "No verbatim records of the raw or masked tables",
)


def _no_fingerprints(ctx: CheckContext, manifest: FingerprintManifest | None) -> CheckResult:
    wanted = ctx.thresholds.row_fingerprint_min_fields
    have_zh = "缺失" if manifest is None else f"按 {manifest.min_fields} 个字段生成"
    have_en = "missing" if manifest is None else f"built for {manifest.min_fields} fields"
    return CheckResult(
        id="direct.verbatim",
        factor=RiskFactor.DIRECT,
        status=Status.ERROR,
        title_zh=_VERBATIM_TITLE[0],
        title_en=_VERBATIM_TITLE[1],
        summary_zh=f"行指纹{have_zh}（策略要求 {wanted} 个字段），无法检查",
        summary_en=f"row fingerprints {have_en} (the policy asks for {wanted} fields): not checked",
        evidence=[
            Evidence(
                what_zh="行指纹目录",
                what_en="fingerprints directory",
                where=str(ctx.fingerprints_dir),
            )
        ],
        remedy_zh="平台运维：在数据域内重新生成行指纹（build_fingerprints）后重跑自查。",
        remedy_en=(
            "Platform operators: rebuild the row fingerprints in the domain "
            "(build_fingerprints), then re-run the self-check."
        ),
    )


@check("direct.verbatim", RiskFactor.DIRECT)
def no_verbatim_records(ctx: CheckContext) -> CheckResult:
    """Records of the raw or masked tables reproduced in artifacts, by row fingerprints."""
    limits = ctx.thresholds
    manifest = load_manifest(ctx.fingerprints_dir)
    if manifest is None or manifest.min_fields != limits.row_fingerprint_min_fields:
        return _no_fingerprints(ctx, manifest)
    problems: list[ScanProblem] = []
    pieces: list[Rows] = []
    files = 0
    for entry in walk_entries(snapshot_roots(ctx), limits, problems):
        files += 1
        pieces.extend(extract(entry, problems).rows)
    rows = _RowSet.of([*pieces, *run_record_rows(ctx)])
    found = reproductions(manifest, ctx.fingerprints_dir, rows.frame)
    records = len({(r.table, r.record) for r in found})
    failing = [p for p in problems if p.fails]
    notes = [p for p in problems if not p.fails]
    over = records > limits.max_verbatim_records
    status = Status.FAIL if over or failing else Status.WARN if records or notes else Status.PASS
    unread_zh = f"；{len(failing)} 处无法完整检查" if failing else ""
    unread_en = f"; {len(failing)} places could not be checked whole" if failing else ""
    return CheckResult(
        id="direct.verbatim",
        factor=RiskFactor.DIRECT,
        status=status,
        title_zh=_VERBATIM_TITLE[0],
        title_en=_VERBATIM_TITLE[1],
        summary_zh=(
            f"对照 {len(manifest.tables)} 张表的行指纹检查了 {files} 个文件及运行参数和标签："
            f"{records} 条记录被逐条重现（上限 {limits.max_verbatim_records}；"
            f"一条记录的 {manifest.min_fields} 个字段值出现在同一行即算）{unread_zh}"
        ),
        summary_en=(
            f"{files} files and the run's parameters and tags checked against the row "
            f"fingerprints of {len(manifest.tables)} tables: {records} records reproduced "
            f"(limit {limits.max_verbatim_records}; a record counts when "
            f"{manifest.min_fields} of its values appear in one row){unread_en}"
        ),
        evidence=_capped(
            [
                *(p.evidence() for p in failing),
                *rows.evidence(found, manifest.min_fields),
                *(p.evidence() for p in notes),
            ]
        ),
        remedy_zh=(
            "不要把数据行（原始或脱敏）写入产物、输出或模型；只保留汇总统计和模型本身，"
            "重新运行并提交。"
            if status is not Status.PASS
            else ""
        ),
        remedy_en=(
            "Do not write rows of the data (raw or masked) into artifacts, outputs or the "
            "model; keep only aggregates and the model itself, re-run and resubmit."
            if status is not Status.PASS
            else ""
        ),
        figures={
            "records_reproduced": float(records),
            "files": float(files),
            "unreadable": float(len(failing)),
        },
    )
