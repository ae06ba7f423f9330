"""What is read out of a file or a run record: texts to scan for identifiers, frames to
scan by column, and candidate rows to match against the row fingerprints — with the
builders of rows from printed lines, frames, JSON/YAML records and 1-D or 2-D tensors."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Text:
    """Text to scan for identifiers: (sub-location, text) parts of one place."""

    where: str
    parts: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Rows:
    """Candidate records: tokens of rows, as (row index, value) pairs."""

    where: str
    row: np.ndarray  # uint32 row index per value
    value: list[str]
    labels: Sequence[str] | None = None  # per row; None: f"{unit} {i + 1}"
    unit: str = "row"

    def label(self, index: int) -> str:
        return self.labels[index] if self.labels is not None else f"{self.unit} {index + 1}"


@dataclass
class Extracted:
    texts: list[Text] = field(default_factory=list)
    frames: list[tuple[str, pl.DataFrame]] = field(default_factory=list)
    rows: list[Rows] = field(default_factory=list)


def numbered_lines(text: str) -> list[tuple[str, str]]:
    """("line 1", first line), … as text parts."""
    return [(f"line {i}", line) for i, line in enumerate(text.splitlines(), start=1)]


_TOKEN = re.compile(r"[^\s|│┆┃║;,'\"`()\[\]{}<>=]+")


def token_rows(where: str, lines: Sequence[tuple[str, str]]) -> Rows:
    """Each line a row of the tokens a printed table or a record in code splits into."""
    row: list[int] = []
    value: list[str] = []
    labels: list[str] = []
    for label, line in lines:
        tokens = _TOKEN.findall(line)
        if not tokens:
            continue
        row.extend([len(labels)] * len(tokens))
        value.extend(tokens)
        labels.append(label)
    return Rows(where, np.asarray(row, dtype=np.uint32), value, labels)


def frame_rows(where: str, frame: pl.DataFrame, unit: str = "row") -> Rows:
    """Every flat column of `frame` as text, one row per record."""
    names = [n for n, t in frame.schema.items() if is_flat(t)]
    if not names or frame.height == 0:
        return Rows(where, np.zeros(0, np.uint32), [], None, unit)
    long = (
        frame.select(pl.col(n).cast(pl.String, strict=False).alias(n) for n in names)
        .with_row_index("row")
        .unpivot(index="row", value_name="value")
        .drop_nulls("value")
    )
    return Rows(
        where, long["row"].to_numpy().astype(np.uint32), long["value"].to_list(), None, unit
    )


def is_flat(dtype: pl.DataType) -> bool:
    return not (dtype.is_nested() or isinstance(dtype, (pl.Binary, pl.Null, pl.Object)))


def json_strings(value: Any, path: str, out: list[tuple[str, str]]) -> None:
    """Every key and scalar of parsed JSON/YAML appended to `out` as (path, text), whole
    floats written as the integers they hold."""
    if isinstance(value, dict):
        for key, item in value.items():
            out.append((path, str(key)))
            json_strings(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            json_strings(item, f"{path}[{i}]", out)
    elif isinstance(value, str):
        out.append((path, value))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append((path, _number_text(value)))


def _number_text(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isfinite(value) and value == math.floor(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def json_records(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, list[str]]]:
    """Records in parsed JSON/YAML: objects of scalars, lists of scalars in a list, and
    the rows of column-oriented objects (`{"a": [...], "b": [...]}`)."""
    if depth > 32:
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            here = f"{path}[{i}]"
            if isinstance(item, dict) and any(_scalar(v) for v in item.values()):
                yield here, [str(v) for v in item.values() if _scalar(v)]
            elif isinstance(item, list) and item and all(_scalar(v) or v is None for v in item):
                yield here, [str(v) for v in item if v is not None]
            yield from json_records(item, here, depth + 1)
    elif isinstance(value, dict):
        columns = [v for v in value.values() if isinstance(v, list)]
        if len(columns) >= 2 and len({len(c) for c in columns}) == 1:
            for i, cells in enumerate(zip(*columns, strict=True)):
                yield f"{path}[{i}]", [str(c) for c in cells if _scalar(c)]
        for key, item in value.items():
            yield from json_records(item, f"{path}.{key}" if path else str(key), depth + 1)


def try_json(text: str) -> Any:
    """The JSON document `text` holds, or None."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def record_rows(where: str, records: Iterable[tuple[str, list[str]]]) -> Rows:
    """Each (label, cells) record a row."""
    row: list[int] = []
    value: list[str] = []
    labels: list[str] = []
    for label, cells in records:
        row.extend([len(labels)] * len(cells))
        value.extend(cells)
        labels.append(label)
    return Rows(where, np.asarray(row, dtype=np.uint32), value, labels)


MAX_TENSOR_ROWS_ELEMENTS = 4_000_000


def tensor_rows(where: str, values: np.ndarray) -> list[Rows]:
    """A 1-D array as one row; a 2-D array by rows and by columns."""
    if values.ndim not in (1, 2) or values.size == 0 or values.size > MAX_TENSOR_ROWS_ELEMENTS:
        return []
    if values.dtype.kind in "OS":
        text = np.vectorize(
            lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v),
            otypes=[object],
        )(values)
    else:
        text = values
    matrix = text.reshape(1, -1) if values.ndim == 1 else text
    found = [_matrix_rows(f"{where} rows", matrix, "row")]
    if values.ndim == 2:
        found.append(_matrix_rows(f"{where} columns", matrix.T, "column"))
    return found


def _matrix_rows(where: str, matrix: np.ndarray, unit: str) -> Rows:
    n, width = matrix.shape
    series = (
        pl.Series(matrix.ravel())
        if matrix.dtype.kind != "O"
        else pl.Series(matrix.ravel().tolist())
    )
    value = series.cast(pl.String, strict=False).to_list()
    return Rows(where, np.repeat(np.arange(n, dtype=np.uint32), width), value, None, unit)
