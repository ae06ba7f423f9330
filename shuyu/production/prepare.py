"""`python -m shuyu.production.prepare --scenario S [--window FIELD START END]`: a
production run's input batch, built in a runner by platform code and written to
/output/batch.parquet.

Mounted read-only at /data/<scenario> is either the scenario's view (train and holdout:
the batch is every row's entity and features, never the label) or, for a report
product, its production-zone input (already masked on the host), of which the batch is
the report window. It runs in its own runner, before the notebook's: the notebook's
container gets only this batch, never the view's labels, the holdout volume or more
days than its window.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import polars as pl

from shuyu.data.view_manifest import MANIFEST_FILE
from shuyu.production.inputs import in_window, view_batch
from shuyu.production.zone import INPUT_FILE
from shuyu.sandbox_env import OUTPUT, view_mount

BATCH = "batch.parquet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shuyu.production.prepare")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--window", nargs=3, metavar=("FIELD", "START", "END"))
    args = parser.parse_args(argv)
    source = Path(view_mount(args.scenario))
    if (source / MANIFEST_FILE).is_file():
        batch = view_batch(source)
    else:
        batch = pl.read_parquet(source / INPUT_FILE)
        if args.window:
            field, start, end = args.window
            batch = in_window(
                batch, field, dt.date.fromisoformat(start), dt.date.fromisoformat(end)
            )
    batch.write_parquet(Path(OUTPUT) / BATCH)
    print(f"batch: {batch.height} rows, {batch.width} columns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
