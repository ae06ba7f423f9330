"""PII scan of a one-million-row table: column expressions against a per-row Python loop.

Builds, in the same run, a frame of 1 000 000 rows with three columns as the masking
self-check sees them: a free-text note (one row in twenty carries a valid resident ID,
credit code, card, mobile or plate among ordinary text and digit runs), a mobile number
column and an 18-digit reference number column (random digits: look-alikes that must
not count). Then measures:

- scan:     `shuyu.data.pii.scan_frame` (regex runs + the vectorised validators);
- baseline: `scan_text` called on every cell of the same columns (scalar validators),
            on a 100 000-row slice, scaled to 1 000 000 rows;

and checks that both count the same identifiers on the slice.

Last line: `ratio=X.XX` = scan time / baseline time (lower is better).
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import polars as pl

from shuyu.data.generate import identifiers as ids
from shuyu.data.pii import scan_frame, scan_text
from shuyu.data.regions import COUNTIES

ROWS = 1_000_000
SLICE = 100_000


def build(rng: np.random.Generator) -> pl.DataFrame:
    k = ROWS // 20
    codes = [c.code for c in COUNTIES]
    planted = np.array(
        ids.make_resident_ids(rng, k // 5, codes, dt.date(1950, 1, 1), dt.date(2005, 1, 1))
        + ids.make_usccs(rng, k // 5, codes)
        + ids.make_bank_cards(rng, k // 5)
        + ids.make_mobiles(rng, k // 5)
        + ids.make_plates(rng, k // 5, "皖L"),
        dtype=object,
    )
    filler = np.array(
        ["运煤车辆进出记录，金额", "企业年报摘要，流水号", "住院结算，单据", "备注：无"],
        dtype=object,
    )
    notes = filler[rng.integers(0, len(filler), ROWS)] + rng.integers(0, 10**12, ROWS).astype(str)
    where = rng.choice(ROWS, size=planted.size, replace=False)
    notes[where] = notes[where] + "，号码" + planted
    halves = rng.integers(0, 10**9, size=(ROWS, 2))
    refs = [f"{a:09d}{b:09d}" for a, b in halves.tolist()]
    mobiles = ids.make_mobiles(rng, ROWS)
    return pl.DataFrame({"note": notes.astype(str), "mobile": mobiles, "ref": refs})


def loop_counts(df: pl.DataFrame) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for name in df.columns:
        for cell in df[name].to_list():
            for f in scan_text(cell):
                out[(name, f.kind.value)] = out.get((name, f.kind.value), 0) + f.count
    return out


def main() -> None:
    df = build(np.random.default_rng(2026))
    start = time.perf_counter()
    findings = scan_frame(df)
    scan = time.perf_counter() - start
    print(f"scan_frame on {ROWS} rows: {scan:.2f} s")
    for f in findings:
        print(f"  {f.column:8s} {f.kind.value:12s} {f.count:8d}  e.g. {f.example_masked}")

    part = df.head(SLICE)
    start = time.perf_counter()
    expected = loop_counts(part)
    loop = (time.perf_counter() - start) * ROWS / SLICE
    got = {(f.column or "", f.kind.value): f.count for f in scan_frame(part)}
    assert got == expected, (got, expected)
    print(f"per-row scan_text, scaled to {ROWS} rows: {loop:.2f} s (counts agree on {SLICE} rows)")
    print(f"ratio={scan / loop:.2f}")


if __name__ == "__main__":
    main()
