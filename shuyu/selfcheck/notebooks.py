"""Jupyter notebooks (nbformat 3 and 4) as data: their cells and sources, and what a
notebook shows — cell sources, every output but pictures (text, errors, HTML tables,
JSON), metadata — as texts to scan and candidate rows (lines, table rows, records)."""

from __future__ import annotations

import contextlib
import html.parser
import json
import re
from typing import Any

from shuyu.selfcheck.extracted import (
    Extracted,
    Text,
    json_records,
    record_rows,
    token_rows,
    try_json,
)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _HtmlTables(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if self.rows:  # polars quotes strings in its tables
                self.rows[-1].append("".join(self._cell).strip().strip("\"'"))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def notebook_cells(notebook: Any) -> list[dict[str, Any]]:
    if not isinstance(notebook, dict):
        raise ValueError("a notebook is a JSON object")
    if "worksheets" in notebook:  # nbformat 3
        return [c for ws in notebook["worksheets"] for c in ws.get("cells", [])]
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise ValueError("a notebook has a list of cells")
    return [c for c in cells if isinstance(c, dict)]


def cell_source(cell: dict[str, Any]) -> str:
    return _joined(cell.get("source", cell.get("input", "")))


def notebook_content(where: str, text: str, out: Extracted) -> bool:
    """Cell sources, outputs (but pictures) and metadata; False if not a notebook."""
    try:
        notebook = json.loads(text)
        cells = notebook_cells(notebook)
    except (json.JSONDecodeError, ValueError):
        return False
    parts = [("metadata", json.dumps(notebook.get("metadata", {}), ensure_ascii=False))]
    lines: list[tuple[str, str]] = []
    records: list[tuple[str, list[str]]] = []
    for number, cell in enumerate(cells, start=1):
        for j, line in enumerate(cell_source(cell).splitlines(), start=1):
            parts.append((f"cell {number} line {j}", line))
            lines.append((f"cell {number} line {j}", line))
        metadata = json.dumps(cell.get("metadata", {}), ensure_ascii=False)
        parts.append((f"cell {number} metadata", metadata))
        for k, output in enumerate(cell.get("outputs", []) or [], start=1):
            if not isinstance(output, dict):
                continue
            here = f"cell {number} output {k}"
            for mime, body in _output_bodies(output, here, records):
                for j, line in enumerate(_ANSI.sub("", body).splitlines(), start=1):
                    parts.append((f"{here} ({mime}) line {j}", line))
                    if mime != "text/html":  # its rows come from the table parser
                        lines.append((f"{here} line {j}", line))
    out.texts.append(Text(where, parts))
    out.rows.append(token_rows(where, lines))
    out.rows.append(record_rows(where, records))
    return True


def _output_bodies(
    output: dict[str, Any], here: str, records: list[tuple[str, list[str]]]
) -> list[tuple[str, str]]:
    """The texts of one cell output by MIME type; tables and JSON records to `records`."""
    bodies: list[tuple[str, str]] = []
    if "text" in output:
        bodies.append(("text", _joined(output["text"])))
    if output.get("output_type") == "error":
        trace = [str(output.get("ename", "")), str(output.get("evalue", ""))]
        bodies.append(("error", "\n".join(trace + [str(t) for t in output.get("traceback", [])])))
    for mime, content in (output.get("data") or {}).items():
        if mime.startswith("image/") or mime == "application/pdf":
            continue  # pictures: not read (the reviewers see them)
        body = _joined(content)
        bodies.append((mime, body))
        if mime == "text/html":
            tables = _HtmlTables()
            with contextlib.suppress(Exception):
                tables.feed(body)
            numbered = enumerate(tables.rows, start=1)
            records.extend((f"{here} table row {r}", cells) for r, cells in numbered if cells)
        elif "json" in mime:
            parsed = try_json(content) if isinstance(content, str) else content
            records.extend((f"{here} {p}", cells) for p, cells in json_records(parsed))
    return bodies
