"""Vectorised sampling helpers shared by the table generators.

Every table draws from its own random stream, named after what it generates, so that
changing one table (or adding a new one) never shifts the values of the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

V = TypeVar("V")
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Days = npt.NDArray[np.datetime64]


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator for `name`, reproducible from `seed` alone."""
    key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([seed, key])


def sigmoid(x: Floats) -> Floats:
    return 1.0 / (1.0 + np.exp(-x))


def expand(counts: Ints) -> tuple[Ints, Ints]:
    """Rows for entities that each have `counts[i]` events: (owner index, 0-based rank
    of the event within its owner)."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(owner.size, dtype=np.int64) - np.repeat(starts, counts)
    return owner, rank


def pick(
    rng: np.random.Generator, values: Sequence[str], size: int, p: Sequence[float] | None = None
) -> npt.NDArray[np.str_]:
    """`size` draws from `values` (optionally weighted; weights need not sum to 1)."""
    probs = None
    if p is not None:
        w = np.asarray(p, dtype=np.float64)
        probs = w / w.sum()
    idx = rng.choice(len(values), size=size, p=probs)
    return np.asarray(values)[idx]


def labels(vocabulary: Sequence[str | None] | npt.NDArray[np.str_], codes: Ints) -> pl.Series:
    """The string column `vocabulary[codes]`, built without converting every row's
    string from numpy (which is what makes big string columns slow)."""
    return pl.Series(list(vocabulary), dtype=pl.String).gather(np.asarray(codes, dtype=np.int64))


def lookup(table: Mapping[str, V], keys: npt.NDArray[np.str_]) -> npt.NDArray[Any]:
    """`table[k]` for every k in `keys`, as one array (every key must be in `table`)."""
    names = sorted(table)
    values = np.asarray([table[k] for k in names])
    return values[np.searchsorted(np.asarray(names), keys)]


def pick_rows(rng: np.random.Generator, weights: Floats, size: int) -> Ints:
    """`size` indices drawn with probability proportional to `weights`."""
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(p.size, size=size, p=p / p.sum()).astype(np.int64)


def day(value: dt.date) -> np.datetime64:
    return np.datetime64(value.isoformat(), "D")


def uniform_days(rng: np.random.Generator, start: dt.date, end: dt.date, size: int) -> Days:
    """Dates uniformly in [start, end]."""
    span = (end - start).days + 1
    return day(start) + rng.integers(0, span, size=size).astype("timedelta64[D]")


def uniform_times(
    rng: np.random.Generator, days: Days, hour_from: int = 6, hour_to: int = 22
) -> Days:
    """A time of day (to the second) within working hours on each of `days`."""
    seconds = rng.integers(hour_from * 3600, hour_to * 3600, size=days.size)
    times: Days = days.astype("datetime64[us]") + (seconds * 1_000_000).astype("timedelta64[us]")
    return times


def month_starts(end: dt.date, months: int) -> Days:
    """The first days of the `months` calendar months up to and including `end`'s month."""
    last = np.datetime64(end.isoformat()[:7], "M")
    return (last - np.arange(months - 1, -1, -1)).astype("datetime64[D]")


def numbered(prefix: str, numbers: Ints, width: int) -> pl.Series:
    """`prefix` followed by each number zero-padded to `width` digits."""
    digits = pl.Series(np.asarray(numbers, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return (prefix + digits).alias("")


def digits(rng: np.random.Generator, size: int, width: int) -> pl.Series:
    """Random digit strings of exactly `width` digits (leading zeros kept)."""
    parts: list[pl.Series] = []
    remaining = width
    while remaining > 0:
        chunk = min(remaining, 15)
        n = rng.integers(0, 10**chunk, size=size, dtype=np.int64)
        parts.append(pl.Series(n).cast(pl.String).str.zfill(chunk))
        remaining -= chunk
    out = parts[0]
    for part in parts[1:]:
        out = out + part
    return out


def concat(*parts: pl.Series | str) -> pl.Series:
    """Element-wise string concatenation of series and constant strings."""
    frame = pl.DataFrame({f"c{i}": p for i, p in enumerate(parts) if isinstance(p, pl.Series)})
    exprs = [
        pl.col(f"c{i}") if isinstance(p, pl.Series) else pl.lit(p) for i, p in enumerate(parts)
    ]
    return frame.select(pl.concat_str(exprs).alias("s")).to_series()


def lognormal(rng: np.random.Generator, median: Floats | float, sigma: float, size: int) -> Floats:
    return np.asarray(median, dtype=np.float64) * np.exp(rng.normal(0.0, sigma, size=size))


def round_to(values: Floats, decimals: int = 2) -> Floats:
    rounded: Floats = np.round(np.asarray(values, dtype=np.float64), decimals).astype(np.float64)
    return rounded
