"""The production zone: for each product whose input is a raw dataset (the coal market
report), that dataset's declared fields masked for production, built on the host where
the masking key is (`make up`, or after a data load) and published read-only to the
volume only the production service reads (`shuyu.production.prepare`), never a
sandbox or a notebook's runner. The service cuts a run's report window out of it; the
notebook gets only that window and never the key or the raw table."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from shuyu.errors import InputError
from shuyu.fsutil import atomic_write_bytes
from shuyu.policy.models import Policies
from shuyu.production.inputs import dataset_input

INPUT_FILE = "input.parquet"


def build_production_inputs(data_dir: Path, policies: Policies, *, key: bytes) -> dict[str, Path]:
    """data_dir/production/<scenario>/input.parquet from data_dir/raw; {scenario: file}."""
    built: dict[str, Path] = {}
    for scenario, product in sorted(policies.outputs.products.items()):
        source = product.input
        if source.source != "dataset" or source.dataset is None:
            continue
        raw_file = Path(data_dir) / "raw" / f"{source.dataset}.parquet"
        if not raw_file.is_file():
            raise InputError(
                str(raw_file), "raw table missing", hint="build the demo data (`make up`) first"
            )
        frame = dataset_input(pl.read_parquet(raw_file), policies, source, key=key)
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        target = Path(data_dir) / "production" / scenario / INPUT_FILE
        atomic_write_bytes(target, buffer.getvalue())
        built[scenario] = target
    return built
