"""What the airlock's scan refuses before a reviewer sees an upload (`scan_upload`),
written as what a partner might try to bring in: a file over the limit, a data file
disguised by its type, code or a notebook carrying resident IDs, a table that is not
keyed by valid credit codes, a look-up of a few enterprises, identifiers in a label."""

from __future__ import annotations

import io
import json
import random

import polars as pl
import pytest

from shuyu.airlock.scan import scan_upload
from shuyu.data.identifiers import resident_id_check, uscc_check
from shuyu.policy.models import AirlockPolicy

POLICY = AirlockPolicy(max_bytes=1 << 20, min_rows=20)
RESIDENT_ID = "341302198001011233"
assert resident_id_check(RESIDENT_ID[:17]) == RESIDENT_ID[17]


def usccs(count: int, seed: int = 7) -> list[str]:
    """Valid unified social credit codes (enterprises registered in 宿州 341302)."""
    rng = random.Random(seed)
    found: set[str] = set()
    while len(found) < count:
        first = "91341302" + "".join(rng.choice("0123456789") for _ in range(9))
        found.add(first + uscc_check(first))
    return sorted(found)


def _csv(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def labels(count: int = 30, **extra: list[str]) -> pl.DataFrame:
    codes = usccs(count)
    return pl.DataFrame({"uscc": codes, "defaulted": ["0", "1"] * (count // 2), **extra})


def test_code_and_a_labels_table_pass() -> None:
    code = scan_upload("features.py", b"def ratio(a, b):\n    return a / b\n", POLICY)
    assert (code.kind, code.problems) == ("code", [])
    table = scan_upload("outcomes.csv", _csv(labels()), POLICY)
    assert (table.kind, table.problems) == ("table", [])
    assert table.summary["rows"] == 30


def test_an_upload_over_the_limit_is_refused() -> None:
    scan = scan_upload("big.py", b"#" * ((1 << 20) + 1), POLICY)
    assert scan.problems == [f"{(1 << 20) + 1} bytes, over the airlock's {1 << 20} (max_bytes)"]


@pytest.mark.parametrize("name", ["dump.zip", "rows.parquet.gz", "model.pkl", "noext"])
def test_a_type_the_airlock_does_not_take_is_refused(name: str) -> None:
    (problem,) = scan_upload(name, b"PK\x03\x04", POLICY).problems
    assert "is not taken" in problem


def test_code_carrying_a_resident_id_is_refused_with_the_kind_masked() -> None:
    source = f'TARGET = "{RESIDENT_ID}"  # 客户身份证\n'.encode()
    (problem,) = scan_upload("lookup.py", source, POLICY).problems
    assert "resident_id ×1" in problem
    assert RESIDENT_ID not in problem  # the reason never repeats the identifier


def test_a_notebook_with_a_resident_id_in_an_output_is_refused() -> None:
    notebook = {
        "cells": [
            {"cell_type": "code", "source": "print(x)", "metadata": {},
             "outputs": [{"output_type": "stream", "name": "stdout", "text": RESIDENT_ID}]}
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    scan = scan_upload("work.ipynb", json.dumps(notebook).encode(), POLICY)
    assert scan.kind == "notebook"
    assert "resident_id" in scan.problems[0]


def test_a_table_with_a_resident_id_column_is_refused() -> None:
    table = labels(30, owner_id=[RESIDENT_ID] * 30)
    (problem,) = scan_upload("outcomes.csv", _csv(table), POLICY).problems
    assert problem.startswith("identifiers outside uscc: resident_id ×30 in owner_id")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (labels().rename({"uscc": "credit_code"}), "no uscc column"),
        (labels().with_columns(pl.lit("91341302MA2XXXXXX1").alias("uscc")), "not valid unified"),
        (pl.concat([labels(), labels().head(1)]), "1 uscc values appear more than once"),
        (labels(10), "10 rows: a table brings 20 to"),
    ],
    ids=["no key", "not credit codes", "a key twice", "a look-up of a few"],
)
def test_a_table_not_keyed_as_the_airlock_needs_is_refused(
    table: pl.DataFrame, expected: str
) -> None:
    problems = scan_upload("outcomes.csv", _csv(table), POLICY).problems
    assert any(expected in p for p in problems), problems


def test_a_parquet_table_is_read_as_it_is() -> None:
    buffer = io.BytesIO()
    labels().write_parquet(buffer)
    assert scan_upload("outcomes.parquet", buffer.getvalue(), POLICY).problems == []
