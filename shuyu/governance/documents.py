"""What the governance documents share (the annual report, a filing, a deletion
certificate): their Jinja environment over `templates/`, and a label table read in one
language."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


def in_language(labels: dict[str, tuple[str, str]], lang: str) -> dict[str, str]:
    """Each label's Chinese (the default) or English text."""
    index = 1 if lang == "en" else 0
    return {key: pair[index] for key, pair in labels.items()}
