"""What the output check returns: per file, the results of each rule with evidence, in
Chinese and English — the self-check's `CheckResult` (its risk factors fit: PII and
row-level data are direct exposure, small and dominated cells indirect exposure, file
types and sizes other risks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pydantic import Field

from shuyu.selfcheck.result import CheckResult, Frozen, Status


class FileVerdict(Frozen):
    path: str  # relative to the output folder
    kind: str  # the declared kind, "record" (the platform's) or "undeclared"
    bytes: int
    sha256: str
    rows: int | None = None
    results: list[CheckResult] = Field(default_factory=list)

    @property
    def status(self) -> Status:
        return _worst(r.status for r in self.results)

    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status in {Status.FAIL, Status.ERROR}]


class OutputVerdict(Frozen):
    """The whole output folder: released only if `status` is pass."""

    scenario: str
    run_id: str
    checked_at: dt.datetime
    files: list[FileVerdict]
    results: list[CheckResult] = Field(default_factory=list)
    """Findings about the folder rather than one file (a declared output not written)."""

    @property
    def status(self) -> Status:
        statuses = [f.status for f in self.files] + [r.status for r in self.results]
        return _worst(statuses)

    @property
    def releasable(self) -> bool:
        return self.status in {Status.PASS, Status.WARN}

    def file(self, path: str) -> FileVerdict:
        for verdict in self.files:
            if verdict.path == path:
                return verdict
        raise KeyError(path)

    def reasons_zh(self) -> list[str]:
        """One line per failing rule and file, for the quarantine notice."""
        return [
            f"{f.path}：{r.title_zh} — {r.summary_zh}" for f in self.files for r in f.failures()
        ]

    def reasons_en(self) -> list[str]:
        return [
            f"{f.path}: {r.title_en} — {r.summary_en}" for f in self.files for r in f.failures()
        ]

    def summary_zh(self) -> str:
        failing = [f for f in self.files if f.failures()]
        if not failing:
            return f"产出检查通过：{len(self.files)} 个文件均可发布。"
        return f"产出检查未通过：{len(failing)}/{len(self.files)} 个文件需隔离待审。"

    def summary_en(self) -> str:
        failing = [f for f in self.files if f.failures()]
        if not failing:
            return f"Output check passed: all {len(self.files)} files may be released."
        return (
            f"Output check failed: {len(failing)} of {len(self.files)} files are quarantined "
            "for review."
        )


_ORDER = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2, Status.ERROR: 3}


def _worst(statuses: Iterable[Status]) -> Status:
    return max(statuses, key=_ORDER.__getitem__, default=Status.PASS)
