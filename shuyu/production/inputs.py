"""The input batch of a production run: the in-domain data its product declares
(`ProductInput` in policies/outputs.yaml), built by platform code that holds the masking
key and handed to the runner read-only. The notebook never sees more than this.

- `view`: rows of the scenario's view columns — the per-scenario entity id and the
  features — without the label (a production batch has no outcome yet).
- `dataset`: the declared fields of one raw dataset, masked by the catalogue's rules
  (identifiers pseudonymised with the same keyed pseudonyms as the masked zone, so that
  units are the zone's), except that times are kept to the day, which the reports need
  and the partner-facing zone generalises away; only the report window's rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import polars as pl

from shuyu.data.masking.pseudonym import Pseudonymiser
from shuyu.data.masking.rules import masked_expr
from shuyu.data.view_manifest import HOLDOUT_FILE, TRAIN_FILE, ViewManifest, read_manifest
from shuyu.errors import InputError
from shuyu.policy.base import FieldType
from shuyu.policy.masking_rules import Pseudonym
from shuyu.policy.models import Policies, ProductInput, Role

WINDOWS = {"daily": 30, "weekly": 26 * 7, "monthly": 730}
"""Days of history a report of each period shows, ending on the run date."""
_TEMPORAL = (FieldType.date, FieldType.datetime)


def report_window(period: str, run_date: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day a report of `period` covers on `run_date`."""
    if period not in WINDOWS:
        raise InputError("period", "must be daily, weekly or monthly", value=period)
    return run_date - dt.timedelta(days=WINDOWS[period] - 1), run_date


def view_batch(view_dir: Path) -> pl.DataFrame:
    """Entity id and features of every row of a view (train and holdout), no label."""
    splits = [Path(view_dir) / name for name in (TRAIN_FILE, HOLDOUT_FILE)]
    return view_rows(read_manifest(view_dir), splits)


def view_rows(manifest: ViewManifest, splits: Sequence[Path | IO[bytes]]) -> pl.DataFrame:
    """`view_batch` of a view's splits wherever they are (files, or bytes read from a
    volume): the manifest's entity and feature columns, never the label."""
    columns = [manifest.entity_column, *manifest.feature_names]
    return pl.concat([pl.read_parquet(split, columns=columns) for split in splits])


def dataset_input(
    raw: pl.DataFrame, policies: Policies, source: ProductInput, *, key: bytes
) -> pl.DataFrame:
    """The declared fields of `raw` (a raw table of `source.dataset`), masked for
    production: what the production zone holds for the product (built on the host,
    where the masking key is; runners only cut a window out of it)."""
    if source.dataset is None:
        raise InputError("input", "a view input has no dataset batch", hint="use view_batch")
    dataset = policies.dataset(source.dataset)
    pseudonymiser = Pseudonymiser(key)
    columns: list[pl.Series | pl.Expr] = []
    for field_id in source.fields:
        spec = dataset.field(field_id)
        if isinstance(spec.masking, Pseudonym):
            columns.append(pseudonymiser.column(raw[field_id], spec.masking.namespace))
        elif spec.type in _TEMPORAL:
            columns.append(pl.col(field_id).cast(pl.Datetime).dt.date().alias(field_id))
        elif spec.role is Role.direct_identifier or spec.masking.rule in {"drop", "partial"}:
            raise InputError(
                f"outputs.yaml: {source.dataset}.{field_id}",
                "an identifier that is not pseudonymised cannot be in a production batch",
            )
        else:
            reference = policies.masking.reference_date
            columns.append(masked_expr(spec, pl.col(field_id), reference=reference).alias(field_id))
    time_field(policies, source)  # refused here, on the host, rather than at a run
    return raw.with_columns(columns).select(source.fields)


def time_field(policies: Policies, source: ProductInput) -> str:
    """The field a dataset input's report window is cut by: its first date or time."""
    dataset = policies.dataset(source.dataset or "")
    for field_id in source.fields:
        if dataset.field(field_id).type in _TEMPORAL:
            return field_id
    raise InputError(
        f"outputs.yaml: input of {source.dataset}",
        "a dataset batch needs a time field to cut the report window by",
    )


def in_window(frame: pl.DataFrame, field: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    return frame.filter(pl.col(field).is_between(start, end))


def dataset_batch(
    raw: pl.DataFrame,
    policies: Policies,
    source: ProductInput,
    *,
    key: bytes,
    start: dt.date,
    end: dt.date,
) -> pl.DataFrame:
    """The masked input (`dataset_input`), only the rows whose time is in [start, end]."""
    masked = dataset_input(raw, policies, source, key=key)
    return in_window(masked, time_field(policies, source), start, end)
