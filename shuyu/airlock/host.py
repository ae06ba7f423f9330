"""`shuyu airlock process` on the host: approved tables pseudonymised with the masking
key, joined to the partner's view and placed in its workspace (and approved code the
service could not place at approval, placed as it is).

The uploaded table is scanned again (what is joined is what was reviewed, read back from
the service's files), joined (`shuyu.airlock.join`), and what would reach the sandbox is
scanned for identifiers once more: the join fails the import, with the reason, rather
than place a table with a real identifier or with fewer entities than a modelling set.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import polars as pl

from shuyu import docker_engine
from shuyu.airlock.desk import AirlockDesk, ImportView, Placer, placed_name
from shuyu.airlock.join import join_to_view
from shuyu.airlock.scan import read_table, scan_upload
from shuyu.data.pii import scan_frame
from shuyu.data.view_manifest import TRAIN_FILE
from shuyu.errors import ShuyuError
from shuyu.policy.models import Policies
from shuyu.settings import PlatformSettings

VIEW_MAX_BYTES = 2 << 30


def joined_table(
    item: ImportView,
    data: bytes,
    train: pl.DataFrame,
    policies: Policies,
    key: bytes,
) -> tuple[pl.DataFrame | None, str]:
    """(the table to place, "") or (None, why not)."""
    airlock = policies.sandbox.airlock
    scan = scan_upload(item.filename, data, airlock)
    if scan.problems:
        return None, "; ".join(scan.problems)
    table = read_table(item.filename, data)
    joined = join_to_view(
        table,
        train,
        key_column=airlock.key_column,
        policies=policies,
        scenario_id=item.scenario,
        key=key,
    )
    if joined.height < airlock.min_rows:
        return None, (
            f"only {joined.height} of its {table.height} keys are in the view's training "
            f"split (at least {airlock.min_rows}; holdout entities are never joined)"
        )
    findings = scan_frame(joined)
    if findings:
        kinds = ", ".join(sorted({f.kind.value for f in findings}))
        return None, f"the joined table still holds identifiers ({kinds}): not placed"
    return joined, ""


def place_tables(
    desk: AirlockDesk,
    settings: PlatformSettings,
    *,
    policies: Policies,
    key: bytes,
    place: Placer,
    say: Callable[[str], None],
) -> list[ImportView]:
    done = []
    trains: dict[str, pl.DataFrame] = {}  # each scenario's view read once, not per table
    for item in desk.to_place():
        say(f"{item.id}: {item.filename} ({item.requester}, {item.scenario}) …")
        if item.kind != "table":
            where = placed_name(item.id, item.filename)
            place(item.requester, item.scenario, {where: desk.content(item.id)})
            done.append(desk.placed(item.id, where))
            continue
        if item.scenario not in trains:
            trains[item.scenario] = _training_split(settings, item.scenario)
        joined, why = joined_table(
            item, desk.content(item.id), trains[item.scenario], policies, key
        )
        if joined is None:
            result = desk.placed(item.id, "", failure=why)
        else:
            buffer = io.BytesIO()
            joined.write_parquet(buffer)
            where = placed_name(item.id, item.filename, joined=True)
            place(item.requester, item.scenario, {where: buffer.getvalue()})
            result = desk.placed(item.id, where)
        say(f"{item.id}: {result.state.value} {result.placed_as or result.note}")
        done.append(result)
    return done


def _training_split(settings: PlatformSettings, scenario: str) -> pl.DataFrame:
    volume = settings.view_volume(scenario)
    files = docker_engine.read_volume(
        volume,
        image=settings.notebook_image,
        labels={"org.shuyu.project": settings.project},
        max_bytes=VIEW_MAX_BYTES,
    )
    if TRAIN_FILE not in files:
        raise ShuyuError(f"{volume} holds no {TRAIN_FILE}")
    return pl.read_parquet(io.BytesIO(files[TRAIN_FILE]))
