"""Charts as inline SVG, drawn here: a report that needs no script, no image file and
no web font opens the same in a browser on an air-gapped site and prints as it shows."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from markupsafe import Markup

_ROW = 22
_LABEL = 190
_BAR = 330
_PAD = 10


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{int(value):,}"


def bar_chart(title: str, rows: Sequence[tuple[str, float]], *, unit: str = "") -> Markup:
    """A horizontal bar per (label, value), scaled to the largest value."""
    top = max((v for _, v in rows), default=0.0) or 1.0
    height = _PAD * 2 + 24 + _ROW * max(len(rows), 1)
    width = _LABEL + _BAR + 110
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label={quoteattr(title)} '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{_PAD}" y="{_PAD + 12}" font-weight="bold">{escape(title)}</text>',
    ]
    if not rows:
        parts.append(f'<text x="{_PAD}" y="{_PAD + 40}" fill="#627d98">—</text>')
    for i, (label, value) in enumerate(rows):
        y = _PAD + 24 + i * _ROW
        length = round(_BAR * max(value, 0) / top, 1)
        parts += [
            f'<text x="{_LABEL - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{_LABEL}" y="{y + 3}" width="{length}" height="{_ROW - 6}" fill="#2f6f9f"/>',
            f'<text x="{_LABEL + length + 4}" y="{y + 14}">'
            f"{escape(_number(value))}{escape(unit)}</text>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text above is escaped
