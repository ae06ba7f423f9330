"""Errors a user can act on.

Every failure that reaches a person is a `ShuyuError`: its message names where the
problem is (file, field, value) and what to do next. The CLI prints it on one line and
exits non-zero; anything else escaping is a bug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ShuyuError(Exception):
    """An error whose message is meant for the user, on one line."""


class InputError(ShuyuError):
    """Bad input: names the place, the offending value and the fix."""

    def __init__(self, where: str, reason: str, *, value: object = None, hint: str = "") -> None:
        self.where = where
        self.reason = reason
        self.value = value
        self.hint = hint
        shown = f" (got {value!r})" if value is not None else ""
        tail = f"; {hint}" if hint else ""
        super().__init__(f"{where}: {reason}{shown}{tail}")


@dataclass(frozen=True)
class Problem:
    """One problem found while validating a file: `file: path: reason`."""

    file: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.reason}"


class ProblemsError(ShuyuError):
    """Several problems at once, so that the user can fix them all in one pass."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))
