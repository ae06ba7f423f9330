"""Chinese identifiers and their check characters, value by value and column by column.

- 居民身份证号 (GB 11643-1999): 6-digit region, birth date YYYYMMDD, 3-digit sequence
  (odd for men), ISO 7064 MOD 11-2 check character (X for 10).
- 统一社会信用代码 (GB 32100-2015): registration department, type, 6-digit region,
  9-character organisation code, MOD 31 check character.
- Bank cards (Luhn), mobile numbers, licence plates, VINs (ISO 3779 check digit at
  position 9, which GB 16735 makes mandatory in China), e-mail addresses.

Only values whose structure and check character are right count as identifiers: the PII
scans use these validators, so a random digit string is not flagged. The `*_expr`
functions are the same validators as polars expressions (string slicing and arithmetic,
no Python per row) for scanning millions of cells; tests hold them equal to the scalar
ones. The synthetic data draws valid values in `shuyu.data.generate.identifiers`.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from collections.abc import Sequence

import polars as pl

from shuyu.data.regions import PLATE_CHARS, PROVINCE_PREFIXES, is_region_code
from shuyu.errors import InputError

# ---------------------------------------------------------------- resident ID (GB 11643)

ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, 6, ...
ID_CHECK = "10X98765432"  # indexed by the weighted sum mod 11
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
BIRTH_YEARS = (1900, 2099)


def resident_id_check(first17: str) -> str:
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise InputError("resident ID", "needs exactly 17 digits before the check", value=first17)
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return BIRTH_YEARS[0] <= year <= BIRTH_YEARS[1]


def is_resident_id(value: str) -> bool:
    """18 characters, a real province prefix, a calendar birth date in 1900–2099 and the
    right check character (a lower-case x is accepted, as people write it)."""
    value = value.upper()
    if _ID_SHAPE.fullmatch(value) is None or value[:2] not in PROVINCE_PREFIXES:
        return False
    if not _is_date(int(value[6:10]), int(value[10:12]), int(value[12:14])):
        return False
    return resident_id_check(value[:17]) == value[17]


def resident_id_birth_date(value: str) -> dt.date:
    if not is_resident_id(value):
        raise InputError("resident ID", "is not a valid 居民身份证号", value=value)
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def resident_id_sex(value: str) -> str:
    """'M' or 'F' from the parity of the 17th digit."""
    if not is_resident_id(value):
        raise InputError("resident ID", "is not a valid 居民身份证号", value=value)
    return "M" if int(value[16]) % 2 else "F"


# ---------------------------------------------------------------- USCC (GB 32100)

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# 登记管理部门 → the 机构类别 codes it issues (GB 32100-2015 附录 A).
_USCC_TYPES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 群众团体, 其他
    "2": "19",  # 外交
    "3": "12345689",  # 司法行政: 律师事务所, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, …
    "4": "19",  # 文化
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游
    "7": "129",  # 宗教
    "8": "129",  # 工会
    "9": "123",  # 工商: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业
    "Y": "1",  # 其他
}
USCC_PREFIXES = tuple(d + t for d, types in _USCC_TYPES.items() for t in types)
_USCC_SHAPE = re.compile(f"[{USCC_CHARSET}]{{18}}")
_NATIONAL_REGION = "100000"  # central-level registrations


def uscc_check(first17: str) -> str:
    if len(first17) != 17 or any(c not in USCC_VALUE for c in first17):
        raise InputError(
            "unified social credit code",
            f"needs 17 characters from {USCC_CHARSET} before the check",
            value=first17,
        )
    total = sum(USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def is_uscc(value: str) -> bool:
    """18 characters of the USCC alphabet, a known department + type, a real region code
    at positions 3–8 and the right check character."""
    if _USCC_SHAPE.fullmatch(value) is None or value[:2] not in USCC_PREFIXES:
        return False
    region = value[2:8]
    if not (is_region_code(region) or region == _NATIONAL_REGION):
        return False
    return uscc_check(value[:17]) == value[17]


def org_code_check(first8: str) -> str:
    """GB 11714 organisation code check character (positions 9–17 of a USCC)."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c, 36) * w for c, w in zip(first8, weights, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


# ---------------------------------------------------------------- Luhn, cards, mobiles


def luhn_check(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check."""
    if not payload or not (payload.isascii() and payload.isdigit()):
        raise InputError("Luhn payload", "must be a non-empty string of digits", value=payload)
    total = 0
    for i, c in enumerate(reversed(payload)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def is_luhn(value: str) -> bool:
    if len(value) < 2 or not (value.isascii() and value.isdigit()):
        return False
    return luhn_check(value[:-1]) == value[-1]


# UnionPay 62/60/65/81, Visa 4, Mastercard 51–55 and 2221–2720, JCB 35, old ICBC 9558.
_CARD_IIN = re.compile(r"(?:62|60|65|81|4|5[1-5]|2[2-7]|35|9558)[0-9]*")


def is_bank_card(value: str) -> bool:
    return 16 <= len(value) <= 19 and _CARD_IIN.fullmatch(value) is not None and is_luhn(value)


# Mainland prefixes in use for 11-digit subscriber numbers (14x other than 145/147/149
# are 13-digit IoT numbers; 174 is satellite).
MOBILE_PREFIXES: frozenset[str] = frozenset(
    [f"13{d}" for d in range(10)]
    + ["145", "147", "149"]
    + [f"15{d}" for d in range(10) if d != 4]
    + ["162", "165", "166", "167"]
    + ["170", "171", "172", "173", "175", "176", "177", "178"]
    + [f"18{d}" for d in range(10)]
    + [f"19{d}" for d in range(10) if d != 4]
)


def is_mobile(value: str) -> bool:
    return len(value) == 11 and value.isascii() and value.isdigit() and value[:3] in MOBILE_PREFIXES


# ---------------------------------------------------------------- plates, VINs, e-mail

PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O
NEV_LETTERS = "ABCDEFGHJK"  # 新能源: 小型车 letter first, 大型车 letter last
_PLATE_RE = re.compile(
    f"[{PLATE_CHARS}][{PLATE_LETTERS}]"
    f"(?:[{PLATE_LETTERS}0-9]{{5}}"
    f"|[{PLATE_LETTERS}0-9]{{4}}[挂学警港澳]"
    f"|[{NEV_LETTERS}][{PLATE_LETTERS}0-9][0-9]{{4}}"
    f"|[0-9]{{5}}[{NEV_LETTERS}])"
)


def is_plate(value: str) -> bool:
    """皖L12345, 蒙K·A1234 (a middle dot is allowed), 新能源 皖LD12345 or 皖L12345D."""
    return _PLATE_RE.fullmatch(value.replace("·", "", 1)) is not None


VIN_CHARSET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # no I, O, Q
_VIN_VALUE = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
_VIN_RE = re.compile(f"[{VIN_CHARSET}]{{17}}")


def vin_check(vin17: str) -> str:
    """The check character for position 9 of a 17-character VIN (its own position is ignored)."""
    if _VIN_RE.fullmatch(vin17) is None:
        raise InputError("VIN", f"needs 17 characters from {VIN_CHARSET}", value=vin17)
    total = sum(_VIN_VALUE[c] * w for c, w in zip(vin17, _VIN_WEIGHTS, strict=True))
    return "X" if total % 11 == 10 else str(total % 11)


def is_vin(value: str) -> bool:
    """17 characters without I/O/Q, at least one letter (real WMIs have one, which keeps
    17-digit numbers from counting as VINs) and the check character at position 9."""
    if _VIN_RE.fullmatch(value) is None or value.isdigit():
        return False
    return vin_check(value) == value[8]


_EMAIL_RE = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
)


def is_email(value: str) -> bool:
    return _EMAIL_RE.fullmatch(value) is not None and ".." not in value


# ---------------------------------------------------------------- column validators

# Necessary shapes, as regexes both Python and polars run: a scan filters runs with these
# first (a regex is cheap), so that the arithmetic validators see few values.
_PROVINCE_ALT = "|".join(sorted(PROVINCE_PREFIXES))
RESIDENT_ID_SHAPE = (
    rf"^(?:{_PROVINCE_ALT})[0-9]{{4}}(?:19|20)[0-9]{{2}}(?:0[1-9]|1[0-2])"
    r"(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]$"
)
USCC_SHAPE = (
    rf"^(?:{'|'.join(USCC_PREFIXES)})(?:{_PROVINCE_ALT}|10)[0-9]{{4}}[{USCC_CHARSET}]{{10}}$"
)
BANK_CARD_SHAPE = rf"^(?:{_CARD_IIN.pattern})$"


def _sum(terms: Sequence[pl.Expr]) -> pl.Expr:
    return functools.reduce(operator.add, terms)


def _digit(number: pl.Expr, from_right: int) -> pl.Expr:
    # Integer arithmetic on the parsed number: far faster than slicing one character at a
    # time, which matters at millions of cells.
    digit: pl.Expr = (number // 10**from_right) % 10
    return digit


def _valid_date_expr(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = (
        pl.when(month == 2)
        .then(pl.when(leap).then(29).otherwise(28))
        .when(month.is_in([4, 6, 9, 11]))
        .then(30)
        .otherwise(31)
    )
    return (
        year.is_between(*BIRTH_YEARS)
        & month.is_between(1, 12)
        & day.is_between(1, 31)
        & (day <= days)
    )


_ID_CHECK_VALUE = {str(d): d for d in range(10)} | {"X": 10}


def valid_resident_id_expr(col: pl.Expr) -> pl.Expr:
    """Boolean column: `is_resident_id` for each value (null → False)."""
    s = col.str.to_uppercase()
    body = s.str.slice(0, 17).cast(pl.Int64, strict=False)
    total = _sum([_digit(body, 16 - i) * w for i, w in enumerate(ID_WEIGHTS)])
    wanted = (12 - total % 11) % 11  # the value whose character ID_CHECK holds
    given = s.str.slice(17, 1).replace_strict(_ID_CHECK_VALUE, default=None, return_dtype=pl.Int64)
    return (
        s.str.contains(r"^[0-9]{17}[0-9X]$")
        & (body // 10**15).is_in([int(p) for p in PROVINCE_PREFIXES])
        & _valid_date_expr((body // 10**7) % 10_000, (body // 10**5) % 100, (body // 10**3) % 100)
        & (wanted == given)
    ).fill_null(False)


def valid_uscc_expr(col: pl.Expr) -> pl.Expr:
    """Boolean column: `is_uscc` for each value (null → False)."""
    values = [
        col.str.slice(i, 1).replace_strict(USCC_VALUE, default=None, return_dtype=pl.Int64) * w
        for i, w in enumerate(USCC_WEIGHTS)
    ]
    check = ((31 - _sum(values) % 31) % 31).replace_strict(
        dict(enumerate(USCC_CHARSET)), default=None, return_dtype=pl.String
    )
    region = col.str.slice(2, 6)
    return (
        col.str.contains(f"^[{USCC_CHARSET}]{{18}}$")
        & col.str.slice(0, 2).is_in(list(USCC_PREFIXES))
        & (
            (
                region.str.contains(r"^[0-9]{6}$")
                & region.str.slice(0, 2).is_in(list(PROVINCE_PREFIXES))
            )
            | (region == _NATIONAL_REGION)
        )
        & (check == col.str.slice(17, 1))
    ).fill_null(False)


def valid_luhn_expr(col: pl.Expr, max_len: int = 19) -> pl.Expr:
    """Boolean column: `is_luhn` for digit strings of 2..`max_len` (at most 19) characters."""
    if not 2 <= max_len <= 19:
        raise InputError("Luhn max_len", "must be between 2 and 19", value=max_len)
    # Leading zeros leave a Luhn sum unchanged, so every value is padded to 19 digits and
    # parsed as two Int64 halves (19 digits overflow one).
    padded = col.str.pad_start(19, "0")
    high = padded.str.slice(0, 10).cast(pl.Int64, strict=False)  # digits 18..9 from the right
    low = padded.str.slice(10, 9).cast(pl.Int64, strict=False)  # digits 8..0
    terms = []
    for i in range(19):
        d = _digit(low, i) if i < 9 else _digit(high, i - 9)
        terms.append(2 * d - 9 * (d // 5) if i % 2 else d)  # doubled, minus 9 past 9
    return (col.str.contains(f"^[0-9]{{2,{max_len}}}$") & (_sum(terms) % 10 == 0)).fill_null(False)


def valid_bank_card_expr(col: pl.Expr) -> pl.Expr:
    return (
        col.str.contains(f"^(?:{_CARD_IIN.pattern})$")
        & col.str.len_chars().is_between(16, 19)
        & valid_luhn_expr(col)
    ).fill_null(False)


def valid_mobile_expr(col: pl.Expr) -> pl.Expr:
    return (
        col.str.contains(r"^[0-9]{11}$") & col.str.slice(0, 3).is_in(sorted(MOBILE_PREFIXES))
    ).fill_null(False)


def valid_plate_expr(col: pl.Expr) -> pl.Expr:
    return (
        col.str.replace("·", "", literal=True)
        .str.contains(f"^(?:{_PLATE_RE.pattern})$")
        .fill_null(False)
    )


def valid_vin_expr(col: pl.Expr) -> pl.Expr:
    values = [
        col.str.slice(i, 1).replace_strict(_VIN_VALUE, default=None, return_dtype=pl.Int64) * w
        for i, w in enumerate(_VIN_WEIGHTS)
    ]
    given = col.str.slice(8, 1).replace_strict(_ID_CHECK_VALUE, default=None, return_dtype=pl.Int64)
    return (
        col.str.contains(f"^[{VIN_CHARSET}]{{17}}$")
        & ~col.str.contains(r"^[0-9]+$")
        & (_sum(values) % 11 == given)
    ).fill_null(False)


def valid_email_expr(col: pl.Expr) -> pl.Expr:
    return (
        col.str.contains(f"^(?:{_EMAIL_RE.pattern})$") & ~col.str.contains("..", literal=True)
    ).fill_null(False)
