"""Writing generated tables in the catalogue's shape.

Each table is checked against its catalogue entry (every field present, no extra
column, in catalogue order) and cast to the Arrow type of the field's declared type,
so that masking and views can rely on the schema instead of guessing it.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from shuyu.data.field_types import ARROW_TYPES
from shuyu.errors import InputError
from shuyu.policy.models import Dataset


def arrow_schema(dataset: Dataset) -> pa.Schema:
    """The schema every raw table of `dataset` has: its fields, in catalogue order."""
    return pa.schema([pa.field(f.id, ARROW_TYPES[f.type]) for f in dataset.fields])


def conform(dataset: Dataset, frame: pl.DataFrame) -> pa.Table:
    """`frame` as an Arrow table with exactly the catalogue's columns and types."""
    have = set(frame.columns)
    missing = [f for f in dataset.field_ids if f not in have]
    if missing:
        raise InputError(
            f"catalogue dataset {dataset.id}",
            "declares fields the synthetic generator does not produce",
            value=missing,
            hint="remove them from the catalogue or extend shuyu.data.generate",
        )
    table = frame.select(dataset.field_ids).to_arrow()
    # casting is exact: a value that does not fit its declared type is a generator bug
    return table.cast(arrow_schema(dataset), safe=True)


def write_table(path: str, table: pa.Table) -> None:
    # fixed writer settings, so that the same seed gives the same bytes
    pq.write_table(table, path, compression="zstd", row_group_size=1 << 20)
