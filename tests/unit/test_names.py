"""Synthetic names: realistic shapes, reproducible from the seed, distinct where a
register would not repeat them."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from shuyu.data.generate import names
from shuyu.data.regions import counties, county
from shuyu.errors import InputError


def test_person_names_follow_surname_frequencies_and_sex() -> None:
    rng = np.random.default_rng(0)
    people = names.person_names(rng, 20_000)
    assert all(2 <= len(p) <= 4 for p in people)
    top = Counter(p[0] for p in people).most_common(3)
    assert {s for s, _ in top} <= {"王", "李", "张", "刘"}
    men = names.person_names(rng, 2_000, ["M"] * 2_000)
    women = names.person_names(rng, 2_000, ["女"] * 2_000)
    assert not any(set(m[1:]) & set("芳娜敏静丽艳娟霞燕") for m in men)
    assert not any(set(w[1:]) & set("伟强磊军勇杰涛斌") for w in women)


def test_mongolian_names_appear_only_when_asked() -> None:
    rng = np.random.default_rng(1)
    assert not set(names.person_names(rng, 5_000)) & set(names._MONGOLIAN)
    mixed = names.person_names(rng, 5_000, mongolian_share=0.1)
    share = sum(p in names._MONGOLIAN for p in mixed) / 5_000
    assert 0.07 < share < 0.13


def test_names_are_reproducible_from_the_seed() -> None:
    def draw(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        return [
            *names.person_names(rng, 50),
            *names.enterprise_names(rng, 50, counties()),
            *names.addresses(rng, 50, counties()),
            *names.mine_names(rng, 50, counties("ordos")),
        ]

    assert draw(9) == draw(9)
    assert draw(9) != draw(10)


def test_enterprise_and_mine_names_are_distinct_and_placed() -> None:
    rng = np.random.default_rng(2)
    ordos = counties("ordos")
    firms = names.enterprise_names(rng, 20_000, ordos)
    assert len(set(firms)) == 20_000
    places = {c.name for c in ordos} | {"鄂尔多斯市", "内蒙古"}
    assert all(any(f.startswith(p) for p in places) for f in firms)
    assert all(f.endswith("公司") for f in firms)
    mines = names.mine_names(rng, 500, [county("150622")])
    assert len(set(mines)) == 500
    assert all(m.startswith("准格尔旗") and m.endswith("煤矿") for m in mines)


def test_empty_county_pool_is_an_error() -> None:
    rng = np.random.default_rng(3)
    with pytest.raises(InputError, match="counties"):
        names.addresses(rng, 1, [])
    with pytest.raises(InputError, match="sexes"):
        names.person_names(rng, 2, ["M"])
