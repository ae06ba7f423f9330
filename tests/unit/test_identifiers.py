"""Identifier check characters, validators (value by value and column by column) and
the generators of valid identifiers for the synthetic data."""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shuyu.data import identifiers as ids
from shuyu.data.generate import identifiers as gen
from shuyu.data.regions import counties
from shuyu.errors import InputError

# Reference formulas written from the standards, independent of the module's tables.
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def ref_id_check(first17: str) -> str:
    c = (12 - sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11) % 11
    return "X" if c == 10 else str(c)


def ref_uscc_check(first17: str) -> str:
    s = sum(USCC_CHARS.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - s % 31) % 31]


def ref_luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d // 10 + d % 10
    return total % 10 == 0


def vectorised(expr: Callable[[pl.Expr], pl.Expr], values: Sequence[str | None]) -> list[bool]:
    return (
        pl.DataFrame({"v": values}, schema={"v": pl.String})
        .select(expr(pl.col("v")))["v"]
        .to_list()
    )


def mutate_last(value: str, charset: str) -> list[str]:
    return [value[:-1] + c for c in charset if c != value[-1]]


# ---------------------------------------------------------------- resident ID


def test_resident_id_check_worked_example() -> None:
    # 安徽省宿州市埇桥区, born 1990-01-01, sequence 123 (odd: a man).
    body = "34130219900101123"
    weighted = sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True))
    # 21+36+10+15+0+8+2+9+54+0+0+9+0+5+8+8+6
    assert weighted == 191
    assert ids.resident_id_check(body) == "8"  # 191 % 11 = 4, and 4 maps to 8 (12 - 4)
    assert ids.is_resident_id(body + "8")
    assert ids.resident_id_sex(body + "8") == "M"
    assert ids.resident_id_birth_date(body + "8") == dt.date(1990, 1, 1)


def test_check_x_and_lower_case_x() -> None:
    # 伊金霍洛旗, born 1985-06-11: the first sequence number whose check is X.
    body = next(b for n in range(1000) if ref_id_check(b := f"15062719850611{n:03d}") == "X")
    assert ids.resident_id_check(body) == "X"
    assert ids.is_resident_id(body + "X")
    assert ids.is_resident_id(body + "x")


@pytest.mark.parametrize(
    "value",
    [
        "341302199013011231",  # month 13
        "341302199002301234",  # 30 February
        "341302189901011234",  # born 1899
        "001302199001011231",  # province 00
        "991302199001011231",  # province 99
        "34130219900101123",  # 17 characters
        "3413021990010112311",  # 19 characters
        "34130219900101123A",  # A is no check character
    ],
)
def test_implausible_resident_ids_are_rejected(value: str) -> None:
    # Give the digit cases their right check digit: only the named flaw may reject them.
    fixed = value[:17] + ref_id_check(value[:17]) if len(value) == 18 and value.isdigit() else value
    assert not ids.is_resident_id(fixed)
    assert vectorised(ids.valid_resident_id_expr, [fixed]) == [False]


def test_leap_day_is_a_birth_date_only_in_leap_years() -> None:
    leap = "34130220000229001"
    plain = "34130219000229001"  # 1900 is not a leap year
    assert ids.is_resident_id(leap + ref_id_check(leap))
    assert not ids.is_resident_id(plain + ref_id_check(plain))
    assert vectorised(
        ids.valid_resident_id_expr, [leap + ref_id_check(leap), plain + ref_id_check(plain)]
    ) == [True, False]


def test_generated_resident_ids_are_valid_distinct_and_follow_the_request() -> None:
    rng = np.random.default_rng(7)
    codes = [c.code for c in counties("ordos")]
    sexes = ["M", "F", "男", "女"] * 500
    values = gen.make_resident_ids(
        rng, 2000, codes, dt.date(1960, 1, 1), dt.date(1999, 12, 31), sexes
    )
    assert len(set(values)) == 2000
    assert all(ids.is_resident_id(v) and ref_id_check(v[:17]) == v[17] for v in values)
    assert all(v[:6] in codes for v in values)
    assert all(
        dt.date(1960, 1, 1) <= ids.resident_id_birth_date(v) <= dt.date(1999, 12, 31)
        for v in values
    )
    assert [ids.resident_id_sex(v) for v in values] == ["M", "F", "M", "F"] * 500
    assert all(vectorised(ids.valid_resident_id_expr, values))
    for v in values[:50]:
        assert not any(ids.is_resident_id(m) for m in mutate_last(v, string.digits + "X"))


def test_generators_are_deterministic_for_the_seed() -> None:
    def draw(seed: int) -> list[str]:
        rng = np.random.default_rng(seed)
        return [
            *gen.make_resident_ids(rng, 20, ["341302"], dt.date(1980, 1, 1), dt.date(1980, 1, 31)),
            *gen.make_usccs(rng, 20, ["341302"]),
            *gen.make_mobiles(rng, 20),
            *gen.make_bank_cards(rng, 20),
            *gen.make_plates(rng, 20, "皖L"),
            *gen.make_vins(rng, 20),
        ]

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


def test_a_too_small_id_space_is_an_error_not_a_hang() -> None:
    rng = np.random.default_rng(0)
    # One county and one day leave 500 IDs per sex.
    with pytest.raises(InputError, match="resident IDs"):
        gen.make_resident_ids(
            rng, 600, ["341302"], dt.date(1990, 1, 1), dt.date(1990, 1, 1), ["M"] * 600
        )


def test_generator_inputs_are_checked() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(InputError, match="county codes"):
        gen.make_resident_ids(rng, 1, ["34130"], dt.date(1990, 1, 1), dt.date(1990, 1, 1))
    with pytest.raises(InputError, match="sexes"):
        gen.make_resident_ids(rng, 2, ["341302"], dt.date(1990, 1, 1), dt.date(1991, 1, 1), ["M"])
    with pytest.raises(InputError, match="plate prefix"):
        gen.make_plates(rng, 1, "皖I")
    with pytest.raises(InputError, match="USCC kind"):
        gen.make_usccs(rng, 1, ["341302"], kind="94")


# ---------------------------------------------------------------- USCC


def test_uscc_check_worked_example() -> None:
    # 企业 (9, 1) registered in 宿州市埇桥区 with organisation code MA2N0E0A + check.
    body = "91341302MA2N0E0A" + ids.org_code_check("MA2N0E0A")
    assert ids.uscc_check(body) == ref_uscc_check(body)
    assert ids.is_uscc(body + ref_uscc_check(body))
    assert vectorised(ids.valid_uscc_expr, [body + ref_uscc_check(body)]) == [True]


@pytest.mark.parametrize(
    ("first17", "why"),
    [
        ("94341302MA2N0E0A1", "工商 issues no type 4"),
        ("Z1341302MA2N0E0A1", "no department Z"),
        ("91001302MA2N0E0A1", "region 00xxxx"),
        ("91341302MA2N0E0A", "17 characters"),
    ],
)
def test_implausible_usccs_are_rejected(first17: str, why: str) -> None:
    value = (
        first17 + ref_uscc_check(first17)
        if all(c in USCC_CHARS for c in first17) and len(first17) == 17
        else first17
    )
    assert not ids.is_uscc(value), why
    assert vectorised(ids.valid_uscc_expr, [value]) == [False]


def test_central_registrations_use_region_100000() -> None:
    body = "11100000MB0143770"
    assert ids.is_uscc(body + ref_uscc_check(body))


def test_generated_usccs() -> None:
    rng = np.random.default_rng(1)
    values = gen.make_usccs(rng, 3000, ["341302", "150622"])
    assert len(set(values)) == 3000
    assert all(ids.is_uscc(v) and ref_uscc_check(v[:17]) == v[17] for v in values)
    assert {v[2:8] for v in values} == {"341302", "150622"}
    assert all(v[:2] == "91" for v in values)
    assert all(ids.org_code_check(v[8:16]) == v[16] for v in values)
    assert all(vectorised(ids.valid_uscc_expr, values))
    for v in values[:50]:
        assert not any(ids.is_uscc(m) for m in mutate_last(v, USCC_CHARS))


# ---------------------------------------------------------------- Luhn, cards, mobiles


def test_luhn_worked_example() -> None:
    # 6228480000000000000 (农行 BIN, zeros): reversed payload doubles 0 and 8 → 8+4+2+8+6+2 ...
    payload = "622848000000000000"
    digit = ids.luhn_check(payload)
    assert ref_luhn_ok(payload + digit)
    assert ids.is_bank_card(payload + digit)
    assert not ids.is_bank_card(payload + str((int(digit) + 1) % 10))


def test_bank_cards_need_a_known_issuer_prefix_and_length() -> None:
    for body in ("112848000000000000", "62284800000"):
        assert not ids.is_bank_card(body + ids.luhn_check(body))


def test_generated_cards_and_mobiles() -> None:
    rng = np.random.default_rng(2)
    cards = gen.make_bank_cards(rng, 2000)
    mobiles = gen.make_mobiles(rng, 2000)
    assert len(set(cards)) == len(set(mobiles)) == 2000
    assert all(ids.is_bank_card(c) and ref_luhn_ok(c) for c in cards)
    assert all(vectorised(ids.valid_bank_card_expr, cards))
    assert all(vectorised(ids.valid_luhn_expr, cards))
    assert all(ids.is_mobile(m) for m in mobiles)
    assert all(vectorised(ids.valid_mobile_expr, mobiles))
    for c in cards[:50]:
        assert not any(ids.is_bank_card(m) for m in mutate_last(c, string.digits))


@pytest.mark.parametrize(
    ("value", "ok"),
    [("13812345678", True), ("19912345678", True), ("14512345678", True), ("12812345678", False),
     ("15412345678", False), ("1381234567", False), ("138123456789", False)],
)  # fmt: skip
def test_mobiles(value: str, ok: bool) -> None:
    assert ids.is_mobile(value) is ok
    assert vectorised(ids.valid_mobile_expr, [value]) == [ok]


# ---------------------------------------------------------------- plates, VINs, e-mail


@pytest.mark.parametrize(
    ("value", "ok"),
    [("皖L12345", True), ("蒙KA1234", True), ("蒙K·A1234", True), ("皖LD12345", True),
     ("皖L12345D", True), ("皖L1234学", True), ("皖I12345", False), ("皖L1234", False),
     ("皖L123456", False), ("皖LD1234X", False), ("X L12345", False), ("台A12345", False)],
)  # fmt: skip
def test_plates(value: str, ok: bool) -> None:
    assert ids.is_plate(value) is ok
    assert vectorised(ids.valid_plate_expr, [value]) == [ok]


def test_vin_check_worked_example() -> None:
    # All ones: sum of weights 8+7+6+5+4+3+2+10+0+9+8+7+6+5+4+3+2 = 89, 89 % 11 = 1.
    assert ids.vin_check("11111111111111111") == "1"
    # Letters transliterate: L=3, F=6, V=5 …; X stands for 10.
    vin = "LFV2A21K" + "0" + "H3012345"
    check = ids.vin_check(vin)
    assert ids.is_vin(vin[:8] + check + vin[9:])
    assert not ids.is_vin("11111111111111111")  # digits only: not a real VIN
    assert not ids.is_vin("LFV2A21KOH3012345")  # O is not allowed


def test_generated_plates_and_vins() -> None:
    rng = np.random.default_rng(3)
    plates = gen.make_plates(rng, 3000, "蒙K")
    vins = gen.make_vins(rng, 3000)
    assert len(set(plates)) == len(set(vins)) == 3000
    assert all(p.startswith("蒙K") and ids.is_plate(p) for p in plates)
    assert any(len(p) == 8 for p in plates)  # some 新能源 plates
    assert all(ids.is_vin(v) for v in vins)
    assert all(vectorised(ids.valid_plate_expr, plates))
    assert all(vectorised(ids.valid_vin_expr, vins))
    for v in vins[:50]:
        wrong = [v[:8] + c + v[9:] for c in "0123456789X" if c != v[8]]
        assert not any(ids.is_vin(w) for w in wrong)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("zhang.san@example.com", True), ("a@b.cn", True), ("li_si+tag@mail.sz.gov.cn", True),
     ("a..b@example.com", False), ("@example.com", False), ("a@example", False), ("a@-x.com", False)],
)  # fmt: skip
def test_emails(value: str, ok: bool) -> None:
    assert ids.is_email(value) is ok
    assert vectorised(ids.valid_email_expr, [value]) == [ok]


# ---------------------------------------------------------------- scalar == vectorised


def test_nulls_are_not_identifiers() -> None:
    for expr in (
        ids.valid_resident_id_expr,
        ids.valid_uscc_expr,
        ids.valid_luhn_expr,
        ids.valid_vin_expr,
    ):
        assert vectorised(expr, [None, ""]) == [False, False]


digits18 = st.text(alphabet="0123456789", min_size=18, max_size=18)
id_like = st.builds(
    lambda prov, rest, check: prov + rest + check,
    st.sampled_from(["11", "15", "34", "65", "82", "00", "99"]),
    st.text(alphabet="0123456789", min_size=4, max_size=4)
    .map(lambda s: s)
    .flatmap(
        lambda s: st.dates(dt.date(1890, 1, 1), dt.date(2110, 1, 1)).map(
            lambda d: s + f"{d:%Y%m%d}"
        )
    )
    .flatmap(lambda s: st.text(alphabet="0123456789", min_size=3, max_size=3).map(lambda t: s + t)),
    st.sampled_from(list("0123456789Xx")),
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(digits18, id_like, st.text(min_size=0, max_size=20)), min_size=1, max_size=30
    )
)
def test_resident_id_validators_agree(values: list[str]) -> None:
    assert vectorised(ids.valid_resident_id_expr, values) == [ids.is_resident_id(v) for v in values]


uscc_like = st.builds(
    lambda head, region, tail: head + region + tail,
    st.sampled_from(["91", "92", "93", "11", "51", "Y1", "94", "Z1"]),
    st.sampled_from(["341302", "150622", "100000", "001302"]),
    st.text(alphabet=USCC_CHARS, min_size=10, max_size=10),
)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(uscc_like, st.text(alphabet=USCC_CHARS + "IOZ", min_size=17, max_size=19)),
        min_size=1,
        max_size=30,
    )
)
def test_uscc_validators_agree(values: list[str]) -> None:
    assert vectorised(ids.valid_uscc_expr, values) == [ids.is_uscc(v) for v in values]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789", min_size=0, max_size=19),
            st.sampled_from(["62", "4", "5"]).flatmap(
                lambda p: st.text(alphabet="0123456789", min_size=14, max_size=17).map(
                    lambda s: p + s
                )
            ),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_luhn_and_card_validators_agree(values: list[str]) -> None:
    assert vectorised(ids.valid_luhn_expr, values) == [ids.is_luhn(v) for v in values]
    assert vectorised(ids.valid_bank_card_expr, values) == [ids.is_bank_card(v) for v in values]
    assert [ids.is_luhn(v) for v in values] == [len(v) >= 2 and ref_luhn_ok(v) for v in values]


vin_like = st.text(alphabet="0123456789ABCDEFGHJKLMNPRSTUVWXYZIOQ", min_size=16, max_size=18)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(vin_like, st.text(min_size=0, max_size=10)), min_size=1, max_size=30))
def test_vin_plate_mobile_email_validators_agree(values: list[str]) -> None:
    assert vectorised(ids.valid_vin_expr, values) == [ids.is_vin(v) for v in values]
    assert vectorised(ids.valid_plate_expr, values) == [ids.is_plate(v) for v in values]
    assert vectorised(ids.valid_mobile_expr, values) == [ids.is_mobile(v) for v in values]
    assert vectorised(ids.valid_email_expr, values) == [ids.is_email(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_character_fits(body: str) -> None:
    fits = [c for c in "0123456789X" if ids.is_resident_id(body + c)]
    assert fits in ([], [ref_id_check(body)])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(
            id_like, uscc_like, digits18, st.text(alphabet="0123456789", min_size=16, max_size=19)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_scan_shapes_never_reject_a_valid_value(values: list[str]) -> None:
    """The PII scan drops runs that miss these shapes before validating: they must be
    necessary conditions, or a valid identifier would slip through."""
    rng = np.random.default_rng(len(values))
    values = values + gen.make_resident_ids(
        rng, 5, ["341302"], dt.date(1900, 1, 1), dt.date(2099, 12, 31)
    )
    values = values + gen.make_usccs(rng, 5, ["150622"]) + gen.make_bank_cards(rng, 5)
    for v in values:
        if ids.is_resident_id(v):
            assert re.search(ids.RESIDENT_ID_SHAPE, v)
        if ids.is_uscc(v):
            assert re.search(ids.USCC_SHAPE, v)
        if ids.is_bank_card(v):
            assert re.search(ids.BANK_CARD_SHAPE, v)
