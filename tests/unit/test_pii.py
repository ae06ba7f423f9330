"""PII scans: valid identifiers are found in text and in columns, with masked examples
only; look-alikes with a wrong check character, pieces of longer numbers and the digits
after a decimal point are not."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shuyu.data import identifiers as ids
from shuyu.data.generate import identifiers as gen
from shuyu.data.pii import PiiFinding, scan_frame, scan_text
from shuyu.errors import InputError
from shuyu.policy.models import PiiKind

RNG = np.random.default_rng(11)
ID = gen.make_resident_ids(RNG, 1, ["341302"], dt.date(1980, 1, 1), dt.date(1990, 1, 1))[0]
USCC = gen.make_usccs(RNG, 1, ["150622"])[0]
CARD = gen.make_bank_cards(RNG, 1)[0]
MOBILE = gen.make_mobiles(RNG, 1)[0]
PLATE = gen.make_plates(RNG, 1, "蒙K")[0]
VIN = gen.make_vins(RNG, 1)[0]
TEXT = (
    f"张三，身份证号{ID}，所在企业统一社会信用代码：{USCC}；银行卡{CARD}，"
    f"电话+86{MOBILE}，车牌{PLATE}，车架号:{VIN}，邮箱 zhang.san@example.com。"
)


def counts(findings: list[PiiFinding]) -> dict[PiiKind, int]:
    return {f.kind: f.count for f in findings}


def frame_counts(texts: list[str]) -> dict[PiiKind, int]:
    return counts(scan_frame(pl.DataFrame({"t": texts}, schema={"t": pl.String})))


def test_every_kind_is_found_in_text_and_shown_masked() -> None:
    findings = scan_text(TEXT)
    assert counts(findings) == {
        PiiKind.resident_id: 1, PiiKind.uscc: 1, PiiKind.mobile: 1, PiiKind.bank_card: 1,
        PiiKind.email: 1, PiiKind.plate: 1, PiiKind.vin: 1,
    }  # fmt: skip
    shown = {f.kind: f.example_masked for f in findings}
    assert shown[PiiKind.resident_id] == ID[:4] + "*" * 10 + ID[-4:]
    assert shown[PiiKind.mobile] == MOBILE[:3] + "****" + MOBILE[-4:]
    assert shown[PiiKind.email] == "z***@example.com"
    for f in findings:
        assert f.column is None
        for raw in (ID, USCC, CARD, MOBILE, PLATE, VIN, "zhang.san"):
            assert raw not in f.example_masked


def test_frame_scan_finds_the_same_per_column() -> None:
    df = pl.DataFrame(
        {
            "note": [TEXT, None, "无"],
            "phone": [int(MOBILE), 1, 2],  # numbers stored as integers are still numbers
            "amount": [1.0, 2.0, 3.0],
        }
    )
    findings = scan_frame(df)
    assert {(f.column, f.kind) for f in findings if f.column == "phone"} == {
        ("phone", PiiKind.mobile)
    }
    assert counts([f for f in findings if f.column == "note"]) == counts(scan_text(TEXT))
    assert not any(f.column == "amount" for f in findings)
    assert [f.column for f in scan_frame(df, ["phone"])] == ["phone"]


def test_wrong_check_characters_are_not_identifiers() -> None:
    wrong_id = ID[:17] + next(c for c in "0123456789X" if c != ID[17])
    wrong_uscc = USCC[:17] + next(c for c in "0123456789" if c != USCC[17])
    wrong_card = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)
    text = f"身份证{wrong_id} 代码{wrong_uscc} 卡{wrong_card}"
    assert scan_text(text) == []
    assert frame_counts([text]) == {}


def test_identifiers_inside_longer_runs_are_not_split_out() -> None:
    text = f"订单号{ID}7 流水{CARD}00 编码9{MOBILE} 串{USCC}A"
    assert scan_text(text) == []
    assert frame_counts([text]) == {}


# ---------------------------------------------------------------- decimal numbers


def test_a_predictions_csv_of_random_floats_has_no_identifiers() -> None:
    # about one full-precision float in forty has a fraction that passes a card's checks
    scores = np.random.default_rng(5).random(100_000)
    predictions = pl.DataFrame(
        {
            "row": np.arange(scores.size),
            "score": scores,
            "amount": 1000 + 100 * scores,  # fractions shaped like mobile numbers
            "savetxt": [f"{x:.18e}" for x in scores],  # numpy's default: 18 fraction digits
        }
    )
    csv = predictions.write_csv()
    assert scan_text(csv) == []
    assert scan_frame(pl.read_csv(io.StringIO(csv), infer_schema=False)) == []


@pytest.mark.parametrize(
    "text",
    [
        f"0.{CARD}",
        f"1234.{MOBILE}",
        f"1234.86{MOBILE}",
        f"3.{ID}",
        f"0.{USCC}",
        f"1.5.{CARD}",
        f"v{ID[:3]}.{CARD}",
        f"比例 0.{CARD}，",
    ],
)
def test_digits_after_a_decimal_point_are_not_identifiers(text: str) -> None:
    assert scan_text(text) == []
    assert frame_counts([text]) == {}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f"身份证号：{ID}。", PiiKind.resident_id),  # the end of a sentence
        (f"身份证号 {ID}.", PiiKind.resident_id),
        (f"id={CARD}.\n", PiiKind.bank_card),  # a full stop at the end of a line
        (f"card:{CARD}", PiiKind.bank_card),
        (f"{MOBILE}.0", PiiKind.mobile),  # a phone column with a gap, as pandas prints it
        (f"备注.{CARD}", PiiKind.bank_card),  # no digit before the point: no decimal number
        (f".{CARD}", PiiKind.bank_card),
        (f"{ID[:17]}X.{MOBILE}", PiiKind.mobile),
        (f"0,{CARD}", PiiKind.bank_card),  # a comma between CSV fields
        (f"1.{VIN}", PiiKind.vin),  # a run that starts with a letter is no fraction
        (f"统一社会信用代码:{USCC}.", PiiKind.uscc),
    ],
)
def test_identifiers_beside_points_that_are_not_decimal_points_are_found(
    text: str, kind: PiiKind
) -> None:
    assert counts(scan_text(text)) == {kind: 1}
    assert frame_counts([text]) == {kind: 1}


def test_the_integer_part_of_a_decimal_number_is_still_read() -> None:
    text = f"{MOBILE}.{CARD}"
    assert counts(scan_text(text)) == {PiiKind.mobile: 1}
    assert frame_counts([text]) == {PiiKind.mobile: 1}


def test_counts_add_up_over_cells() -> None:
    assert frame_counts([TEXT] * 3 + [f"{MOBILE}/{MOBILE}"]) == {
        PiiKind.resident_id: 3, PiiKind.uscc: 3, PiiKind.mobile: 5, PiiKind.bank_card: 3,
        PiiKind.email: 3, PiiKind.plate: 3, PiiKind.vin: 3,
    }  # fmt: skip


def test_bad_columns_are_named() -> None:
    df = pl.DataFrame({"a": ["x"], "b": [[1, 2]]})
    with pytest.raises(InputError, match="nope"):
        scan_frame(df, ["nope"])
    with pytest.raises(InputError, match="'b'"):
        scan_frame(df, ["b"])


# ---------------------------------------------------------------- properties

bodies17 = st.text(alphabet="0123456789", min_size=17, max_size=17)


@settings(max_examples=100, deadline=None)
@given(
    bodies17, st.sampled_from(list("0123456789X")), st.sampled_from(["", "身份证", "id:", "号码 "])
)
def test_an_id_with_a_wrong_check_character_is_never_flagged(
    body: str, check: str, before: str
) -> None:
    if check == ids.resident_id_check(body):
        check = "X" if check != "X" else "0"
    value = body + check
    text = f"{before}{value}。"
    # The value may still be another valid identifier (a card passing Luhn, a credit code):
    # what must never happen is that it counts as a resident ID.
    assert PiiKind.resident_id not in counts(scan_text(text))
    assert PiiKind.resident_id not in frame_counts([text])


@st.composite
def texts_with_ids(draw: st.DrawFn) -> tuple[str, list[str]]:
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(1, 4))
    values = gen.make_resident_ids(
        np.random.default_rng(seed),
        n,
        ["341302", "150627", "120103"],
        dt.date(1930, 1, 1),
        dt.date(2020, 12, 31),
    )
    fillers = st.text(alphabet="，。 的号码是张三李四：;abc-", max_size=8)
    parts = [draw(fillers)]
    for v in values:
        parts += [v, draw(fillers.filter(lambda s: not s[:1].isdigit() and s[:1] not in "Xx"))]
    return "".join(parts), values


@settings(max_examples=100, deadline=None)
@given(texts_with_ids())
def test_valid_ids_embedded_in_text_are_always_found(case: tuple[str, list[str]]) -> None:
    text, values = case
    assert counts(scan_text(text)).get(PiiKind.resident_id) == len(values)
    assert frame_counts([text]).get(PiiKind.resident_id) == len(values)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet="0123456789XAB皖L蒙K@.a-:， ", max_size=40), min_size=1, max_size=20)
)
def test_text_and_frame_scans_agree(texts: list[str]) -> None:
    total: dict[PiiKind, int] = {}
    for t in texts:
        for kind, n in counts(scan_text(t)).items():
            total[kind] = total.get(kind, 0) + n
    assert frame_counts(texts) == total


# identifiers, numbers and the punctuation that can stand between them
NUMBERS = [ID, ID[:17] + "X", CARD, MOBILE, "86" + MOBILE, USCC, VIN, "0", "1234", "X", "A"]
pieces = st.sampled_from([*NUMBERS, ".", ".", ",", ":", "。", " ", "\n"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(pieces, max_size=12).map("".join), min_size=1, max_size=10))
def test_text_and_frame_scans_agree_on_numbers_with_points(texts: list[str]) -> None:
    total: dict[PiiKind, int] = {}
    for t in texts:
        for kind, n in counts(scan_text(t)).items():
            total[kind] = total.get(kind, 0) + n
    assert frame_counts(texts) == total


@settings(max_examples=50, deadline=None)
@given(st.sampled_from([ID, CARD, MOBILE, USCC]), st.text(alphabet="0123456789", min_size=1))
def test_an_identifier_written_as_a_fraction_is_never_counted(value: str, whole: str) -> None:
    # the digits before the point are a number of their own, and may be an identifier
    # themselves (2720922375164779 is a Luhn-valid card number): those are counted
    assume(scan_text(whole) == [])
    text = f"{whole}.{value}"
    assert scan_text(text) == []
    assert frame_counts([text]) == {}


def test_an_identifier_before_the_point_is_counted() -> None:
    text = f"2720922375164779.{ID}"  # found by CI's run of the test above
    assert [f.kind for f in scan_text(text)] == [PiiKind.bank_card]
    assert frame_counts([text]) == {PiiKind.bank_card: 1}
