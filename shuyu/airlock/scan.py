"""What the airlock checks in an upload before anyone reviews it.

Every file: within the size limit, of a type the policy takes (code and notebooks as
UTF-8 text; tables as CSV or Parquet; nothing else — archives and data formats of other
kinds are what the airlock exists to stop). Code and notebooks (sources and outputs):
no identifier of a person or enterprise. A table: keyed by `key_column` holding valid
USCCs, each once, between `min_rows` and `max_rows` keys, and no identifier in any other
column (labels, outcomes: not who they are about).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import polars as pl

from shuyu.data.pii import PiiFinding, scan_frame, scan_text
from shuyu.policy.models import AirlockPolicy, PiiKind

MAX_COLUMNS = 64


@dataclass(frozen=True)
class Scan:
    kind: str  # code | notebook | table ("" when the type is not taken)
    problems: list[str]
    summary: dict[str, Any] = field(default_factory=dict)


def _found(findings: list[PiiFinding]) -> str:
    return ", ".join(
        f"{f.kind.value} ×{f.count}"
        + (f" in {f.column}" if f.column else "")
        + f" (e.g. {f.example_masked})"
        for f in findings
    )


def scan_upload(filename: str, data: bytes, policy: AirlockPolicy) -> Scan:
    suffix = PurePosixPath(filename).suffix.lower()
    if len(data) > policy.max_bytes:
        return Scan("", [f"{len(data)} bytes, over the airlock's {policy.max_bytes} (max_bytes)"])
    if suffix in policy.table_suffixes:
        return _scan_table(filename, data, policy)
    if suffix in policy.code_suffixes:
        return _scan_text(suffix, data)
    taken = ", ".join([*policy.code_suffixes, *policy.table_suffixes])
    return Scan("", [f"type {suffix or '(none)'} is not taken; the airlock takes {taken}"])


def _scan_text(suffix: str, data: bytes) -> Scan:
    kind = "notebook" if suffix == ".ipynb" else "code"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Scan(kind, ["not UTF-8 text"])
    if kind == "notebook":
        try:
            cells = json.loads(text)["cells"]
            assert isinstance(cells, list)
        except (json.JSONDecodeError, KeyError, TypeError, AssertionError):
            return Scan(kind, ["not a notebook (no cells)"])
    findings = scan_text(text)
    problems = [f"identifiers in the file: {_found(findings)}"] if findings else []
    return Scan(kind, problems, {"lines": text.count("\n") + 1})


def read_table(filename: str, data: bytes) -> pl.DataFrame:
    """A table upload (CSV or Parquet by its name) as a frame; CSV cells all text."""
    if PurePosixPath(filename).suffix.lower() == ".parquet":
        return pl.read_parquet(io.BytesIO(data))
    # every cell as text: a USCC or an ID is never a number, and nothing is guessed
    return pl.read_csv(io.BytesIO(data), infer_schema=False)


def _scan_table(filename: str, data: bytes, policy: AirlockPolicy) -> Scan:
    try:
        table = read_table(filename, data)
    except (pl.exceptions.PolarsError, OSError) as exc:
        return Scan("table", [f"not a readable table: {str(exc)[:200]}"])
    key = policy.key_column
    summary: dict[str, Any] = {"rows": table.height, "columns": table.columns}
    if key not in table.columns:
        return Scan("table", [f"no {key} column: a table is keyed by it (columns: "
                              f"{', '.join(table.columns[:20])})"], summary)  # fmt: skip
    problems = []
    if table.width > MAX_COLUMNS:
        problems.append(f"{table.width} columns, over {MAX_COLUMNS}")
    keys = table.get_column(key).cast(pl.String)
    if keys.null_count():
        problems.append(f"{keys.null_count()} rows without a {key}")
    valid = sum(f.count for f in scan_frame(keys.to_frame(), [key]) if f.kind is PiiKind.uscc)
    if valid < keys.len() - keys.null_count():
        problems.append(f"{keys.len() - keys.null_count() - valid} values of {key} are not "
                        "valid unified social credit codes")  # fmt: skip
    duplicates = keys.len() - keys.n_unique()
    if duplicates:
        problems.append(f"{duplicates} {key} values appear more than once (one row per key)")
    if not policy.min_rows <= table.height <= policy.max_rows:
        problems.append(
            f"{table.height} rows: a table brings {policy.min_rows} to {policy.max_rows} keys "
            "(a modelling set, not a look-up of single enterprises)"
        )
    others = [c for c in table.columns if c != key]
    scannable = [c for c in others if table.schema[c] == pl.String or table.schema[c].is_integer()]
    findings = scan_frame(table, scannable) if scannable else []
    if findings:
        problems.append(f"identifiers outside {key}: {_found(findings)}")
    return Scan("table", problems, summary)
