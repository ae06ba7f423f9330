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
import io
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from shuyu.data.view_manifest import HOLDOUT_FILE, MANIFEST_FILE, TRAIN_FILE, parse_manifest
from shuyu.errors import InputError
from shuyu.production.inputs import in_window, view_rows
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
    """The batch from a volume's files, in memory (`source` names the volume in errors)."""

    def part(name: str) -> io.BytesIO:
        if name not in files:
            raise InputError(
                f"{source}: {name}",
                "missing from the volume",
                hint="publish the scenario's view or its production input again",
            )
        return io.BytesIO(files[name])

    if MANIFEST_FILE in files:
        manifest = parse_manifest(files[MANIFEST_FILE], where=f"{source}: {MANIFEST_FILE}")
        return view_rows(manifest, [part(TRAIN_FILE), part(HOLDOUT_FILE)])
    if INPUT_FILE not in files:
        raise InputError(
            source,
            f"holds neither a view ({MANIFEST_FILE}) nor a production input ({INPUT_FILE})",
            hint="publish the scenario's view or its production input again",
        )
    batch = pl.read_parquet(part(INPUT_FILE))
    if window is not None:
        batch = in_window(batch, window.field, window.start, window.end)
    return batch
