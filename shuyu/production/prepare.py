"""`python -m shuyu.production.prepare --scenario S`: a production run's input batch,
built in a runner by platform code from the scenario's view (train and holdout, mounted
read-only at /data/<scenario>), without the label; written to /output/batch.parquet.

It runs in its own runner, before the notebook's: the notebook's container gets only
this batch, never the view's labels or its holdout volume.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shuyu.production.inputs import view_batch
from shuyu.sandbox_env import OUTPUT, view_mount

BATCH = "batch.parquet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shuyu.production.prepare")
    parser.add_argument("--scenario", required=True)
    args = parser.parse_args(argv)
    batch = view_batch(Path(view_mount(args.scenario)))
    batch.write_parquet(Path(OUTPUT) / BATCH)
    print(f"batch: {batch.height} rows, {batch.width} columns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
