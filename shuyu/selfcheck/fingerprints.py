"""Row fingerprints: built in the domain from the raw and masked tables, matched in the
check runner against the candidate rows of a submission.

A record of a table counts as reproduced when at least `min_fields` of its distinct
non-null values appear together in one row of an artifact. Values are compared without
their column, so renaming or reordering columns does not hide a row, and in their
normal form (`shuyu.selfcheck.normal_form`), so trivial reformatting does not either.

Only salted 64-bit hashes (BLAKE2b keyed with a random salt per build) are stored,
never values, and for each record only its `min_fields + 2` most distinctive values
(those fewest records contain), rarest first, with how many records contain each. A row
that holds `min_fields` values of a record's anchors holds at least one of its three
rarest (pigeonhole), so an index of those three finds every candidate without
enumerating combinations, and the candidate is confirmed on all its anchors. The price
of keeping ~50 bytes per record (about 60 MB for a million rows) instead of every
combination: a row that reproduces a record on values that avoid three of its six most
distinctive ones is not found. Records whose values are all common (whose `min_fields`
rarest values would be expected to co-occur in one row by chance, N·Π(fᵢ/N) ≥ 1, with
fᵢ the number of records holding value i) are not fingerprinted, and a match counts
only on a combination that distinctive: a line ``0 1 2 3`` reproduces no one.

The hashes protect the values from a reader of the fingerprint files about as well as
the salt next to them does, that is against nothing but a casual look: the
fingerprints stay in the domain, mounted read-only in check runners only.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from shuyu.fsutil import staged_directory
from shuyu.selfcheck.extracted import is_flat
from shuyu.selfcheck.normal_form import canonical_values

_PERSON = b"shuyu.fp.v1"
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijection of 64-bit words that spreads every bit."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    mixed: np.ndarray = z ^ (z >> np.uint64(31))
    return mixed


def value_hashes(values: pl.Series, salt: bytes) -> np.ndarray:
    """Salted 64-bit hashes of normal-form values, never 0 (an empty anchor slot).

    Each value's UTF-8 bytes are folded 8 bytes at a time through splitmix64 rounds
    seeded with a key derived from the salt and the length. It is computed in numpy over
    the Arrow buffers (millions of values a second), and it is ours, so a library upgrade
    can never change it and silently invalidate fingerprints built before."""
    arrow = values.cast(pl.String).to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arrow, pa.ChunkedArray):
        arrow = arrow.combine_chunks()
    if not pa.types.is_large_string(arrow.type):
        arrow = arrow.cast(pa.large_string())
    if len(arrow) == 0:
        return np.zeros(0, dtype=np.uint64)
    _validity, offset_buffer, data_buffer = arrow.buffers()
    offsets = np.frombuffer(offset_buffer, dtype=np.int64)[
        arrow.offset : arrow.offset + len(arrow) + 1
    ]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, np.uint8)
    )
    data = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    key = np.frombuffer(hashlib.blake2b(salt, digest_size=16, person=_PERSON).digest(), dtype="<u8")
    starts, lengths = offsets[:-1], np.diff(offsets)
    byte = np.arange(8)
    with np.errstate(over="ignore"):
        hashes = _mix(key[0] ^ (lengths.astype(np.uint64) * _GOLDEN))
        live, word = np.flatnonzero(lengths > 0), 0
        while live.size:
            chunk = data[starts[live, None] + 8 * word + byte]
            chunk[byte >= lengths[live, None] - 8 * word] = 0
            hashes[live] = _mix(hashes[live] ^ chunk.view("<u8").ravel())
            word += 1
            live = live[lengths[live] > 8 * word]
        hashes = _mix(hashes ^ key[1])
    hashes[hashes == 0] = 1
    return hashes


def normal_long(row: np.ndarray, value: Sequence[str] | pl.Series) -> pl.DataFrame:
    """(row, value) in normal form, missing values dropped, each pair once."""
    raw = pl.DataFrame(
        {"row": pl.Series(row, dtype=pl.UInt32), "raw": pl.Series(value, dtype=pl.String)}
    )
    distinct = raw.get_column("raw").unique().drop_nulls()
    mapping = pl.DataFrame({"raw": distinct, "value": canonical_values(distinct)})
    return raw.join(mapping, on="raw").select("row", "value").drop_nulls("value").unique()


FINGERPRINT_MANIFEST = "fingerprints.json"
SPARE_ANCHORS = 2
"""Anchors kept per record beyond `min_fields`: a copy must avoid this many + 1 of a
record's most distinctive values to go unseen."""
_RARITY_SCALE = 8.0  # rarity is stored as round(8·log2(records holding the value)), uint8


class TableFingerprints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stem: str
    rows: int
    fingerprinted: int  # records distinctive enough to be fingerprinted


class FingerprintManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    min_fields: int
    anchors: int
    salt: str
    tables: dict[str, TableFingerprints]


def value_codes(frame: pl.DataFrame) -> tuple[np.ndarray, pl.Series]:
    """Each flat cell of `frame` as the code of its normal form ([rows, columns], -1 for
    missing), and the normal forms by code."""
    names = [n for n, t in frame.schema.items() if is_flat(t)]
    raw = [frame.get_column(n).cast(pl.String, strict=False) for n in names]
    distinct = [r.unique().drop_nulls() for r in raw]
    normal = [canonical_values(d) for d in distinct]
    vocabulary = (
        pl.concat([n.drop_nulls() for n in normal]).unique()
        if normal
        else pl.Series([], dtype=pl.String)
    )
    coded = pl.DataFrame({"value": vocabulary, "code": pl.int_range(len(vocabulary), eager=True)})
    matrix = np.full((frame.height, len(names)), -1, dtype=np.int64)
    for j, (column, d, n) in enumerate(zip(raw, distinct, normal, strict=True)):
        lookup = pl.DataFrame({"raw": d, "value": n}).join(coded, on="value")
        codes = (
            pl.DataFrame({"raw": column})
            .join(lookup.select("raw", "code"), on="raw", how="left", maintain_order="left")
            .get_column("code")
        )
        matrix[:, j] = codes.fill_null(-1).to_numpy()
    return matrix, vocabulary


def table_anchors(
    frame: pl.DataFrame, min_fields: int, width: int, salt: bytes
) -> tuple[np.ndarray, np.ndarray]:
    """Each distinctive record's `width` rarest value hashes, rarest first (0 = none),
    and their rarity (8·log2 of the number of records holding each value)."""
    codes, vocabulary = value_codes(frame)
    n = frame.height
    if n == 0 or codes.shape[1] == 0:
        return np.zeros((0, width), np.uint64), np.zeros((0, width), np.uint8)
    codes.sort(axis=1)
    codes[:, 1:][codes[:, 1:] == codes[:, :-1]] = -1  # a value twice in a record counts once
    present = codes >= 0
    holding = np.bincount(codes[present], minlength=len(vocabulary))
    count = np.where(present, holding[np.maximum(codes, 0)], np.iinfo(np.int64).max)
    order = np.argsort(count, axis=1, kind="stable")[:, :width]
    codes = np.take_along_axis(codes, order, axis=1)
    count = np.take_along_axis(count, order, axis=1)
    if codes.shape[1] < width:  # fewer columns than anchors
        pad = width - codes.shape[1]
        codes = np.pad(codes, ((0, 0), (0, pad)), constant_values=-1)
        count = np.pad(count, ((0, 0), (0, pad)), constant_values=np.iinfo(np.int64).max)
    log_n = math.log2(n)
    known = codes[:, :min_fields] >= 0
    log_share = np.where(known, np.log2(np.maximum(count[:, :min_fields], 1)) - log_n, 0.0)
    keep = known.all(axis=1) & (log_share.sum(axis=1) + log_n < 0)
    codes, count = codes[keep], count[keep]
    used = np.unique(codes[codes >= 0])
    hashes = value_hashes(vocabulary.gather(used), salt)
    anchors = np.zeros(codes.shape, dtype=np.uint64)
    anchors[codes >= 0] = hashes[np.searchsorted(used, codes[codes >= 0])]
    rarity = np.full(codes.shape, 255, dtype=np.uint8)
    rarity[codes >= 0] = np.clip(
        np.round(np.log2(count[codes >= 0]) * _RARITY_SCALE), 0, 254
    ).astype(np.uint8)
    return anchors, rarity


def build_fingerprints(
    tables: Mapping[str, pl.DataFrame], out_dir: Path, min_fields: int
) -> FingerprintManifest:
    """Fingerprint the raw and masked tables (run in the domain when the data are
    built): salted hashes of each record's most distinctive values, never the values.
    `out_dir` is replaced whole, or left as it was on failure."""
    if min_fields < 2:
        raise ValueError("row fingerprints need at least 2 fields")
    salt = secrets.token_bytes(16)
    width = min_fields + SPARE_ANCHORS
    entries: dict[str, TableFingerprints] = {}
    with staged_directory(out_dir) as staging:
        for index, (name, frame) in enumerate(tables.items()):
            anchors, rarity = table_anchors(frame, min_fields, width, salt)
            stem = f"table{index:03d}"
            np.save(staging / f"{stem}.anchors.npy", anchors)
            np.save(staging / f"{stem}.rarity.npy", rarity)
            entries[name] = TableFingerprints(
                stem=stem, rows=frame.height, fingerprinted=len(anchors)
            )
        manifest = FingerprintManifest(
            min_fields=min_fields, anchors=width, salt=salt.hex(), tables=entries
        )
        (staging / FINGERPRINT_MANIFEST).write_text(
            manifest.model_dump_json(indent=2), encoding="utf-8"
        )
    return manifest


@dataclass(frozen=True)
class Reproduction:
    table: str
    record: int
    row: int  # global row id of the artifact rows


def load_manifest(directory: Path) -> FingerprintManifest | None:
    path = directory / FINGERPRINT_MANIFEST
    if not path.is_file():
        return None
    return FingerprintManifest.model_validate_json(path.read_text(encoding="utf-8"))


def reproductions(
    manifest: FingerprintManifest, directory: Path, rows: pl.DataFrame
) -> list[Reproduction]:
    """Records of the fingerprinted tables that rows (row, value — raw text) reproduce."""
    k = manifest.min_fields
    lead = manifest.anchors - k + 1
    long = normal_long(rows.get_column("row").to_numpy(), rows.get_column("value"))
    if long.is_empty():
        return []
    distinct = long.get_column("value").unique()
    hashed = pl.DataFrame(
        {
            "value": distinct,
            "h": pl.Series(value_hashes(distinct, bytes.fromhex(manifest.salt)), dtype=pl.UInt64),
        }
    )
    present = long.join(hashed, on="value").select("row", "h").unique()
    found: list[Reproduction] = []
    for name, table in manifest.tables.items():
        anchors = np.load(
            directory / f"{table.stem}.anchors.npy", mmap_mode="r", allow_pickle=False
        )
        rarity = np.load(directory / f"{table.stem}.rarity.npy", mmap_mode="r", allow_pickle=False)
        if anchors.shape[0] == 0:
            continue
        leads = np.asarray(anchors[:, :lead])
        record, _slot = np.nonzero(leads)
        index = pl.DataFrame(
            {
                "h": pl.Series(leads[record, _slot], dtype=pl.UInt64),
                "record": pl.Series(record, dtype=pl.UInt32),
            }
        )
        candidates = present.join(index, on="h").select("row", "record").unique()
        if candidates.is_empty():
            continue
        rec = candidates.get_column("record").to_numpy()
        width = anchors.shape[1]
        detail = pl.DataFrame(
            {
                "row": pl.Series(
                    np.repeat(candidates.get_column("row").to_numpy(), width), dtype=pl.UInt32
                ),
                "record": pl.Series(np.repeat(rec, width), dtype=pl.UInt32),
                "h": pl.Series(np.asarray(anchors[rec]).ravel(), dtype=pl.UInt64),
                "rarity": pl.Series(
                    np.asarray(rarity[rec]).ravel().astype(np.float64) / _RARITY_SCALE
                ),
            }
        ).filter(pl.col("h") != 0)
        log_n = math.log2(max(table.rows, 1))
        matched = (
            detail.join(present, on=["row", "h"], how="semi")
            .group_by("row", "record")
            .agg(
                pl.len().alias("count"),
                (pl.col("rarity").sort().head(k) - log_n).sum().alias("log_share"),
            )
            .filter((pl.col("count") >= k) & (pl.col("log_share") + log_n < 0))
            .sort("row", "record")
        )
        found.extend(
            Reproduction(name, int(r), int(row))
            for row, r in matched.select("row", "record").iter_rows()
        )
    return found
