"""The README and the guides point only at files that exist: a renamed screenshot or
moved document would leave a newcomer with a broken picture or link."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_local_link_and_picture_exists(document: Path) -> None:
    targets = [t for t in LINK.findall(document.read_text(encoding="utf-8")) if "://" not in t]
    missing = [t for t in targets if not (document.parent / t).exists()]
    assert missing == [], f"{document.name} links to missing files: {missing}"


def test_the_guides_show_each_roles_pages() -> None:
    guide = (REPO / "docs" / "GUIDES.md").read_text(encoding="utf-8")
    pictures = re.findall(r"!\[[^\]]*\]\((screenshots/[^)]+\.png)\)", guide)
    assert len(pictures) >= 8
