"""Finding personal identifiers in free text and in tables.

Text is cut into maximal runs (digits, upper-case letters and digits, plate-shaped runs,
e-mail-shaped runs) and each run is judged whole, so a 25-digit number never yields a
19-digit "card" from its middle, and a run counts only if it is a *valid* identifier
(check character, date, region, prefix): random digit strings are not flagged.

The digits after a decimal point are a number's fraction, never an identifier: in
``0.6217263148900231`` or ``1234.56789012345`` the run after ``<digit>.`` is no candidate
(about one full-precision float in forty would pass a bank card's checks). The integer
part still is (``13812345678.0`` is how pandas prints a phone column with a gap), and so
is a run after a full stop that no digit precedes (the ambiguous contexts, and how each
is decided, are listed at `_WITH_FRACTIONS`).

`scan_text` (one string) and `scan_frame` (columns of a polars frame) cut and judge the
same way, the frame version with the column expressions of `shuyu.data.identifiers`,
so the two agree and a million cells take seconds. A finding never carries the raw
value, only a masked example such as 3413**********1234.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from shuyu.data import identifiers as ids
from shuyu.data.regions import PLATE_CHARS
from shuyu.errors import InputError
from shuyu.policy.models import PiiKind


@dataclass(frozen=True)
class PiiFinding:
    kind: PiiKind
    column: str | None  # None for free text
    count: int
    example_masked: str


# The same patterns run in Python's re and polars' Rust regex: no look-around.
NUMERIC_RUN = r"[0-9]+[Xx]?"
ALNUM_RUN = r"[0-9A-Z]+"
PLATE_RUN = f"[{PLATE_CHARS}][A-Z]·?[0-9A-Z]+[挂学警港澳]?"
EMAIL_RUN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,24}"

# A digit run right after `<digit>.` is a decimal fraction and no candidate. Without
# look-behind this is said by extracting each digit run together with the fractions
# that follow it (`.` after a digit, then a run that starts with a digit) and keeping
# only the part before the first point. Where the context is ambiguous:
# - `0.6217…`, `1234.5678…`, `6.217…e-01`: a fraction, whatever its length (numpy's
#   `savetxt` writes 18 fraction digits, `%.20f` twenty). The price: an identifier
#   written as a fraction on purpose, or glued to a list number (`1.13812345678`), is
#   not found.
# - `13812345678.0` (pandas prints a phone column with a gap so), `…1234.` and
#   `…1234。` ending a sentence: the digits before the point are a candidate.
# - `.6222…`, `card.6222…`, `…123X.6222…`: no digit before the point, so no number as
#   Python, numpy, pandas or polars print one: a candidate.
# - `0,6217…`: a comma separates CSV fields far more often than it marks decimals
#   here: a candidate.
# - `1.LSVAU…`: a run after the point that starts with a letter is no fraction.
_WITH_FRACTIONS: dict[str, str] = {
    NUMERIC_RUN: r"[0-9]+(?:\.[0-9]+)*[Xx]?",
    ALNUM_RUN: (
        r"[0-9A-Z]*[0-9](?:\.[0-9](?:[0-9A-Z]*[0-9])?)*\.[0-9][0-9A-Z]*"  # fractions after
        r"|[0-9A-Z]+"
    ),
}

_KIND_ORDER = {kind: i for i, kind in enumerate(PiiKind)}
_KEEP: dict[PiiKind, tuple[int, int]] = {
    PiiKind.resident_id: (4, 4),
    PiiKind.uscc: (4, 4),
    PiiKind.bank_card: (4, 4),
    PiiKind.mobile: (3, 4),
    PiiKind.vin: (3, 4),
    PiiKind.plate: (2, 1),
}


def mask_example(kind: PiiKind, value: str) -> str:
    """Enough of a value to recognise its kind and check a report, never enough to use."""
    if kind is PiiKind.email:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    prefix, suffix = _KEEP.get(kind, (1, 1))
    middle = max(len(value) - prefix - suffix, 1)
    return value[:prefix] + "*" * middle + value[len(value) - suffix :]


@dataclass(frozen=True)
class _Rule:
    """One kind of identifier: which runs can hold it, and the validator that decides,
    as a scalar function (text) and as a column expression (frames)."""

    kind: PiiKind
    run: str  # the run pattern it is found in
    lengths: tuple[int, int]  # shortest and longest run, in characters
    valid: Callable[[str], bool]
    valid_expr: Callable[[pl.Expr], pl.Expr]
    # Runs that are also a valid resident ID count as one (18 digits can pass a Luhn or
    # a credit-code check as well).
    unless_resident_id: bool = False
    strip86: bool = False  # +86 13812345678 is read as a 13-digit run
    shape: str | None = None  # a cheap necessary regex, tried before the validator


def _mobile86(run: str) -> bool:
    return run.startswith("86") and ids.is_mobile(run[2:])


def _mobile86_expr(run: pl.Expr) -> pl.Expr:
    return run.str.starts_with("86") & ids.valid_mobile_expr(run.str.slice(2))


_RULES: tuple[_Rule, ...] = (
    _Rule(
        PiiKind.resident_id, NUMERIC_RUN, (18, 18), ids.is_resident_id, ids.valid_resident_id_expr,
        shape=ids.RESIDENT_ID_SHAPE,
    ),
    _Rule(PiiKind.mobile, NUMERIC_RUN, (11, 11), ids.is_mobile, ids.valid_mobile_expr),
    _Rule(PiiKind.mobile, NUMERIC_RUN, (13, 13), _mobile86, _mobile86_expr, strip86=True),
    _Rule(
        PiiKind.bank_card, NUMERIC_RUN, (16, 19), ids.is_bank_card, ids.valid_bank_card_expr,
        unless_resident_id=True, shape=ids.BANK_CARD_SHAPE,
    ),
    _Rule(
        PiiKind.uscc, ALNUM_RUN, (18, 18), ids.is_uscc, ids.valid_uscc_expr,
        unless_resident_id=True, shape=ids.USCC_SHAPE,
    ),
    _Rule(PiiKind.vin, ALNUM_RUN, (17, 17), ids.is_vin, ids.valid_vin_expr),
    _Rule(PiiKind.plate, PLATE_RUN, (7, 9), ids.is_plate, ids.valid_plate_expr),
    _Rule(PiiKind.email, EMAIL_RUN, (6, 320), ids.is_email, ids.valid_email_expr),
)  # fmt: skip
_RUNS: tuple[str, ...] = tuple(dict.fromkeys(r.run for r in _RULES))
_EXTRACTED = {run: _WITH_FRACTIONS.get(run, run) for run in _RUNS}
_COMPILED = {run: re.compile(_EXTRACTED[run]) for run in _RUNS}


def _candidates(run_pattern: str, text: str) -> list[str]:
    """The runs of `run_pattern` in `text` that can be identifiers (no fractions)."""
    found = _COMPILED[run_pattern].findall(text)
    if run_pattern in _WITH_FRACTIONS:
        return [run.partition(".")[0] for run in found]
    return found


def _candidates_frame(run_pattern: str, text: pl.LazyFrame) -> pl.LazyFrame:
    """`_candidates` for a column `text`: one row per run, in column `run`."""
    found = (
        text.select(pl.col("text").str.extract_all(_EXTRACTED[run_pattern]).alias("run"))
        .explode("run")
        .filter(pl.col("run").is_not_null())
    )
    if run_pattern in _WITH_FRACTIONS:
        found = found.select(pl.col("run").str.replace(r"\..*", ""))
    return found


def _matches(rule: _Rule, run: str) -> bool:
    return (
        rule.lengths[0] <= len(run) <= rule.lengths[1]
        and rule.valid(run)
        and not (rule.unless_resident_id and ids.is_resident_id(run))
    )


def scan_text(text: str) -> list[PiiFinding]:
    """Valid identifiers in `text`, one finding per kind."""
    counts: dict[PiiKind, int] = {}
    examples: dict[PiiKind, str] = {}
    for run_pattern in _RUNS:
        for run in _candidates(run_pattern, text):
            for rule in _RULES:
                if rule.run == run_pattern and _matches(rule, run):
                    counts[rule.kind] = counts.get(rule.kind, 0) + 1
                    value = run[2:] if rule.strip86 else run
                    examples.setdefault(rule.kind, mask_example(rule.kind, value))
    return [
        PiiFinding(kind, None, counts[kind], examples[kind])
        for kind in sorted(counts, key=_KIND_ORDER.__getitem__)
    ]


# ---------------------------------------------------------------- columns

_SCANNABLE = (pl.String, pl.Categorical, pl.Enum)


def _scannable(dtype: pl.DataType) -> bool:
    return isinstance(dtype, _SCANNABLE) or dtype.is_integer()


def _column_hits(frame: pl.LazyFrame, name: str) -> list[pl.LazyFrame]:
    """One row per rule: how many runs of column `name` it accepts, and the first."""
    text = frame.select(pl.col(name).cast(pl.String).alias("text"))
    # The runs are materialised once: left lazy, each rule would extract them again.
    extracted = pl.collect_all([_candidates_frame(pattern, text) for pattern in _RUNS])
    runs = dict(zip(_RUNS, extracted, strict=True))
    hits = []
    run = pl.col("run")
    for order, rule in enumerate(_RULES):
        # Cheap filters first, eagerly, so that the validators see only candidates and a
        # rule with none is not planned at all (planning a validator costs more than
        # running it on a column of scores or labels); the validators run in a
        # projection, where polars shares their common subexpressions (it does not
        # inside a filter).
        found = runs[rule.run].filter(run.str.len_chars().is_between(*rule.lengths))
        if rule.shape is not None:
            found = found.filter(run.str.contains(rule.shape))
        if found.is_empty():
            continue
        verdict = rule.valid_expr(run)
        if rule.unless_resident_id:
            verdict = verdict & ~ids.valid_resident_id_expr(run)
        checked = found.lazy().with_columns(verdict.alias("ok")).filter(pl.col("ok"))
        value = run.str.slice(2) if rule.strip86 else run
        hits.append(
            checked.select(
                pl.lit(name).alias("column"),
                pl.lit(order).alias("rule"),
                pl.len().alias("count"),
                value.first().alias("value"),
            )
        )
    return hits


def scan_frame(df: pl.DataFrame, columns: Sequence[str] | None = None) -> list[PiiFinding]:
    """Valid identifiers in the string (and integer) columns of `df`, or in `columns`;
    one finding per column and kind, counting every identifier in every cell."""
    if columns is None:
        names = [n for n, t in df.schema.items() if _scannable(t)]
    else:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise InputError(
                "PII scan columns",
                "not in the table",
                value=missing,
                hint=f"columns are {df.columns}",
            )
        unscannable = [c for c in columns if not _scannable(df.schema[c])]
        if unscannable:
            raise InputError("PII scan columns", "must hold text or integers", value=unscannable)
        names = list(columns)
    frame = df.lazy()
    parts = [hit for name in names for hit in _column_hits(frame, name)]
    if not parts:
        return []
    hits = pl.concat(parts).filter(pl.col("count") > 0).collect()
    counts: dict[tuple[str, PiiKind], int] = {}
    examples: dict[tuple[str, PiiKind], str] = {}
    for row in hits.iter_rows(named=True):
        kind = _RULES[row["rule"]].kind
        key = (row["column"], kind)
        counts[key] = counts.get(key, 0) + row["count"]
        examples.setdefault(key, mask_example(kind, row["value"]))
    return [
        PiiFinding(kind, column, counts[(column, kind)], examples[(column, kind)])
        for column, kind in sorted(counts, key=lambda k: (names.index(k[0]), _KIND_ORDER[k[1]]))
    ]
