"""The staff account a command acts as (`--as`), from policies/partners.yaml."""

from __future__ import annotations

from typing import Annotated

import typer

from shuyu.errors import InputError
from shuyu.review.service import Principal

AsOption = Annotated[
    str, typer.Option("--as", help="The staff account acting (policies/partners.yaml staff).")
]


def staff_principal(username: str) -> Principal:
    from shuyu.policy.cache import PolicyCache  # noqa: PLC0415

    staff = PolicyCache()().staff.get(username)
    if staff is None:
        raise InputError("--as", "is not a staff account in policies/partners.yaml", value=username)
    return Principal(username, frozenset(staff.groups))
