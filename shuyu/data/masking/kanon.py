"""k-anonymity over each dataset's declared quasi-identifiers, by suppression.

Classes are the combinations of (masked) quasi-identifier values, a missing value being
a value of its own; a class's size is the number of distinct entities with a row in it.

Suppression comes in two steps, as in ARX or sdcMicro:

1. local (cell) suppression: the rows of classes smaller than k lose their most
   identifying quasi-identifier (the one with the most distinct values) — it becomes
   null — and the classes are formed again; then the next quasi-identifier, and so on.
   Most entities survive with a coarser description instead of disappearing;
2. entity suppression: entities still in a class smaller than k (only possible when
   even all-null is a small class) are dropped.

A dropped entity is dropped everywhere: its rows leave every table whose rows are about
that kind of entity (the table's first key), and links to it from tables about
something else (a vehicle's owning enterprise) are set to null; otherwise a view built
on another table would bring back the very entity that was hidden. Dropping rows can
shrink other classes below k, so the passes repeat until nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from shuyu.policy.models import Dataset, EntityKind


@dataclass
class KAnonymityResult:
    dataset: str
    k: int
    quasi_identifiers: list[str]  # in the order they are given up
    entity: str
    entities_in: int
    classes: int = 0  # after suppression
    achieved_k: int | None = None  # smallest class after suppression; None when empty
    suppressed_cells: dict[str, int] = field(default_factory=dict)  # per quasi-identifier
    suppressed_entities: int = 0  # dropped because of this dataset's own classes
    rows_removed: int = 0  # rows dropped here, whichever dataset's classes hid the entity


@dataclass
class Suppression:
    tables: dict[str, pl.DataFrame]
    results: dict[str, KAnonymityResult]
    suppressed: dict[EntityKind, set[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Check:
    kind: EntityKind
    key: str
    quasi_identifiers: list[str]
    k: int
    one_row_each: bool


def primary_key(dataset: Dataset) -> tuple[EntityKind, str] | None:
    """What a row of `dataset` is about: its first key (None for statistics)."""
    return next(iter(dataset.keys.items()), None)


_ENTITY = "_shuyu_entity"
_SMALL = "_shuyu_small"
_ROW = "_shuyu_row"
_SIZE = "_shuyu_size"


@dataclass
class _Pass:
    table: pl.DataFrame
    nulled: dict[str, int]  # quasi-identifier -> cells set to null in this pass
    small_entities: set[str]  # still in a small class with every quasi-identifier null
    classes: int
    smallest: int | None


def one_row_per_entity(keys: pl.Series) -> bool:
    """Whether every entity has one row: then a class's size is a count of rows."""
    return bool(keys.drop_nulls().n_unique() == keys.len() - keys.null_count())


def _work_frame(
    table: pl.DataFrame, key: str, quasi_identifiers: list[str], *, one_row_each: bool
) -> pl.DataFrame:
    """What the passes need of `table`: an integer per entity (null for rows without
    one; the row index when every entity has one row), the quasi-identifiers and the
    row index. Counting distinct integers per class is much cheaper than distinct
    pseudonyms, and the pseudonyms themselves stay out of every filter of the passes:
    the few that are needed at the end are found by their row."""
    number = (
        pl.when(pl.col(key).is_not_null()).then(pl.int_range(pl.len(), dtype=pl.UInt32))
        if one_row_each
        else pl.col(key).rank("dense")
    )
    return table.select(number.alias(_ENTITY), *quasi_identifiers).with_row_index(_ROW)


def _mark_small(
    work: pl.DataFrame, quasi_identifiers: list[str], k: int, *, one_row_each: bool
) -> pl.DataFrame:
    entities = pl.col(_ENTITY).count() if one_row_each else pl.col(_ENTITY).drop_nulls().n_unique()
    work = work.with_columns(entities.over(quasi_identifiers).alias(_SIZE))
    return work.with_columns(((pl.col(_SIZE) < k) & pl.col(_ENTITY).is_not_null()).alias(_SMALL))


def check_table(
    table: pl.DataFrame,
    key: str,
    quasi_identifiers: list[str],
    k: int,
    *,
    one_row_each: bool | None = None,
) -> _Pass:
    """One pass over one table: null quasi-identifiers, most identifying first, in the
    rows of small classes; report the entities that no nulling could hide.
    `one_row_each` is `one_row_per_entity(table[key])`, if already known.

    After a quasi-identifier has been given up, a row outside the small classes that
    still has a value there is settled: its class keeps that value, and every row that
    is nulled later has none, so nothing can join or leave the class. Only the other
    rows (usually few) go on to the next step."""
    nulled: dict[str, int] = {}
    if one_row_each is None:
        one_row_each = one_row_per_entity(table[key])
    # the other columns ride along only at the end: filtering them each step is costly
    active = _work_frame(table, key, quasi_identifiers, one_row_each=one_row_each)
    settled_parts: list[pl.DataFrame] = []
    nulled_rows: dict[str, pl.Series] = {}
    for qi in quasi_identifiers:
        active = _mark_small(active, quasi_identifiers, k, one_row_each=one_row_each)
        hit, any_small = active.select(
            (pl.col(_SMALL) & pl.col(qi).is_not_null()).sum().alias("hit"),
            pl.col(_SMALL).any().alias("any_small"),
        ).row(0)
        if not any_small:
            break
        if hit:
            nulled[qi] = int(hit)
            nulled_rows[qi] = active.filter(pl.col(_SMALL) & pl.col(qi).is_not_null())[_ROW]
            active = active.with_columns(
                pl.when(pl.col(_SMALL)).then(None).otherwise(pl.col(qi)).alias(qi)
            )
        settled = ~pl.col(_SMALL) & pl.col(qi).is_not_null()
        settled_parts.append(active.filter(settled))
        active = active.filter(~settled)
    active = _mark_small(active, quasi_identifiers, k, one_row_each=one_row_each)
    small = table[key].gather(active.filter(pl.col(_SMALL))[_ROW]).unique().to_list()
    # a settled row's size was taken when it settled, and its class has not changed since
    parts = [
        part.filter(pl.col(_ENTITY).is_not_null() & ~pl.col(_SMALL))
        for part in (*settled_parts, active)
    ]
    if one_row_each:  # every class of size s has s rows, each adding 1/s
        stats = pl.concat(
            [
                p.select((1.0 / pl.col(_SIZE)).sum().alias("c"), pl.col(_SIZE).min().alias("m"))
                for p in parts
            ]
        )
        classes, smallest = round(stats["c"].sum()), stats["m"].drop_nulls().to_list()
    else:
        kept = pl.concat(parts)
        sizes = kept.group_by(quasi_identifiers).agg(pl.col(_ENTITY).n_unique())[_ENTITY]
        classes, smallest = sizes.len(), sizes.to_list()
    masked = table
    for qi, rows in nulled_rows.items():
        hit_rows = np.zeros(table.height, dtype=bool)
        hit_rows[rows.to_numpy()] = True
        masked = masked.with_columns(
            pl.when(pl.Series(hit_rows)).then(None).otherwise(pl.col(qi)).alias(qi)
        )
    return _Pass(
        table=masked,
        nulled=nulled,
        small_entities=set(small),
        classes=int(classes or 0),
        smallest=min(smallest) if smallest else None,
    )


def _most_identifying_first(table: pl.DataFrame, quasi_identifiers: list[str]) -> list[str]:
    # only an order: the estimate (HyperLogLog, deterministic) is good enough and cheap
    distinct = table.select(pl.col(quasi_identifiers).approx_n_unique()).row(0, named=True)
    return sorted(quasi_identifiers, key=lambda qi: -distinct[qi])  # stable: ties keep order


def enforce(
    tables: dict[str, pl.DataFrame],
    datasets: dict[str, Dataset],
    *,
    k_default: int,
    k_overrides: dict[str, int],
) -> Suppression:
    """Suppress cells, then entities, until every dataset's classes hold k entities."""
    checks: dict[str, _Check] = {}
    results: dict[str, KAnonymityResult] = {}
    for dataset_id, table in tables.items():
        dataset = datasets[dataset_id]
        primary = primary_key(dataset)
        if primary is None or not dataset.quasi_identifiers:
            continue
        kind, key = primary
        qis = _most_identifying_first(table, dataset.quasi_identifiers)
        keys = table[key]
        entities = keys.drop_nulls().n_unique()
        # suppression only removes rows of the checked table: one row each stays so
        one_row_each = entities == keys.len() - keys.null_count()
        check = _Check(kind, key, qis, k_overrides.get(dataset_id, k_default), one_row_each)
        checks[dataset_id] = check
        results[dataset_id] = KAnonymityResult(
            dataset=dataset_id,
            k=check.k,
            quasi_identifiers=qis,
            entity=kind.value,
            entities_in=entities,
        )

    suppressed: dict[EntityKind, set[str]] = {c.kind: set() for c in checks.values()}
    current = dict(tables)
    while True:
        dropped_more = False
        for dataset_id, check in checks.items():
            step = check_table(
                current[dataset_id],
                check.key,
                check.quasi_identifiers,
                check.k,
                one_row_each=check.one_row_each,
            )
            current[dataset_id] = step.table
            result = results[dataset_id]
            for qi, n in step.nulled.items():
                result.suppressed_cells[qi] = result.suppressed_cells.get(qi, 0) + n
            # a round without drops leaves every table as its check saw it: final sizes
            result.classes, result.achieved_k = step.classes, step.smallest
            new = step.small_entities - suppressed[check.kind]
            if new:
                result.suppressed_entities += len(new)
                suppressed[check.kind] |= new
                dropped_more = True
        if not dropped_more:
            break
        current = {d: apply_suppression(t, datasets[d], suppressed) for d, t in current.items()}

    for dataset_id in checks:
        results[dataset_id].rows_removed = tables[dataset_id].height - current[dataset_id].height
    return Suppression(tables=current, results=results, suppressed=suppressed)


def apply_suppression(
    table: pl.DataFrame, dataset: Dataset, suppressed: dict[EntityKind, set[str]]
) -> pl.DataFrame:
    primary = primary_key(dataset)
    if primary is None:
        return table
    for kind, key in dataset.keys.items():
        hidden = suppressed.get(kind)
        if not hidden:
            continue
        hit = pl.col(key).is_in(pl.Series(sorted(hidden), dtype=pl.String).implode())
        if (kind, key) == primary:
            table = table.filter(~hit.fill_null(False))
        else:
            table = table.with_columns(pl.when(hit).then(None).otherwise(pl.col(key)).alias(key))
    return table
