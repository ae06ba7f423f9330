"""Synthetic raw data at platform scale: `generate_raw` against plain Parquet I/O.

Measures, in the same run:

- generate: `shuyu.data.generate.generate_raw` at `--scale` (default 150 000 enterprises,
            ≈ 9 million rows over the 32 catalogue datasets), time and the process's
            peak RSS afterwards;
- baseline: reading every table it wrote and writing it again with the same Parquet
            settings (the floor any generator that writes these tables pays).

Last line: `ratio=X.XX` = generate time / baseline time (lower is better).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from shuyu.data.generate import generate_raw
from shuyu.data.generate.output import write_table
from shuyu.policy import load_policies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    policies = load_policies()
    work = Path(tempfile.mkdtemp(prefix="shuyu-bench-generate-"))
    try:
        out = work / "raw"
        start = time.perf_counter()
        generation = generate_raw(out, policies, scale=args.scale, seed=args.seed)
        generate_s = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows = sum(generation.rows.values())
        size_mib = sum(p.stat().st_size for p in out.iterdir()) / 2**20

        copy = work / "copy"
        copy.mkdir()
        start = time.perf_counter()
        for path in sorted(out.glob("*.parquet")):
            write_table(str(copy / path.name), pq.read_table(path))
        baseline_s = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"scale={args.scale} datasets={len(generation.rows)} rows={rows} size={size_mib:.0f}MiB")
    rate = rows / generate_s
    print(f"generate={generate_s:.1f}s ({rate:,.0f} rows/s) peak_rss={peak_mib:.0f}MiB")
    print(f"baseline_read_write={baseline_s:.1f}s")
    print(f"ratio={generate_s / baseline_s:.2f}")


if __name__ == "__main__":
    main()
