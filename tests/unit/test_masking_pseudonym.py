"""Keyed pseudonyms: standard HMAC-SHA256, consistent across tables, separate per
namespace and per key, and never carrying the identifier (or its digits) along."""

from __future__ import annotations

import datetime as dt
import hmac
import os
import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shuyu.data import identifiers as ids
from shuyu.data.masking.mask import mask_table
from shuyu.data.masking.pseudonym import KeyedHasher, Pseudonymiser, letters
from shuyu.policy.models import Dataset

KEY = bytes(range(32))


def test_the_hash_is_standard_hmac_sha256() -> None:
    for key in (KEY, os.urandom(80)):  # a key longer than a block is hashed first
        expected = hmac.digest(key, b"enterprise\0" + b"91341302MA2TXXXX0X", "sha256")
        assert KeyedHasher(key).digests(b"enterprise\0", [b"91341302MA2TXXXX0X"]) == [expected]


def test_a_pseudonym_is_the_namespace_and_24_letters() -> None:
    """HMAC-SHA256 keyed with the key file's hex text, of namespace NUL value."""
    [pseudonym] = Pseudonymiser(KEY).pseudonyms("enterprise", ["91341302MA2TXXXX0X"])
    expected = hmac.digest(KEY.hex().encode(), b"enterprise\0" + b"91341302MA2TXXXX0X", "sha256")
    assert pseudonym == "enterprise:" + letters(expected)
    assert re.fullmatch(r"enterprise:[a-p]{24}", pseudonym)


@pytest.mark.skipif(not Pseudonymiser(KEY).vectorised, reason="polars-hash not installed")
def test_the_vectorised_plugin_and_python_give_the_same_pseudonyms() -> None:
    values = pl.Series("v", ["91341302MA2TXXXX0X", None, "张三", "", "91341302MA2TXXXX0X"] * 3)
    plugin = Pseudonymiser(KEY).column(values, "enterprise")
    python = Pseudonymiser(KEY, engine="python").column(values, "enterprise")
    assert plugin.to_list() == python.to_list()
    assert plugin.null_count() == 3


def test_the_same_value_gets_the_same_pseudonym_in_every_table() -> None:
    masker = Pseudonymiser(KEY)
    basic = masker.column(pl.Series("uscc", ["A", "B", "C"]), "enterprise")
    tax = masker.column(pl.Series("uscc", ["C", "A", "A", None]), "enterprise")
    assert tax.to_list() == [basic[2], basic[0], basic[0], None]
    # a fresh masker with the same key (another run) agrees: joins survive re-masking
    again = Pseudonymiser(KEY).column(pl.Series("uscc", ["B"]), "enterprise")
    assert again[0] == basic[1]


def test_namespaces_and_keys_keep_pseudonyms_apart() -> None:
    value = ["341302199001011234"]
    person = Pseudonymiser(KEY).pseudonyms("person", value)[0]
    enterprise = Pseudonymiser(KEY).pseudonyms("enterprise", value)[0]
    other_key = Pseudonymiser(os.urandom(32)).pseudonyms("person", value)[0]
    assert len({person.split(":")[1], enterprise.split(":")[1], other_key.split(":")[1]}) == 3


def test_integer_identifiers_are_pseudonymised_as_their_text() -> None:
    masker = Pseudonymiser(KEY)
    as_int = masker.column(pl.Series("n", [1234567890123]), "account")
    as_text = masker.column(pl.Series("n", ["1234567890123"]), "account")
    assert as_int.to_list() == as_text.to_list()


PEOPLE = Dataset.model_validate(
    {
        "id": "people",
        "name": "人员",
        "name_en": "People",
        "provider": "市公安局",
        "plans": [{"plan": "suzhou", "ref": "test"}],
        "grain": "entity",
        "keys": {"person": "id_number"},
        "fields": [
            {
                "id": "id_number",
                "name": "证件号码",
                "name_en": "ID",
                "type": "string",
                "sensitivity": 4,
                "role": "direct_identifier",
                "pii": "resident_id",
                "masking": {"rule": "pseudonym", "namespace": "person"},
            },
            {
                "id": "employer",
                "name": "单位",
                "name_en": "Employer",
                "type": "string",
                "sensitivity": 2,
                "role": "direct_identifier",
                "pii": "uscc",
                "masking": {"rule": "pseudonym", "namespace": "enterprise"},
            },
            {
                "id": "phone",
                "name": "电话",
                "name_en": "Phone",
                "type": "string",
                "sensitivity": 3,
                "role": "direct_identifier",
                "pii": "mobile",
                "masking": {"rule": "partial", "keep_prefix": 3, "keep_suffix": 4},
            },
            {
                "id": "name",
                "name": "姓名",
                "name_en": "Name",
                "type": "string",
                "sensitivity": 3,
                "role": "direct_identifier",
                "pii": "person_name",
                "masking": {"rule": "drop"},
            },
        ],
    }
)

digits = st.text(alphabet="0123456789", min_size=8, max_size=20)
identifier = st.one_of(
    digits,
    st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=18),
    st.builds(
        lambda d: d + ids.resident_id_check(d),
        st.text(alphabet="0123456789", min_size=17, max_size=17),
    ),
    st.builds(
        lambda d: d + ids.uscc_check(d),
        st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=17, max_size=17),
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    people=st.lists(identifier, min_size=1, max_size=20, unique=True),
    employers=st.lists(identifier, min_size=1, max_size=20),
    phones=st.lists(digits, min_size=1, max_size=20),
    names=st.lists(st.text(min_size=2, max_size=6), min_size=1, max_size=20),
)
def test_no_raw_identifier_or_its_digits_ever_reaches_the_masked_table(
    people: list[str], employers: list[str], phones: list[str], names: list[str]
) -> None:
    n = len(people)
    raw = pl.DataFrame(
        {
            "id_number": people,
            "employer": (employers * n)[:n],
            "phone": (phones * n)[:n],
            "name": (names * n)[:n],
        }
    )
    masked = mask_table(
        raw, PEOPLE, pseudonymiser=Pseudonymiser(KEY), reference_date=dt.date(2026, 6, 30)
    ).frame
    assert "name" not in masked.columns
    cells = [str(v) for col in masked.columns for v in masked[col].to_list()]
    text = "\n".join(cells)
    for value in [*people, *employers]:
        assert value not in text
    for value in phones:
        assert value not in text or len(value) <= 7  # a short value is masked whole...
    assert all("*" in p for p in masked["phone"].to_list())  # ...and never kept as is
    for pseudonym in masked["id_number"].to_list() + masked["employer"].to_list():
        assert not re.search(r"\d", pseudonym.split(":", 1)[1])


def test_tagged_hex_becomes_letters_whatever_the_arrow_layout() -> None:
    tagged = pl.Series("p", ["ns:0123456789abcdef01234567", None, "ns:ffffffffffffffffffffffff"])
    expected = ["ns:abcdefghijklmnopabcdefgh", None, "ns:pppppppppppppppppppppppp"]
    assert Pseudonymiser.from_hex(tagged, "ns").to_list() == expected
    assert Pseudonymiser.from_hex(tagged.slice(1), "ns").to_list() == expected[1:]
    # values of another width take the slow path, with the same result
    odd = pl.Series("p", ["ns:0123", "ns:0123456789abcdef01234567"])
    assert Pseudonymiser.from_hex(odd, "ns").to_list() == ["ns:abcd", expected[0]]


def test_both_engines_mask_a_table_identically() -> None:
    raw = pl.DataFrame(
        {
            "id_number": [f"34130219900101{i:04d}" for i in range(50)],
            "employer": ["91341302MA2TXXXX0X", None] * 25,
            "phone": ["13812345678"] * 50,
            "name": ["张三"] * 50,
        }
    )
    tables = [
        mask_table(
            raw,
            PEOPLE,
            pseudonymiser=Pseudonymiser(KEY, engine=e),
            reference_date=dt.date(2026, 6, 30),
        ).frame
        for e in ("auto", "python")
    ]
    assert tables[0].equals(tables[1])
