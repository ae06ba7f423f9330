"""The column type of each catalogue field type, in polars and in Arrow, and which raw
columns a declared type accepts: what `FieldType` means for the data."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from shuyu.policy.base import FieldType

_COLUMN_TYPES: dict[FieldType, tuple[pl.DataType, pa.DataType]] = {
    FieldType.string: (pl.String(), pa.large_string()),
    FieldType.int: (pl.Int64(), pa.int64()),
    FieldType.float: (pl.Float64(), pa.float64()),
    FieldType.bool: (pl.Boolean(), pa.bool_()),
    FieldType.date: (pl.Date(), pa.date32()),
    FieldType.datetime: (pl.Datetime("us"), pa.timestamp("us")),
}
POLARS_TYPES: dict[FieldType, pl.DataType] = {t: p for t, (p, _) in _COLUMN_TYPES.items()}
ARROW_TYPES: dict[FieldType, pa.DataType] = {t: a for t, (_, a) in _COLUMN_TYPES.items()}


def accepts_dtype(declared: FieldType, dtype: pl.DataType) -> bool:
    """Whether a raw column of `dtype` can be read as the `declared` type (an all-null
    column can be read as any)."""
    if dtype == pl.Null:
        return True
    accepts = {
        FieldType.string: dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum),
        FieldType.int: dtype.is_integer(),
        FieldType.float: dtype.is_numeric(),
        FieldType.bool: dtype == pl.Boolean,
        FieldType.date: dtype == pl.Date,
        FieldType.datetime: isinstance(dtype, pl.Datetime),
    }
    return accepts[declared]
