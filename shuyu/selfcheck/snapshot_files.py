"""Every file of a submission's snapshot (model, artifacts, code) and every member of
every archive among them, nested ones included, as bytes — or the reason it could not be
read. What could not be read could hold anything, so each such place is a `ScanProblem`
that fails the check rather than being skipped: a symbolic link (never followed), a
file that is not a regular file, a file over `scan_max_file_bytes` (the model file may
be as large as `model_max_bytes`), an archive over `archive_max_members` or
`archive_max_bytes`, nested deeper than `MAX_ARCHIVE_DEPTH`, corrupt, of a kind that
cannot be opened, or with a member `shuyu.selfcheck.archives` refuses.

Locations name the file and the members (``artifacts/a.zip!b/c.csv``), with
identifiers in them masked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from shuyu.policy.models import SelfCheckThresholds
from shuyu.selfcheck.archives import (
    ARCHIVE_ERRORS,
    UNREADABLE_ARCHIVES,
    Budget,
    LimitExceeded,
    Refused,
    container_kind,
    members,
)
from shuyu.selfcheck.context import CheckContext
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.result import Evidence

MAX_ARCHIVE_DEPTH = 6


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


def model_roots(ctx: CheckContext) -> list[tuple[str, Path]]:
    """The folders a model file may be in (not the code)."""
    return [("model", ctx.model_dir), ("artifacts", ctx.artifacts_dir)]


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
    budget: Budget | None = None,
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
    budget = budget or Budget(limits)
    found = members(entry.name, entry.data, kind, budget)
    while True:
        try:
            member = next(found)
        except StopIteration:
            return
        except LimitExceeded:
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
        except ARCHIVE_ERRORS:
            if kind == "zlib" and depth == 0:  # two bytes that only looked like a zlib header
                yield entry
            else:
                problems.append(
                    ScanProblem(
                        entry.where, f"{kind} 压缩文件损坏，无法检查", f"a corrupt {kind} archive"
                    )
                )
            return
        where = f"{entry.where}!{safe_label(member.name)}"
        if isinstance(member, Refused):
            problems.append(ScanProblem(where, member.zh, member.en))
        elif len(member.data) > limits.scan_max_file_bytes:
            problems.append(_too_large(where, len(member.data), limits))
        else:
            yield from expand(
                Entry(where, member.name, member.data), limits, problems, budget, depth + 1
            )
