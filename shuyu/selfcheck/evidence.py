"""Evidence lists as a report shows them: at most `MAX_EVIDENCE` items per check, the
last saying how many more there are (a check's summary always counts them all)."""

from __future__ import annotations

from collections.abc import Sequence

from shuyu.selfcheck.result import Evidence

MAX_EVIDENCE = 40


def capped(evidence: Sequence[Evidence]) -> list[Evidence]:
    shown = list(evidence)
    if len(shown) <= MAX_EVIDENCE:
        return shown
    rest = len(shown) - MAX_EVIDENCE + 1
    return [
        *shown[: MAX_EVIDENCE - 1],
        Evidence(what_zh=f"另有 {rest} 条未列出", what_en=f"{rest} more not listed"),
    ]


def evidence_item(zh: str, en: str, where: str = "", value: str = "") -> Evidence:
    return Evidence(what_zh=zh, what_en=en, where=where, value=value)
