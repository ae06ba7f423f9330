"""Values in the normal form row fingerprints compare them in, so that trivial
reformatting does not hide a copied row:

* text: full-width characters to ASCII, whitespace runs to one space, trimmed, lower
  case; the usual spellings of missing (``NaN``, ``None``, ``null``, ``NA``, ``-``, empty)
  are missing;
* dates: ``2024-01-05``, ``2024/1/5``, ``2024.01.05``, ``2024年1月5日``, ``20240105``,
  ``2024-01-05T00:00:00.000`` and ``2024-01-05 00:00:00`` are one date; a non-zero time
  of day is kept to the second;
* numbers: thousands separators dropped; an integer literal is kept exactly (codes,
  counts and account numbers keep telling records apart; leading zeros dropped); any
  other number is rounded to 6 significant digits, then written as an integer if that
  is whole (``35.0`` is ``35``) or as mantissa and exponent (``1234.5``, ``1,234.50``,
  ``1.2345e3``, ``１２３４.５`` are all ``12345e-1``): pandas and polars print 6 or more
  significant digits, and a partner who rounds further has transformed, not copied, the
  data.
"""

from __future__ import annotations

import polars as pl

_FULL_WIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\u3000"]
_HALF_WIDTH = [chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)] + [" "]
MISSING = ["", "-", "nan", "null", "none", "na", "n/a", "nat", "<na>"]
_DATE = (
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
    r"(?:[ t](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?)?(?:z|[+-]\d{2}:?\d{2})?$"
)
_COMPACT_DATE = r"^((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$"
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$"
_INTEGER = r"^[+-]?\d+$"
_GROUPED = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
SIGNIFICANT_DIGITS = 6


def canonical_values(values: pl.Series) -> pl.Series:
    """Each value in its normal form (see the module docstring); null for missing."""
    v = pl.col("v")
    frame = pl.DataFrame({"v": values.cast(pl.String, strict=False)}).lazy()
    frame = frame.with_columns(
        v.str.replace_many(_FULL_WIDTH, _HALF_WIDTH)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .str.to_lowercase()
    )
    frame = frame.with_columns(
        pl.when(v.is_in(MISSING))
        .then(None)
        .when(v.str.contains(_GROUPED))
        .then(v.str.replace_all(",", "", literal=True))
        .otherwise(v)
        .alias("v")
    )
    frame = frame.with_columns(
        v.str.extract_groups(_DATE).struct.unnest().name.prefix("d"),
        v.str.extract_groups(_COMPACT_DATE).struct.unnest().name.prefix("c"),
        x=v.cast(pl.Float64, strict=False),
    )
    shift = SIGNIFICANT_DIGITS - 1
    frame = frame.with_columns(
        s=pl.col("d6").fill_null("0"),
        e=(pl.col("x").abs().log10().floor() - shift).cast(pl.Int64, strict=False),
    )
    frame = frame.with_columns(
        m=(pl.col("x") / pl.lit(10.0).pow(pl.col("e")))
        .round(0)
        .cast(pl.Int64, strict=False)
        .cast(pl.String)
    )
    frame = frame.with_columns(mantissa=pl.col("m").str.replace(r"0+$", ""))
    frame = frame.with_columns(
        exponent=pl.col("e") + pl.col("m").str.len_chars() - pl.col("mantissa").str.len_chars()
    )
    whole = (pl.col("exponent") >= 0) & (pl.col("x").abs() < 1e15)  # integral after rounding
    frame = frame.with_columns(
        rounded=pl.when(whole)
        .then(
            (
                pl.col("mantissa").cast(pl.Int64, strict=False)
                * pl.lit(10, pl.Int64).pow(pl.col("exponent"))
            ).cast(pl.String)
        )
        .otherwise(
            pl.concat_str(pl.col("mantissa"), pl.lit("e"), pl.col("exponent").cast(pl.String))
        )
    )

    def ymd(y: str, m: str, d: str) -> pl.Expr:
        return pl.concat_str(
            pl.col(y), pl.lit("-"), pl.col(m).str.zfill(2), pl.lit("-"), pl.col(d).str.zfill(2)
        )

    midnight = pl.col("d4").is_null() | (
        pl.col("d4").cast(pl.Int32) + pl.col("d5").cast(pl.Int32) + pl.col("s").cast(pl.Int32) == 0
    )
    number = v.str.contains(_NUMBER) & pl.col("x").is_finite()
    normal = (
        pl.when(pl.col("d1").is_not_null() & midnight)
        .then(ymd("d1", "d2", "d3"))
        .when(pl.col("d1").is_not_null())
        .then(
            pl.concat_str(
                ymd("d1", "d2", "d3"),
                pl.lit("t"),
                pl.col("d4").str.zfill(2),
                pl.lit(":"),
                pl.col("d5").str.zfill(2),
                pl.lit(":"),
                pl.col("s").str.zfill(2),
            )
        )
        .when(pl.col("c1").is_not_null())
        .then(ymd("c1", "c2", "c3"))
        .when(v.str.contains(_INTEGER) & (pl.col("x") == 0))
        .then(pl.lit("0"))
        .when(v.str.contains(_INTEGER))  # codes and counts: exact, whatever their length
        .then(v.str.replace(r"^\+", "").str.replace(r"^(-?)0+(\d)", "${1}${2}"))
        .when(number & (pl.col("x") == 0))
        .then(pl.lit("0"))
        .when(number & pl.col("rounded").is_not_null())
        .then(pl.col("rounded"))
        .otherwise(v)
    )
    return frame.select(normal.alias("normal")).collect().to_series()
