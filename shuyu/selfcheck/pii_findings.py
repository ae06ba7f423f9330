"""Identifiers found in what was read, located and shown: one finding per kind and
place, with up to three sub-locations (line, cell, output, column …) where it occurs
and a masked example, never the value."""

from __future__ import annotations

import re
from collections.abc import Sequence

from shuyu.data import pii
from shuyu.data.regions import PLATE_CHARS
from shuyu.policy.models import PiiKind
from shuyu.selfcheck.extracted import Text
from shuyu.selfcheck.labels import safe_label
from shuyu.selfcheck.result import Evidence

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


def pii_evidence(where: str, finding: pii.PiiFinding, places: Sequence[str]) -> Evidence:
    at = f"{where} ({', '.join(places)})" if places else where
    return Evidence(
        what_zh=f"{_kind_zh(finding.kind)} {finding.count} 个",
        what_en=f"{finding.count} × {finding.kind.value}",
        value=finding.example_masked,
        where=at,
    )
