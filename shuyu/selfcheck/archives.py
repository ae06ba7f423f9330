"""Archives and compressed streams, opened in memory and never trusted: which kind a file
is (judged by its bytes: zip, tar, gzip, bzip2, xz and zlib streams such as joblib's;
7z, rar, zstd and lz4 are recognised but cannot be opened), and its members, each read
within what is left of one budget of members and bytes shared by nested archives, never
by the sizes an archive declares. A member that is not plain data — a path that is
absolute or climbs out with `..`, a link, a device, an encrypted or oddly compressed
member — is refused, not read.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from shuyu.policy.models import SelfCheckThresholds

UNREADABLE_ARCHIVES = frozenset({"7z", "rar", "zstd", "lz4"})
ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    OSError,
    EOFError,
    lzma.LZMAError,
    zlib.error,
)
"""What opening or reading a corrupt archive raises."""


@dataclass(frozen=True)
class Member:
    """One member of an archive, with its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Refused:
    """A member that is not plain data: a path out of the archive, a link, a device."""

    name: str
    zh: str
    en: str


class LimitExceeded(Exception):
    pass


class Budget:
    """What is left of one archive's unpacking limits, shared by its nested archives."""

    def __init__(self, limits: SelfCheckThresholds) -> None:
        self.members = limits.archive_max_members
        self.bytes = limits.archive_max_bytes

    def take(self, declared: int) -> None:
        self.members -= 1
        if self.members < 0 or declared > self.bytes:
            raise LimitExceeded

    def read(self, handle: Any) -> bytes:
        """At most what is left, whatever the archive declares, so a bomb never inflates."""
        data: bytes = handle.read(self.bytes + 1)
        if len(data) > self.bytes:
            raise LimitExceeded
        self.bytes -= len(data)
        return data


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


def _escapes(name: str) -> Refused | None:
    normal = name.replace("\\", "/")
    if normal.startswith("/") or re.match(r"^[A-Za-z]:", normal) or ".." in normal.split("/"):
        return Refused(
            name,
            "成员路径越出压缩包（绝对路径或 ..）",
            "member path escapes the archive (absolute or ..)",
        )
    return None


def members(name: str, data: bytes, kind: str, budget: Budget) -> Iterator[Member | Refused]:
    """The members of the archive `name` (of `kind`), each within the budget, and the
    members refused; a compressed stream has one member, named after the file."""
    if kind == "zip":
        yield from _zip_members(data, budget)
    elif kind == "tar":
        yield from _tar_members(data, budget)
    else:
        budget.take(0)
        inner = re.sub(r"\.(gz|tgz|bz2|xz|z|zz)$", "", name, flags=re.IGNORECASE)
        inner += ".tar" if name.lower().endswith(".tgz") else ""
        if kind == "zlib":
            content = budget.read(_ZlibReader(data))
        else:
            opener = _STREAMS[kind]
            with opener(io.BytesIO(data)) as handle:
                content = budget.read(handle)
        yield Member(inner or "data", content)


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


def _zip_members(data: bytes, budget: Budget) -> Iterator[Member | Refused]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            name = info.filename
            refused = _escapes(name)
            if stat.S_ISLNK(info.external_attr >> 16):
                refused = Refused(name, "成员是符号链接", "member is a symbolic link")
            elif info.flag_bits & 0x1:
                refused = Refused(
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
                    content = budget.read(handle)
            except NotImplementedError:
                yield Refused(name, "成员压缩方式不受支持", "member compression not supported")
                continue
            yield Member(name, content)


def _tar_members(data: bytes, budget: Budget) -> Iterator[Member | Refused]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for info in archive:
            refused = _escapes(info.name)
            if refused is None and not (info.isreg() or info.isdir()):
                refused = Refused(info.name, "成员是链接或设备文件", "member is a link or a device")
            if refused is not None:
                yield refused
                continue
            if info.isdir():
                continue
            budget.take(info.size)
            handle = archive.extractfile(info)
            if handle is not None:
                yield Member(info.name, budget.read(handle))
