"""`shuyu freeze …`: an administrator's incident freeze (应急处置) in one command, and
its lifting in another; each audited as the named account."""

from __future__ import annotations

from typing import Annotated

import typer

from shuyu.cli.staff import AsOption, staff_principal
from shuyu.errors import InputError
from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.governance.freezes import FreezeView, Scope

app = typer.Typer(help="Incident freezes (应急处置).", no_args_is_help=True)

ScopeOption = Annotated[
    str, typer.Option(help="partner:ID, scenario:ID, product:ID, consumer:ID or platform.")
]
ReasonOption = Annotated[str, typer.Option(help="Why (shown to everyone it stops; audited).")]


def _desk() -> FreezeDesk:
    from shuyu.governance.from_settings import freeze_desk  # noqa: PLC0415
    from shuyu.policy.cache import PolicyCache  # noqa: PLC0415
    from shuyu.settings import PlatformSettings  # noqa: PLC0415

    settings = PlatformSettings.from_env()
    if not settings.db_url:
        raise InputError("SHUYU_DB_URL", "is not set: freezes live in the platform database")
    return freeze_desk(settings, PolicyCache())


def _line(freeze: FreezeView) -> str:
    state = "生效中(active)" if freeze.active else f"已解除(lifted {freeze.lifted_at})"
    applied = f"{freeze.applied_by} {freeze.applied_at}"
    return f"{freeze.id}  {freeze.scope}  {state}  {applied}  {freeze.reason}"


@app.command("apply")
def apply(who: AsOption, scope: ScopeOption, reason: ReasonOption) -> None:
    """Freeze a scope now: sandboxes stopped and refused, runs refused, API calls refused."""
    parsed = Scope.parse(scope)
    typer.echo(_line(_desk().apply(staff_principal(who), parsed, reason)))


@app.command("lift")
def lift(
    who: AsOption,
    reason: ReasonOption,
    scope: ScopeOption = "",
    freeze: Annotated[str, typer.Option("--id", help="The freeze's id (or give --scope).")] = "",
) -> None:
    """Lift a freeze (by its id, or the active freeze of a scope)."""
    if bool(scope) == bool(freeze):
        raise InputError("--scope/--id", "give exactly one of them")
    desk, principal = _desk(), staff_principal(who)
    lifted = (
        desk.lift(principal, freeze, reason)
        if freeze
        else desk.lift_scope(principal, Scope.parse(scope), reason)
    )
    typer.echo(_line(lifted))


@app.command("list")
def list_(
    who: AsOption,
    everything: Annotated[bool, typer.Option("--all", help="Lifted ones too.")] = False,
) -> None:
    """The active freezes (with --all, the lifted ones too)."""
    for freeze in _desk().list(staff_principal(who), everything=everything):
        typer.echo(_line(freeze))
