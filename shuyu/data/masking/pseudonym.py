"""Keyed pseudonyms: HMAC-SHA256(key, namespace + "\\0" + value), shown as letters.

The same value gets the same pseudonym in every table (joins still work); without the
key the mapping can be neither reversed nor recomputed. A namespace per kind of
identifier keeps a person's ID and an enterprise's code from ever being linked.

The 96 bits kept are written with the letters a-p instead of hex digits, so that a
pseudonym never contains a run of digits that a PII scanner could take for a phone
number, a bank card or an ID: a masked identifier is recognisable as masked.

An identifier repeated across the rows of an event table is hashed once; the inner and
outer HMAC states after the key block are computed once, so that each value costs two
SHA-256 compressions in C and a few Python operations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa

try:  # the vectorised HMAC; without it the same pseudonyms come from Python, slower
    import polars_hash  # noqa: F401  (registers the `chash` expression namespace)

    HAVE_POLARS_HASH = True
except ImportError:  # pragma: no cover - depends on the installation
    HAVE_POLARS_HASH = False

_BLOCK = 64
_HEX = list("0123456789abcdef")
_LETTERS = list("abcdefghijklmnop")
_HEX_TO_LETTERS = str.maketrans("".join(_HEX), "".join(_LETTERS))
_HEX_TABLE = bytes.maketrans("".join(_HEX).encode(), "".join(_LETTERS).encode())
PSEUDONYM_CHARS = 24  # 96 bits: collisions are negligible far beyond a city's population
_SEPARATOR = ":"


class KeyedHasher:
    """HMAC-SHA256 under one key, for many short messages."""

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def digests(self, prefix: bytes, messages: Iterable[bytes]) -> list[bytes]:
        """HMAC(key, prefix + m) for every m (equal to `hmac.digest`, only faster)."""
        inner = self._inner.copy()
        inner.update(prefix)
        inner_copy = inner.copy
        outer_copy = self._outer.copy
        out: list[bytes] = []
        append = out.append
        for message in messages:
            i = inner_copy()
            i.update(message)
            o = outer_copy()
            o.update(i.digest())
            append(o.digest())
        return out

    def derive(self, purpose: str) -> bytes:
        """A sub-key for `purpose`, independent of every pseudonym namespace."""
        return self.digests(b"shuyu.derive\0", [purpose.encode("utf-8")])[0]


def letters(digest: bytes) -> str:
    return digest[: PSEUDONYM_CHARS // 2].hex().translate(_HEX_TO_LETTERS)


# every byte as its two letters, so that a digest becomes text in one numpy gather
_BYTE_LETTERS = np.array(
    [int.from_bytes(bytes([97 + (b >> 4), 97 + (b & 0x0F)]), "little") for b in range(256)],
    dtype="<u2",
)


def letters_column(digests: list[bytes]) -> pl.Series:
    """`letters` of many digests at once (numpy instead of a Python call per value)."""
    if not digests:
        return pl.Series([], dtype=pl.String)
    width = PSEUDONYM_CHARS // 2
    raw = np.frombuffer(b"".join(digests), dtype=np.uint8).reshape(len(digests), -1)[:, :width]
    text = np.ascontiguousarray(_BYTE_LETTERS[raw]).view(f"S{2 * width}").ravel()
    return pl.Series(text).cast(pl.String)


class Pseudonymiser:
    """Pseudonymises columns under one key.

    The HMAC key is the key file's 64-character hex text (HMAC takes keys of any length;
    the entropy is the same 256 bits), so that the vectorised HMAC of the `polars-hash`
    plugin, which takes its key as text, and the Python fallback give the same
    pseudonyms. With the plugin a pseudonym column is a polars expression computed in
    Rust on every core; without it, Python hashes each distinct value."""

    def __init__(self, key: bytes, *, engine: Literal["auto", "python"] = "auto") -> None:
        self._key_text = key.hex()
        self._hasher = KeyedHasher(self._key_text.encode("ascii"))
        self.vectorised = engine == "auto" and HAVE_POLARS_HASH

    def hex_expr(self, col: pl.Expr, namespace: str) -> pl.Expr:
        """`namespace:` and the first 24 hex digits of each value's HMAC (needs the
        polars-hash plugin); `from_hex` turns the digits into letters."""
        if not self.vectorised:
            raise RuntimeError("vectorised pseudonyms need the polars-hash plugin")
        message: Any = pl.concat_str(pl.lit(namespace + "\0"), col.cast(pl.String))
        digest: pl.Expr = message.chash.hmac_sha256(key=self._key_text)
        return pl.concat_str(pl.lit(namespace + _SEPARATOR), digest.str.slice(0, PSEUDONYM_CHARS))

    @staticmethod
    def from_hex(tagged: pl.Series, namespace: str) -> pl.Series:
        """Hex digits after the tag to letters: one numpy look-up over the Arrow buffer
        of fixed-width values, much faster than any per-character string replacement."""
        arrow = tagged.to_arrow(compat_level=pl.CompatLevel.oldest())
        if not pa.types.is_large_string(arrow.type):
            arrow = arrow.cast(pa.large_string())
        validity, offsets, data = arrow.buffers()
        width = len((namespace + _SEPARATOR).encode("utf-8")) + PSEUDONYM_CHARS
        ends = np.frombuffer(offsets, dtype=np.int64)[arrow.offset : arrow.offset + len(arrow) + 1]
        lengths = np.diff(ends)
        if len(ends) and (ends[0] % width or not np.all((lengths == 0) | (lengths == width))):
            # not the fixed-width layout this was built for: the plain, slow way
            tag = len(namespace + _SEPARATOR)
            return tagged.map_elements(
                lambda v: v[:tag] + v[tag:].translate(_HEX_TO_LETTERS), return_dtype=pl.String
            )
        if data is not None and data.size:
            # every byte through the table (bytes.translate: about twice as fast as a
            # numpy gather), then the tag put back: two flat passes
            chars = bytearray(memoryview(data)).translate(_HEX_TABLE)
            flat = np.frombuffer(chars, dtype=np.uint8)
            rows = flat[: flat.size - flat.size % width]
            tag_bytes = np.frombuffer((namespace + _SEPARATOR).encode("utf-8"), dtype=np.uint8)
            rows.reshape(-1, width)[:, : tag_bytes.size] = tag_bytes
            data = pa.py_buffer(chars)
        converted = pa.LargeStringArray.from_buffers(
            len(arrow), offsets, data, validity, arrow.null_count, arrow.offset
        )
        return pl.Series(tagged.name, converted, dtype=pl.String)

    def _hash(self, namespace: str, values: pl.Series) -> pl.Series:
        """Pseudonyms of the non-null `values`, in order (Python)."""
        prefix = namespace.encode("utf-8") + b"\0"
        digests = self._hasher.digests(prefix, values.cast(pl.Binary).to_list())
        return (namespace + _SEPARATOR) + letters_column(digests)

    def pseudonyms(self, namespace: str, values: list[str]) -> list[str]:
        return self.column(pl.Series("value", values, dtype=pl.String), namespace).to_list()

    def few(self, namespace: str, values: list[str]) -> list[str]:
        """`pseudonyms` of a handful of values without building a column: the product
        API's path per call (microseconds, where a polars column costs hundreds)."""
        digests = self._hasher.digests(
            namespace.encode("utf-8") + b"\0", (v.encode("utf-8") for v in values)
        )
        tag = namespace + _SEPARATOR
        return [tag + letters(d) for d in digests]

    def column(self, series: pl.Series, namespace: str) -> pl.Series:
        """`series` with every non-null value replaced by its pseudonym (nulls stay)."""
        name = series.name
        raw = series.cast(pl.String)
        if self.vectorised:
            hexes = raw.to_frame(name).select(self.hex_expr(pl.col(name), namespace).alias(name))
            return self.from_hex(hexes[name], namespace).alias(name)
        present = raw.drop_nulls()
        if present.n_unique() * 2 > present.len():
            # mostly distinct (an entity table): hashing every row beats finding uniques
            if present.len() == raw.len():
                return self._hash(namespace, raw).alias(name)
            out = pl.Series(name, [None] * raw.len(), dtype=pl.String)
            return out.scatter(raw.is_not_null().arg_true(), self._hash(namespace, present))
        # repeated identifiers (an event table): hash each distinct value once
        uniques = present.unique()
        mapping = pl.DataFrame({"value": uniques, "pseudonym": self._hash(namespace, uniques)})
        mapped = raw.to_frame("value").join(mapping, on="value", how="left", maintain_order="left")
        return mapped["pseudonym"].alias(name)
