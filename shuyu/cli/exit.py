"""`shuyu exit …` (退出): a partner or consumer leaves; on the host, where the Docker
engine, MLflow's administrator and the platform's state are (like `make up`). Each act
is audited as the named administrator (`--as`); another administrator accepts (验收)
the certificate, here or on the page /governance/exits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.cli.staff import AsOption, staff_principal
from shuyu.errors import InputError
from shuyu.governance.exit import ExitDesk
from shuyu.governance.exit_store import ExitView

app = typer.Typer(help="Exit (退出) with a deletion certificate.", no_args_is_help=True)

ReasonOption = Annotated[str, typer.Option(help="Why (on the certificate; audited).")]


def _desk() -> ExitDesk:
    from shuyu.governance.exit_host import host_exit_desk, host_settings  # noqa: PLC0415
    from shuyu.platform.layout import Layout  # noqa: PLC0415
    from shuyu.policy.cache import PolicyCache  # noqa: PLC0415

    layout = Layout.default()
    return host_exit_desk(layout, host_settings(layout), PolicyCache())


def _line(view: ExitView) -> str:
    return (
        f"{view.id}  {view.kind}:{view.subject}  {view.state.value}({view.state.zh})  "
        f"exit {view.exit_date} deadline {view.deadline}  by {view.exited_by}"
        + (f"  accepted by {view.accepted_by}" if view.accepted_by else "")
        + (f"  certificate sha256 {view.certificate_sha256}" if view.certificate_sha256 else "")
        + ("" if view.certificate_intact else "  CERTIFICATE TAMPERED")
    )


@app.command("partner")
def partner(
    partner_id: Annotated[str, typer.Argument(metavar="ID", help="The partner (partners.yaml).")],
    who: AsOption,
    reason: ReasonOption,
    transfer: Annotated[
        list[str] | None,
        typer.Option("--transfer", help="A registered model kept (e.g. taken over); repeatable."),
    ] = None,
) -> None:
    """Revoke every access of the partner, delete what is not transferred, certify it."""
    view = _desk().exit_partner(staff_principal(who), partner_id, reason, transfer or [])
    typer.echo(_line(view))


@app.command("consumer")
def consumer(
    consumer_id: Annotated[str, typer.Argument(metavar="ID", help="The consumer (使用单位).")],
    who: AsOption,
    reason: ReasonOption,
) -> None:
    """Freeze the consumer, revoke every key, terminate every agreement, certify it."""
    typer.echo(_line(_desk().exit_consumer(staff_principal(who), consumer_id, reason)))


@app.command("list")
def list_(who: AsOption) -> None:
    """Every exit, newest first, with its state and deadline."""
    for view in _desk().register.overview(staff_principal(who)):
        typer.echo(_line(view))


@app.command("show")
def show(
    exit_id: Annotated[str, typer.Argument(metavar="EXIT")],
    who: AsOption,
    form: Annotated[str, typer.Option("--format", help="json, html or html-en.")] = "json",
    out: Annotated[Path | None, typer.Option(help="Write the document here.")] = None,
) -> None:
    """The certificate (refused when it no longer matches its sha256)."""
    from shuyu.governance.exit_certificate import (  # noqa: PLC0415
        certificate_html,
        certificate_json,
    )

    if form not in {"json", "html", "html-en"}:
        raise InputError("--format", "is json, html or html-en", value=form)
    certificate, digest = _desk().register.certificate(staff_principal(who), exit_id)
    text = (
        certificate_json(certificate)
        if form == "json"
        else certificate_html(certificate, digest, lang="en" if form == "html-en" else "zh")
    )
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{out} sha256 {digest}")


@app.command("accept")
def accept(
    exit_id: Annotated[str, typer.Argument(metavar="EXIT")],
    who: AsOption,
    note: Annotated[str, typer.Option(help="The acceptance note (验收意见).")] = "",
) -> None:
    """Accept (验收) a verified certificate: an administrator other than the one who ran it."""
    typer.echo(_line(_desk().register.accept(staff_principal(who), exit_id, note)))


@app.command("redo")
def redo(exit_id: Annotated[str, typer.Argument(metavar="EXIT")], who: AsOption) -> None:
    """After a failed verification: delete again what is still there, and verify."""
    typer.echo(_line(_desk().redo(staff_principal(who), exit_id)))
