"""`shuyu filing …`: administrators file products (登记备案) from a shell in the service's
container, the same calls as the pages and the REST API, audited as the named account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from shuyu.cli.staff import AsOption, staff_principal
from shuyu.errors import InputError
from shuyu.governance.filing_service import FilingRequest, FilingService

app = typer.Typer(help="Filing records (登记备案) of approved products.", no_args_is_help=True)

FORMATS = ("html", "html-en", "json")


def _service() -> FilingService:
    from shuyu.governance.from_settings import filing_service  # noqa: PLC0415
    from shuyu.policy.cache import PolicyCache  # noqa: PLC0415
    from shuyu.settings import PlatformSettings  # noqa: PLC0415

    return filing_service(PlatformSettings.from_env(), PolicyCache())


def _request(product: str, note: str) -> FilingRequest:
    from pydantic import ValidationError  # noqa: PLC0415

    try:
        return FilingRequest(product=product, note=note)
    except ValidationError:
        raise InputError(
            "PRODUCT", "is a registered model, <scenario>.<partner>", value=product,
            hint="e.g. bank_credit.suzhou_rcb (shuyu filing list shows them)",
        ) from None  # fmt: skip


@app.command("create")
def create(
    who: AsOption,
    product: Annotated[
        str, typer.Argument(help="The registered model, e.g. bank_credit.suzhou_rcb.")
    ],
    note: Annotated[str, typer.Option(help="A note kept with the filing.")] = "",
) -> None:
    """File the product from its live records, or re-file it after a change."""
    request = _request(product, note)
    principal = staff_principal(who)
    filed = _service().file(principal, request)
    typer.echo(f"{filed.id}  {filed.product}  第 {filed.sequence} 次备案  {filed.fingerprint}")


@app.command("list")
def list_(who: AsOption) -> None:
    """Every product's filing status: current, stale (what changed) or unfiled."""
    principal = staff_principal(who)
    for item in _service().overview(principal):
        filed = item.filed.id if item.filed else "-"
        typer.echo(f"{item.product}  {item.state_zh}({item.state})  {filed}  {item.reason_en}")


@app.command("show")
def show(who: AsOption, filing: Annotated[str, typer.Argument(help="The filing's id.")]) -> None:
    """One filing with everything it states."""
    principal = staff_principal(who)
    typer.echo(_service().get(principal, filing).model_dump_json(indent=1))


@app.command("export")
def export(
    who: AsOption,
    filing: Annotated[str, typer.Argument(help="The filing's id.")],
    out: Annotated[Path, typer.Option(help="Where to write the document.")],
    form: Annotated[str, typer.Option("--format", help="html (zh-CN), html-en or json.")] = "html",
) -> None:
    """Write the filing as the document the bureau receives."""
    from shuyu.fsutil import atomic_write_text  # noqa: PLC0415
    from shuyu.governance.filing_export import filing_html, filing_json  # noqa: PLC0415

    if form not in FORMATS:
        raise InputError("--format", f"is one of {', '.join(FORMATS)}", value=form)
    principal = staff_principal(who)
    found = _service().exported(principal, filing, form)
    text = filing_json(found) if form == "json" else filing_html(found, lang=form[5:] or "zh")
    atomic_write_text(out, text)
    typer.echo(json.dumps({"filing": found.id, "format": form, "out": str(out)}))
