"""One check for the small state machines whose transitions are a table (a package
request, an import): a move the table does not have is refused with what it does have."""

from __future__ import annotations

from collections.abc import Mapping, Set
from enum import StrEnum
from typing import TypeVar

from shuyu.errors import InputError

S = TypeVar("S", bound=StrEnum)


def move(transitions: Mapping[S, Set[S]], current: S, to: S, what: str) -> S:
    """`to`, if `transitions` lets `what` go there from `current`."""
    if to not in transitions[current]:
        allowed = ", ".join(sorted(transitions[current])) or "nothing (it is final)"
        raise InputError(
            what,
            f"cannot go from {current.value} to {to.value}",
            hint=f"from {current.value}: {allowed}",
        )
    return to
