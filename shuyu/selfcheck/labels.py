"""Locations as a report shows them: a location that itself holds an identifier (a file
named after a resident ID, a parameter named after a phone number) is masked the way a
finding's example is."""

from __future__ import annotations

import re

from shuyu.data import pii


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
