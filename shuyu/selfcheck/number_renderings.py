"""The renderings of a numeric array in which an identifier could be read, as an
attacker would read them: the raw bytes as text (an ID written as bytes into a uint8 or
float tensor); whole numbers (an ID as an int64, a mobile number or card as an exact
float64, a 17-digit number completed with its computed check digit, a float64 too large
to be exact searched within its rounding window for a valid ID or card); runs of
elements that are single digits (one digit per element) and runs of elements that are
character codes. String arrays are read as their elements."""

from __future__ import annotations

import numpy as np

from shuyu.data import identifiers as ids


def _runs(mask: np.ndarray, shortest: int) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True) if e - s >= shortest]


_CHAR_CODES = (
    (48, 57),
    (65, 90),
    (97, 122),
    (64, 64),
    (45, 46),
    (95, 95),
    (183, 183),
    (0x4E00, 0x9FFF),
)
MAX_INEXACT_CANDIDATES = 10_000


def number_texts(values: np.ndarray, *, with_bytes: bool = True) -> list[tuple[str, str]]:
    """The renderings of a numeric array in which an identifier could be read."""
    flat = np.asarray(values).ravel()
    if flat.size == 0 or flat.dtype.kind not in "iuf":
        return []
    out = [("bytes", flat.tobytes().decode("utf-8", errors="replace"))] if with_bytes else []
    if flat.dtype.kind == "f":
        finite = np.isfinite(flat)
        numbers = np.where(finite, flat, 0.0).astype(np.float64)
        integral = finite & (np.floor(numbers) == numbers)
    else:
        numbers = flat.astype(np.float64)
        integral = np.ones(flat.shape, dtype=bool)
    whole = _whole_numbers(flat, numbers, integral)
    if whole:
        out.append(("whole numbers", "\n".join(whole)))
    digits = _runs(integral & (numbers >= 0) & (numbers <= 9), 11)
    if digits:
        runs = [(numbers[s:e].astype(np.uint8) + 48).tobytes().decode() for s, e in digits]
        runs += [r + ids.resident_id_check(r) for r in runs if len(r) == 17]  # check digit left out
        out.append(("one digit per element", "\n".join(runs)))
    is_code = np.zeros(flat.shape, dtype=bool)
    for low, high in _CHAR_CODES:
        is_code |= (numbers >= low) & (numbers <= high)
    codes = _runs(integral & is_code, 6)
    if codes:
        text = "\n".join(
            numbers[s:e].astype("<u4").tobytes().decode("utf-32-le", errors="replace")
            for s, e in codes
        )
        out.append(("character codes", text))
    return out


def _whole_numbers(flat: np.ndarray, numbers: np.ndarray, integral: np.ndarray) -> list[str]:
    """Whole numbers long enough to be identifiers, as an attacker would read them."""
    big = integral & (np.abs(numbers) >= 1e10)
    whole: list[str] = []
    if flat.dtype.kind in "iu":
        for v in flat[big].tolist():
            text = str(abs(int(v)))
            whole.append(text)
            if len(text) == 17:  # a resident ID without its check digit
                whole.append(text + ids.resident_id_check(text))
    elif flat.dtype.itemsize >= 8:
        exact = big & (np.abs(numbers) < 2**53)
        whole.extend(str(abs(int(v))) for v in numbers[exact].tolist())
        inexact = np.flatnonzero(big & (np.abs(numbers) >= 2**53) & (np.abs(numbers) < 1e19))
        for v in numbers[inexact[:MAX_INEXACT_CANDIDATES]].tolist():
            if (found := _valid_near(abs(v))) is not None:
                whole.append(found)
    return whole


def _valid_near(value: float) -> str | None:
    """A resident ID or bank card within the rounding window of a float64 too large to
    hold one exactly (the attacker's reading of it)."""
    width = min(int(np.spacing(value)), 256)
    centre = int(value)
    for candidate in range(centre - width, centre + width + 1):
        text = str(candidate)
        if ids.is_resident_id(text) or ids.is_bank_card(text):
            return text
    return None


def string_elements(values: np.ndarray) -> str:
    flat = np.asarray(values, dtype=object).ravel()
    return "\n".join(
        v.decode("utf-8", errors="replace") if isinstance(v, bytes) else str(v) for v in flat
    )
