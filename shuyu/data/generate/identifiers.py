"""Valid, distinct Chinese identifiers for the synthetic data: resident IDs, credit
codes, mobile numbers, bank cards, licence plates and VINs, drawn from a numpy generator
so that the same seed gives the same values. Their structure and check characters come
from `shuyu.data.identifiers`, whose validators accept every value drawn here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

import numpy as np

from shuyu.data.identifiers import (
    BIRTH_YEARS,
    ID_CHECK,
    ID_WEIGHTS,
    MOBILE_PREFIXES,
    NEV_LETTERS,
    PLATE_LETTERS,
    USCC_CHARSET,
    USCC_PREFIXES,
    USCC_VALUE,
    USCC_WEIGHTS,
    VIN_CHARSET,
    luhn_check,
    org_code_check,
    vin_check,
)
from shuyu.data.regions import PLATE_CHARS, is_region_code
from shuyu.errors import InputError

_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def draw_distinct(n: int, draw: Callable[[int], list[str]], what: str) -> list[str]:
    """`n` distinct values from `draw`, redrawing only the duplicates, so the result is
    a function of the generator's state."""
    if n < 0:
        raise InputError(f"number of {what}", "must not be negative", value=n)
    seen: dict[str, None] = {}
    stale = 0
    while len(seen) < n:
        before = len(seen)
        for v in draw(n - len(seen)):
            seen.setdefault(v)
        stale = stale + 1 if len(seen) == before else 0
        if stale > 50:
            raise InputError(
                f"number of {what}", f"only {len(seen)} distinct values could be drawn", value=n
            )
    return list(seen)


def _digit_strings(rng: np.random.Generator, n: int, width: int) -> list[str]:
    raw = _DIGITS[rng.integers(0, 10, size=(n, width))]
    return [row.tobytes().decode() for row in raw] if width else [""] * n


def _weighted_checks(
    bodies: list[str], weights: Sequence[int], values: dict[str, int]
) -> np.ndarray:
    """Weighted sums of equal-length bodies, computed as one matrix product."""
    if not bodies:
        return np.zeros(0, dtype=np.int64)
    lut = np.zeros(128, dtype=np.int64)
    for c, v in values.items():
        lut[ord(c)] = v
    codes = np.frombuffer("".join(bodies).encode("ascii"), dtype=np.uint8).reshape(len(bodies), -1)
    return lut[codes] @ np.asarray(weights, dtype=np.int64)


def _sex_digits(sexes: Sequence[str] | None, n: int) -> np.ndarray | None:
    if sexes is None:
        return None
    if len(sexes) != n:
        raise InputError("sexes", f"needs one value per ID ({n})", value=len(sexes))
    odd = {"M": 1, "男": 1, "F": 0, "女": 0}
    bad = sorted({s for s in sexes if s not in odd})
    if bad:
        raise InputError("sexes", "values must be M/F or 男/女", value=bad[:3])
    return np.fromiter((odd[s] for s in sexes), dtype=np.int64, count=n)


def make_resident_ids(  # noqa: PLR0917 - the generator calls it positionally
    rng: np.random.Generator,
    n: int,
    county_codes: Sequence[str],
    birth_from: dt.date,
    birth_to: dt.date,
    sexes: Sequence[str] | None = None,
) -> list[str]:
    """`n` distinct valid resident IDs: county drawn uniformly from `county_codes`, birth
    date uniformly in [birth_from, birth_to], sex per row from `sexes` (M/F or 男/女,
    one per ID) or random. Read them back with `resident_id_birth_date`/`_sex`."""
    codes = list(county_codes)
    bad = [c for c in codes if not is_region_code(c)]
    if not codes or bad:
        raise InputError("county codes", "need at least one six-digit region code", value=bad[:3])
    if not (
        dt.date(BIRTH_YEARS[0], 1, 1) <= birth_from <= birth_to <= dt.date(BIRTH_YEARS[1], 12, 31)
    ):
        raise InputError(
            "birth dates",
            "need birth_from <= birth_to, within 1900–2099",
            value=(birth_from, birth_to),
        )
    parity = _sex_digits(sexes, n)
    span = (birth_to - birth_from).days + 1
    # Duplicates are redrawn by row so that each row keeps its own sex.
    ids: list[str] = [""] * n
    todo = np.arange(n)
    seen: set[str] = set()
    for _ in range(100):
        if todo.size == 0:
            return ids
        k = todo.size
        county = rng.integers(0, len(codes), size=k)
        days = rng.integers(0, span, size=k)
        seq = rng.integers(0, 500, size=k) * 2
        sex = rng.integers(0, 2, size=k) if parity is None else parity[todo]
        births = np.datetime_as_string(np.datetime64(birth_from, "D") + days, unit="D")
        bodies = [
            f"{codes[c]}{b[:4]}{b[5:7]}{b[8:10]}{s:03d}"
            for c, b, s in zip(county, births.tolist(), (seq + sex).tolist(), strict=True)
        ]
        checks = _weighted_checks(bodies, ID_WEIGHTS, {str(d): d for d in range(10)}) % 11
        retry = []
        for row, body, check in zip(todo, bodies, checks, strict=True):
            value = body + ID_CHECK[check]
            if value in seen:
                retry.append(row)
            else:
                seen.add(value)
                ids[row] = value
        todo = np.asarray(retry, dtype=np.int64)
    raise InputError("number of resident IDs", "too many for the counties and dates given", value=n)


def make_usccs(
    rng: np.random.Generator, n: int, county_codes: Sequence[str], kind: str = "91"
) -> list[str]:
    """`n` distinct valid credit codes registered in `county_codes` (drawn uniformly).
    `kind` is department + type: 91 企业 (default), 92 个体工商户, 93 农民专业合作社, …"""
    codes = list(county_codes)
    if not codes or not all(is_region_code(c) for c in codes):
        raise InputError("county codes", "need at least one six-digit region code", value=codes[:3])
    if kind not in USCC_PREFIXES:
        raise InputError("USCC kind", "is not a department + type code of GB 32100", value=kind)
    letters = np.frombuffer(USCC_CHARSET.encode(), dtype=np.uint8)

    def draw(k: int) -> list[str]:
        county = rng.integers(0, len(codes), size=k)
        # Codes issued since 2015 carry MA + 6 characters; older ones an 8-digit org code.
        new = rng.random(k) < 0.6
        tails = letters[rng.integers(0, len(letters), size=(k, 6))]
        olds = _digit_strings(rng, k, 8)
        orgs = [
            "MA" + t.tobytes().decode() if is_new else old
            for is_new, t, old in zip(new, tails, olds, strict=True)
        ]
        bodies = [
            f"{kind}{codes[c]}{o}{org_code_check(o)}" for c, o in zip(county, orgs, strict=True)
        ]
        sums = _weighted_checks(bodies, USCC_WEIGHTS, USCC_VALUE)
        return [b + USCC_CHARSET[(31 - s % 31) % 31] for b, s in zip(bodies, sums, strict=True)]

    return draw_distinct(n, draw, "credit codes")


# Weighted towards 中国移动 13x/15x/18x, as subscriber numbers are.
_MOBILE_DRAW = sorted(MOBILE_PREFIXES)
_MOBILE_WEIGHTS = np.array([3.0 if p[1] in "358" else 1.0 for p in _MOBILE_DRAW])
_MOBILE_WEIGHTS /= _MOBILE_WEIGHTS.sum()


def make_mobiles(rng: np.random.Generator, n: int) -> list[str]:
    def draw(k: int) -> list[str]:
        prefix = rng.choice(len(_MOBILE_DRAW), size=k, p=_MOBILE_WEIGHTS)
        return [_MOBILE_DRAW[p] + s for p, s in zip(prefix, _digit_strings(rng, k, 8), strict=True)]

    return draw_distinct(n, draw, "mobile numbers")


# (BIN, length): 农行, 建行, 工行, 招行, 中行, 交行 debit cards; Visa and Mastercard credit.
_CARD_BINS = (
    ("622848", 19), ("621700", 19), ("622202", 19), ("621226", 19), ("622588", 16),
    ("621661", 19), ("622262", 19), ("436742", 16), ("524047", 16),
)  # fmt: skip


def make_bank_cards(rng: np.random.Generator, n: int) -> list[str]:
    def draw(k: int) -> list[str]:
        which = rng.integers(0, len(_CARD_BINS), size=k)
        digits = _digit_strings(rng, k, 12)
        out = []
        for w, d in zip(which, digits, strict=True):
            bin_, length = _CARD_BINS[w]
            payload = bin_ + d[: length - 7]
            out.append(payload + luhn_check(payload))
        return out

    return draw_distinct(n, draw, "bank cards")


def make_plates(rng: np.random.Generator, n: int, prefix: str) -> list[str]:
    """Plates under `prefix` (e.g. 皖L for 宿州, 蒙K for 鄂尔多斯): mostly five characters
    with up to two letters, one in ten a six-character 新能源 plate."""
    if re.fullmatch(f"[{PLATE_CHARS}][{PLATE_LETTERS}]", prefix) is None:
        raise InputError(
            "plate prefix", "must be a province character and a letter, e.g. 皖L", value=prefix
        )
    letters = PLATE_LETTERS

    def draw(k: int) -> list[str]:
        kind = rng.random(k)
        digits = _digit_strings(rng, k, 5)
        pos = rng.integers(0, 5, size=(k, 2))
        picks = rng.integers(0, len(letters), size=(k, 2))
        nev = rng.integers(0, len(NEV_LETTERS), size=k)
        out = []
        for i in range(k):
            body = list(digits[i])
            if kind[i] < 0.1:  # 新能源小型车: D/F…, then a letter or digit, then 4 digits
                out.append(f"{prefix}{NEV_LETTERS[nev[i]]}{''.join(body)}")
                continue
            n_letters = 0 if kind[i] < 0.4 else 1 if kind[i] < 0.85 else 2
            for j in range(n_letters):
                body[pos[i, j]] = letters[picks[i, j]]
            out.append(prefix + "".join(body))
        return out

    return draw_distinct(n, draw, "plates")


# Chinese WMIs: 重汽, 陕汽, 一汽解放, 东风商用车 (coal trucks), 一汽-大众, 上汽大众, 长安福特,
# 东风日产, 比亚迪, 特斯拉上海 (cars).
_WMIS = ("LZZ", "LZG", "LFW", "LGA", "LFV", "LSV", "LVS", "LGB", "LGX", "LRW")
_MODEL_YEARS = "ABCDEFGHJKLMNPRS"  # 2010–2025


def make_vins(rng: np.random.Generator, n: int) -> list[str]:
    charset = np.frombuffer(VIN_CHARSET.encode(), dtype=np.uint8)

    def draw(k: int) -> list[str]:
        wmi = rng.integers(0, len(_WMIS), size=k)
        vds = charset[rng.integers(0, len(charset), size=(k, 5))]
        year = rng.integers(0, len(_MODEL_YEARS), size=k)
        plant = charset[rng.integers(10, len(charset), size=k)]
        serial = _digit_strings(rng, k, 6)
        out = []
        for i in range(k):
            body = (
                f"{_WMIS[wmi[i]]}{vds[i].tobytes().decode()}0"
                f"{_MODEL_YEARS[year[i]]}{chr(plant[i])}{serial[i]}"
            )
            out.append(body[:8] + vin_check(body) + body[9:])
        return out

    return draw_distinct(n, draw, "VINs")
