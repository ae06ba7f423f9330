"""A production run's input batch, built by platform code in the service from the
files of the volume its product reads (`Executor.read_volume`).

That volume holds either the scenario's view (train and holdout: the batch is every
row's entity and features, never the label) or, for a report product, its
production-zone input (already masked on the host), of which the batch is the report
window. The notebook's runner then gets only this batch, never the view's labels, the
holdout volume or more days than its window.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from shuyu.data.view_manifest import MANIFEST_FILE
from shuyu.errors import InputError
from shuyu.fsutil import atomic_write_bytes
from shuyu.production.inputs import in_window, view_batch
from shuyu.production.zone import INPUT_FILE

BATCH = "batch.parquet"


@dataclass(frozen=True)
class Window:
    """The report window a dataset input is cut to: rows whose `field` is in it."""

    field: str
    start: dt.date
    end: dt.date


def build_batch(
    files: Mapping[str, bytes], *, source: str, window: Window | None = None
) -> pl.DataFrame:
    """The batch from a volume's files (`source` names the volume in errors)."""
    with tempfile.TemporaryDirectory(prefix="shuyu-batch.") as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            atomic_write_bytes(folder / name, data)
        if (folder / MANIFEST_FILE).is_file():
            return view_batch(folder)
        if not (folder / INPUT_FILE).is_file():
            raise InputError(
                source,
                f"holds neither a view ({MANIFEST_FILE}) nor a production input ({INPUT_FILE})",
                hint="publish the scenario's view or its production input again",
            )
        batch = pl.read_parquet(folder / INPUT_FILE)
    if window is not None:
        batch = in_window(batch, window.field, window.start, window.end)
    return batch
