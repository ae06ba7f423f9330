"""A partner's labels keyed by real credit codes, joined to its view on the host
(`joined_table`): on a view built by the real pipeline from generated enterprises. What
would reach the sandbox holds the view's pseudonymous ids and the partner's columns,
no real code anywhere (the PII scan finds nothing), and only training entities: the
holdout never joins. A table of too few training entities is not placed."""

from __future__ import annotations

import os

import polars as pl
import pytest

from shuyu.airlock.desk import ImportView
from shuyu.airlock.host import joined_table
from shuyu.airlock.states import ImportState
from shuyu.data.pii import scan_frame
from shuyu.data.pipeline import build_demo_views
from shuyu.policy import load_policies

POLICIES = load_policies()
KEY = os.urandom(32)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(raw enterprises, train, holdout) of a bank-credit view of 600 enterprises."""
    root = tmp_path_factory.mktemp("airlock-world")
    views = build_demo_views(root, POLICIES, key=KEY, scale=600, seed=3, scenario="bank_credit")
    raw = pl.read_parquet(root / "raw" / "enterprise_basic.parquet")
    return (
        raw,
        pl.read_parquet(views / "bank_credit" / "train.parquet"),
        pl.read_parquet(views / "bank_credit" / "holdout.parquet"),
    )


def _item(filename: str = "outcomes.csv") -> ImportView:
    return ImportView(
        id="I20261203-00000001", partner="suzhou_rcb", requester="sz-credit",
        scenario="bank_credit", filename=filename, kind="table", size=0, sha256="",
        purpose="贷款结果标签", state=ImportState.APPROVED, problems=(), reviewer="rv-provider",
        decided_at="", note="", placed_as="", created_at="",
    )  # fmt: skip


def _labels_csv(usccs: list[str]) -> bytes:
    table = pl.DataFrame({"uscc": usccs, "bank_default": [i % 2 for i in range(len(usccs))]})
    return table.write_csv().encode()


def test_labels_with_real_codes_become_the_view_joined_with_pseudonyms_only(
    world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    raw, train, holdout = world
    usccs = raw.get_column("uscc").to_list()
    joined, why = joined_table(_item(), _labels_csv(usccs), train, POLICIES, KEY)
    assert why == ""
    assert joined is not None
    assert joined.columns == [*train.columns, "own_bank_default"]
    # every training entity that has a label came in; no holdout entity did
    assert joined.height == train.height
    assert set(joined.get_column("entity_id")).isdisjoint(holdout.get_column("entity_id"))
    assert scan_frame(joined) == []
    text = joined.write_csv()
    assert not any(code in text for code in usccs[:200])


def test_a_table_of_too_few_training_entities_is_not_placed(
    world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    raw, train, _holdout = world
    few = raw.get_column("uscc").to_list()[:60]  # over min_rows uploaded, fewer in train
    joined, why = joined_table(_item(), _labels_csv(few), train, POLICIES, KEY)
    assert joined is None
    assert "keys are in the view's training split (at least 50" in why


def test_the_table_is_scanned_again_before_it_is_joined(
    world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    _raw, train, _holdout = world
    joined, why = joined_table(_item(), b"uscc,x\nnot-a-code,1\n", train, POLICIES, KEY)
    assert joined is None
    assert "not valid unified social credit codes" in why


def test_a_view_of_another_key_joins_nothing(
    world: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    """The join needs the masking key the view was built with: under another key the
    same codes name other entities."""
    raw, train, _holdout = world
    joined, why = joined_table(
        _item(), _labels_csv(raw.get_column("uscc").to_list()), train, POLICIES, os.urandom(32)
    )
    assert joined is None
    assert "only 0 of its" in why
