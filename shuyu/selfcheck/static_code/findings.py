"""What the static code scan reports: a finding names the file, the cell and line, and
the offending text (identifiers in it masked); one that does not fail the check is for
the reviewer to judge."""

from __future__ import annotations

from dataclasses import dataclass

from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.result import Evidence


@dataclass(frozen=True)
class CodeFinding:
    where: str
    line: int
    what_zh: str
    what_en: str
    text: str
    fails: bool = True

    def evidence(self) -> Evidence:
        place = f"{self.where} line {self.line}" if self.line else self.where
        return Evidence(what_zh=self.what_zh, what_en=self.what_en, where=place, value=self.text)


def shown(text: str) -> str:
    text = " ".join(text.split())
    return safe_label(text if len(text) <= 160 else text[:157] + "…")
