"""A partner's table joined to its view on the host, where the masking key is.

The table's real identifiers go through the same two steps the view's entities did:
the masking pseudonym of the scenario's entity key (the catalogue's namespace), then
the scenario's entity id (`shuyu.data.views.entity_ids`). Joined to the view's training
split on that id — holdout entities never join, so nothing of the holdout reaches the
sandbox — the real identifiers are gone; the partner's own columns come in prefixed
`own_` so they cannot be taken for the view's.
"""

from __future__ import annotations

import polars as pl

from shuyu.data.masking.pseudonym import Pseudonymiser
from shuyu.data.views import ENTITY_COLUMN, entity_ids, scenario_hasher
from shuyu.errors import InputError
from shuyu.policy.masking_rules import Pseudonym
from shuyu.policy.models import Policies

OWN_PREFIX = "own_"


def entity_namespace(policies: Policies, scenario_id: str) -> str:
    scenario = policies.scenario(scenario_id)
    spine = policies.dataset(scenario.spine)
    masking = spine.field(spine.keys[scenario.entity]).masking
    if not isinstance(masking, Pseudonym):
        raise InputError(f"scenario {scenario_id}", "its entity key is not pseudonymised: "
                         "a partner's table cannot be joined to it")  # fmt: skip
    return masking.namespace


def join_to_view(
    table: pl.DataFrame,
    train: pl.DataFrame,
    *,
    key_column: str,
    policies: Policies,
    scenario_id: str,
    key: bytes,
) -> pl.DataFrame:
    """`train` with the partner's columns of `table` (keyed by real `key_column`
    values) for the entities in both; no real identifier left."""
    scenario = policies.scenario(scenario_id)
    masked = Pseudonymiser(key).column(
        table.get_column(key_column).cast(pl.String), entity_namespace(policies, scenario_id)
    )
    ids = entity_ids(
        scenario_hasher(key, scenario_id), masked.to_list(), scenario.holdout_fraction
    ).get_column(ENTITY_COLUMN)
    own = table.drop(key_column).rename(
        {c: f"{OWN_PREFIX}{c}" for c in table.columns if c != key_column}
    )
    own = own.with_columns(ids.alias(ENTITY_COLUMN))
    return train.join(own, on=ENTITY_COLUMN, how="inner", maintain_order="left")
