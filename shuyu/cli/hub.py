"""`shuyu hub …`: accounts in the hub's own database, run in the hub's container.

Staff accounts (administrators, reviewers, operators) are never made by sign-up: `make
up` and an administrator set them here with a generated password, already approved.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from shuyu.audit.events import audit_event
from shuyu.errors import InputError
from shuyu.hub.authenticator import set_account_password
from shuyu.settings import HubSettings

app = typer.Typer(help="The hub's accounts (run inside the hub's container).", no_args_is_help=True)
account = typer.Typer(help="One account.", no_args_is_help=True)
app.add_typer(account, name="account")


@account.command("set-password")
def set_password(
    username: str,
    approved: Annotated[bool, typer.Option(help="Approved to log in at once.")] = True,
) -> None:
    """Create or reset USERNAME's login with the password read from stdin."""
    from nativeauthenticator.orm import UserInfo  # noqa: PLC0415 - the hub image has it

    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 12:
        raise InputError("stdin", "the password must have at least 12 characters")
    engine = create_engine(HubSettings.from_env().hub_db_url)
    UserInfo.__table__.create(engine, checkfirst=True)
    with Session(engine) as db:
        created = set_account_password(db, username, password, approved=approved)
    audit_event(
        "hub.account", "platform", "allowed", username=username, created=created, approved=approved
    )
    typer.echo(f"{username}: {'created' if created else 'password reset'}")


@account.command("delete")
def delete(username: str) -> None:
    """Remove USERNAME's login (its hub user and history stay)."""
    from nativeauthenticator.orm import UserInfo  # noqa: PLC0415

    engine = create_engine(HubSettings.from_env().hub_db_url)
    with Session(engine) as db:
        info = UserInfo.find(db, username)
        if info is not None:
            db.delete(info)
            db.commit()
    audit_event("hub.account", "platform", "allowed", username=username, deleted=info is not None)
    typer.echo(f"{username}: {'login removed' if info is not None else 'no login'}")
