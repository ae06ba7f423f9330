"""k-anonymity by suppression: small classes disappear, and so do their entities'
rows in every other table, until every class holds at least k entities."""

from __future__ import annotations

from typing import Any

import polars as pl

from shuyu.data.masking.kanon import enforce
from shuyu.policy.models import Dataset


def field(id_: str, role: str = "other", masking: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": id_,
        "name": id_,
        "name_en": id_,
        "type": "string",
        "sensitivity": 2,
        "role": role,
        "masking": masking or {"rule": "keep"},
    }


def pseudonym(id_: str, namespace: str) -> dict[str, Any]:
    return field(id_, "direct_identifier", {"rule": "pseudonym", "namespace": namespace})


def dataset(id_: str, grain: str, keys: dict[str, str], fields: list[dict[str, Any]]) -> Dataset:
    return Dataset.model_validate(
        {
            "id": id_,
            "name": id_,
            "name_en": id_,
            "provider": "市市场监管局",
            "plans": [{"plan": "suzhou", "ref": "test"}],
            "grain": grain,
            "keys": keys,
            "fields": fields,
        }
    )


BASIC = dataset(
    "basic",
    "entity",
    {"enterprise": "uscc"},
    [
        pseudonym("uscc", "enterprise"),
        field("county", "quasi_identifier"),
        field("industry", "quasi_identifier"),
        field("status"),
    ],
)
TAX = dataset(
    "tax", "event", {"enterprise": "uscc"}, [pseudonym("uscc", "enterprise"), field("vat")]
)
VEHICLES = dataset(
    "vehicles",
    "entity",
    {"vehicle": "vin", "enterprise": "owner"},
    [
        pseudonym("vin", "vehicle"),
        pseudonym("owner", "enterprise"),
        field("brand", "quasi_identifier"),
    ],
)
DATASETS = {d.id: d for d in (BASIC, TAX, VEHICLES)}


def basic(classes: dict[tuple[str, str], int]) -> pl.DataFrame:
    rows = [
        {
            "uscc": f"e{county}{industry}{i}",
            "county": county,
            "industry": industry,
            "status": "存续",
        }
        for (county, industry), n in classes.items()
        for i in range(n)
    ]
    return pl.DataFrame(rows)


def test_small_classes_first_lose_their_most_identifying_quasi_identifier() -> None:
    """Three lone enterprises in three counties: without their county they form a class
    of three, so k=3 holds and nobody is dropped."""
    table = basic({("A", "x"): 3, ("B", "x"): 1, ("C", "x"): 1, ("D", "x"): 1})
    result = enforce({"basic": table}, DATASETS, k_default=3, k_overrides={})
    kept = result.tables["basic"]
    assert kept.height == 6
    assert kept["county"].to_list() == ["A", "A", "A", None, None, None]
    assert kept["industry"].to_list() == ["x"] * 6
    report = result.results["basic"]
    assert report.quasi_identifiers == ["county", "industry"]  # 4 counties, 1 industry
    assert report.suppressed_cells == {"county": 3}
    assert (report.suppressed_entities, report.rows_removed) == (0, 0)
    assert (report.classes, report.achieved_k) == (2, 3)


def test_entities_still_in_a_small_class_without_any_quasi_identifier_are_dropped() -> None:
    table = basic({("A", "x"): 5, ("A", "y"): 3, ("B", "x"): 2})
    result = enforce({"basic": table}, DATASETS, k_default=3, k_overrides={})
    kept = result.tables["basic"]
    assert kept.height == 8
    assert set(kept["county"] + kept["industry"]) == {"Ax", "Ay"}
    report = result.results["basic"]
    assert (report.suppressed_entities, report.rows_removed) == (2, 2)
    assert (report.classes, report.achieved_k, report.entities_in) == (2, 3, 10)


def test_k_overrides_apply_per_dataset() -> None:
    table = basic({("A", "x"): 5, ("A", "y"): 3})
    result = enforce({"basic": table}, DATASETS, k_default=3, k_overrides={"basic": 4})
    assert result.results["basic"].achieved_k == 5
    assert result.results["basic"].suppressed_entities == 3


def test_a_suppressed_entity_disappears_from_every_table_about_it() -> None:
    table = basic({("A", "x"): 3, ("B", "y"): 1})
    hidden = "eBy0"
    tax = pl.DataFrame({"uscc": ["eAx0", hidden, hidden, "eAx1"], "vat": ["1", "2", "3", "4"]})
    vehicles = pl.DataFrame(
        {"vin": [f"v{i}" for i in range(6)], "owner": [hidden, "eAx0"] * 3, "brand": ["解放"] * 6}
    )
    result = enforce(
        {"basic": table, "tax": tax, "vehicles": vehicles}, DATASETS, k_default=3, k_overrides={}
    )
    assert hidden not in result.tables["tax"]["uscc"].to_list()
    assert result.tables["tax"].height == 2
    # the vehicles stay (they are about vehicles), their link to the hidden owner does not
    assert result.tables["vehicles"].height == 6
    assert result.tables["vehicles"]["owner"].to_list() == [None, "eAx0"] * 3
    assert result.results["basic"].rows_removed == 1
    assert result.suppressed["enterprise"] == {hidden}  # type: ignore[index]


REGISTRATION = dataset(
    "registration",
    "entity",
    {"enterprise": "uscc"},
    [pseudonym("uscc", "enterprise"), field("size", "quasi_identifier")],
)


def test_suppression_repeats_until_every_class_holds_k() -> None:
    """Hiding entities for one dataset's rare class can leave another dataset's class
    too small: the passes go on until nothing changes."""
    table = basic({("A", "x"): 4, ("A", "y"): 3})  # eAx0..eAx3, eAy0..eAy2
    registration = pl.DataFrame(
        {
            "uscc": ["eAx0", "eAx1", "eAx2", "eAx3", "eAy0", "eAy1", "eAy2"],
            "size": ["big", "big", "small", "small", "small", "small", "small"],
        }
    )
    result = enforce(
        {"basic": table, "registration": registration},
        {**DATASETS, "registration": REGISTRATION},
        k_default=3,
        k_overrides={},
    )
    # big (2 entities) goes first; that leaves (A, x) with 2 entities, so it goes too
    assert sorted(result.tables["basic"]["uscc"]) == ["eAy0", "eAy1", "eAy2"]
    assert sorted(result.tables["registration"]["uscc"]) == ["eAy0", "eAy1", "eAy2"]
    assert result.results["registration"].suppressed_entities == 2
    assert result.results["basic"].suppressed_entities == 2
    assert result.results["basic"].achieved_k == 3


def test_missing_values_form_their_own_class() -> None:
    table = basic({("A", "x"): 3}).vstack(
        pl.DataFrame(
            {"uscc": ["n1"], "county": [None], "industry": ["x"], "status": ["存续"]},
            schema={
                "uscc": pl.String,
                "county": pl.String,
                "industry": pl.String,
                "status": pl.String,
            },
        )
    )
    result = enforce({"basic": table}, DATASETS, k_default=2, k_overrides={})
    assert "n1" not in result.tables["basic"]["uscc"].to_list()


def test_everything_suppressed_reports_no_achieved_k() -> None:
    table = basic({("A", "x"): 1, ("B", "y"): 1})
    result = enforce({"basic": table}, DATASETS, k_default=5, k_overrides={})
    assert result.tables["basic"].height == 0
    assert result.results["basic"].achieved_k is None
