"""`shuyu sandbox …`: firewall, view volumes, and who may have a sandbox."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from shuyu.audit.events import audit_event, install_sink
from shuyu.hub.grants import NotAuthorised, grant_sandbox
from shuyu.policy import load_policies
from shuyu.sandbox import firewall
from shuyu.settings import PlatformSettings

app = typer.Typer(
    help="Sandboxes: firewall rules, view volumes, authorisation.", no_args_is_help=True
)
fw = typer.Typer(help="Host firewall for the sandbox network.", no_args_is_help=True)
app.add_typer(fw, name="firewall")

HostPorts = Annotated[
    list[int] | None,
    typer.Option(
        "--host-port", help="Host port sandboxes may reach (only for a hub running on the host)."
    ),
]


@fw.command("apply")
def fw_apply(host_port: HostPorts = None) -> None:
    """Install (or refresh) the sandbox network's rules."""
    plan = firewall.plan_for(PlatformSettings.from_env(), host_port or ())
    firewall.apply(plan)
    audit_event("firewall.apply", "platform", "allowed", bridge=plan.bridge)
    typer.echo(f"installed: {plan.input_chain}, {plan.forward_chain}")


@fw.command("remove")
def fw_remove() -> None:
    """Remove the rules `apply` installed."""
    plan = firewall.plan_for(PlatformSettings.from_env())
    firewall.remove(plan)
    audit_event("firewall.remove", "platform", "allowed", bridge=plan.bridge)
    typer.echo(f"removed: {plan.input_chain}, {plan.forward_chain}")


@fw.command("show")
def fw_show() -> None:
    """Print the installed rules (iptables -S)."""
    plan = firewall.plan_for(PlatformSettings.from_env())
    tables = firewall.Iptables("ip")
    for chain in (plan.input_chain, plan.forward_chain):
        for line in tables.list_chain(chain) or [f"# {chain} is not installed"]:
            typer.echo(line)


@fw.command("run")
def fw_run(
    host_port: HostPorts = None,
    check_every: Annotated[float, typer.Option(help="Seconds between checks.")] = 5.0,
) -> None:
    """Install the rules and keep them installed; on SIGTERM/SIGINT leave a deny-all."""
    settings = PlatformSettings.from_env()
    install_sink(settings.db_url)
    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    firewall.supervise(
        settings,
        host_ports=host_port or (),
        check_every=check_every,
        stopping=lambda: stopping,
        say=lambda line: typer.echo(line, err=True),
        audit=lambda action: audit_event(
            action, "platform", "allowed", bridge=settings.sandbox_bridge
        ),
    )


@app.command("publish-views")
def publish_views_cmd(
    views: Annotated[Path, typer.Option(help="Directory written by `shuyu data views`.")],
    scenario: Annotated[list[str] | None, typer.Option(help="Only these scenarios.")] = None,
) -> None:
    """Copy each scenario's train split (never the holdout) into its view volume."""
    from shuyu.sandbox.volumes import publish_views  # noqa: PLC0415 - needs the Docker SDK

    for view in publish_views(views, PlatformSettings.from_env(), scenario):
        typer.echo(f"{view.scenario}: {view.train_rows} rows -> volume {view.volume}")


@app.command("grant")
def grant_cmd(
    username: str,
    scenario: Annotated[
        str | None, typer.Option(help="The scenario to open (needed when several are valid).")
    ] = None,
    policies: Annotated[Path | None, typer.Option(help="Policy directory.")] = None,
    on: Annotated[
        str | None, typer.Option(help="Date to check (YYYY-MM-DD); default today.")
    ] = None,
) -> None:
    """Show what sandbox USERNAME would get, or why not."""
    day = dt.date.fromisoformat(on) if on else dt.date.today()
    settings = PlatformSettings.from_env()
    try:
        grant = grant_sandbox(load_policies(policies), settings, username, day, scenario)
    except NotAuthorised as refusal:
        typer.echo(refusal.zh)
        typer.echo(refusal.en)
        raise typer.Exit(1) from None
    typer.echo(f"{username} ({grant.partner_id}): {grant.scenario.id}")
    for mount in grant.mounts:
        typer.echo(f"  {mount.volume} -> {mount.target} ({'ro' if mount.read_only else 'rw'})")
