"""`shuyu sandbox …`: firewall, view volumes, and who may have a sandbox."""

from __future__ import annotations

import datetime as dt
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from shuyu.audit.events import audit_event
from shuyu.errors import ShuyuError
from shuyu.policy import load_policies
from shuyu.sandbox import firewall
from shuyu.sandbox.grants import NotAuthorised, grant_sandbox
from shuyu.sandbox.settings import PlatformSettings

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


def firewall_plan(
    settings: PlatformSettings, host_ports: list[int] | None = None
) -> firewall.FirewallPlan:
    return firewall.FirewallPlan(
        bridge=settings.sandbox_bridge,
        subnet=settings.sandbox_subnet,
        peers=(
            firewall.Peer(settings.hub_ip, settings.hub_api_port),
            firewall.Peer(settings.mlflow_ip, settings.mlflow_port),
        ),
        hub_ip=settings.hub_ip,
        sandbox_port=settings.sandbox_port,
        host_ports=tuple(host_ports or ()),
    )


@fw.command("apply")
def fw_apply(host_port: HostPorts = None) -> None:
    """Install (or refresh) the sandbox network's rules."""
    plan = firewall_plan(PlatformSettings.from_env(), host_port)
    firewall.apply(plan)
    audit_event("firewall.apply", "platform", "allowed", bridge=plan.bridge)
    typer.echo(f"installed: {plan.input_chain}, {plan.forward_chain}")


@fw.command("remove")
def fw_remove() -> None:
    """Remove the rules `apply` installed."""
    plan = firewall_plan(PlatformSettings.from_env())
    firewall.remove(plan)
    audit_event("firewall.remove", "platform", "allowed", bridge=plan.bridge)
    typer.echo(f"removed: {plan.input_chain}, {plan.forward_chain}")


@fw.command("show")
def fw_show() -> None:
    """Print the installed rules (iptables -S)."""
    plan = firewall_plan(PlatformSettings.from_env())
    tables = firewall.Iptables("ip")
    for chain in (plan.input_chain, plan.forward_chain):
        for line in tables.list_chain(chain) or [f"# {chain} is not installed"]:
            typer.echo(line)


@fw.command("run")
def fw_run(
    host_port: HostPorts = None,
    check_every: Annotated[float, typer.Option(help="Seconds between checks.")] = 5.0,
) -> None:
    """Install the rules, keep them installed, and remove them on SIGTERM/SIGINT."""
    plan = firewall_plan(PlatformSettings.from_env(), host_port)
    stopping = False

    def _stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    firewall.apply(plan)
    audit_event("firewall.apply", "platform", "allowed", bridge=plan.bridge)
    typer.echo(f"firewall: rules for {plan.bridge} installed", err=True)
    next_check = time.monotonic() + check_every
    try:
        while not stopping:
            time.sleep(0.2)  # short, so that a stop signal is honoured at once
            if time.monotonic() < next_check:
                continue
            next_check = time.monotonic() + check_every
            if not firewall.is_installed(plan):
                firewall.apply(plan)
                audit_event("firewall.repair", "platform", "allowed", bridge=plan.bridge)
                typer.echo("firewall: rules were missing or altered; reinstalled", err=True)
    finally:
        firewall.remove(plan)
        audit_event("firewall.remove", "platform", "allowed", bridge=plan.bridge)
        typer.echo(f"firewall: rules for {plan.bridge} removed", err=True)


@app.command("publish-views")
def publish_views_cmd(
    views: Annotated[Path, typer.Option(help="Directory written by `shuyu data views`.")],
    scenario: Annotated[list[str] | None, typer.Option(help="Only these scenarios.")] = None,
) -> None:
    """Copy each scenario's train split (never the holdout) into its view volume."""
    import docker  # noqa: PLC0415 - only this command needs the Docker SDK

    from shuyu.sandbox.volumes import publish_views  # noqa: PLC0415

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise ShuyuError(f"cannot reach the Docker engine: {exc}") from None
    for view in publish_views(views, PlatformSettings.from_env(), client, scenario):
        typer.echo(f"{view.scenario}: {view.train_rows} rows -> volume {view.volume}")


@app.command("grant")
def grant_cmd(
    username: str,
    policies: Annotated[Path | None, typer.Option(help="Policy directory.")] = None,
    on: Annotated[
        str | None, typer.Option(help="Date to check (YYYY-MM-DD); default today.")
    ] = None,
) -> None:
    """Show what sandbox USERNAME would get, or why not."""
    day = dt.date.fromisoformat(on) if on else dt.date.today()
    settings = PlatformSettings.from_env()
    try:
        grant = grant_sandbox(load_policies(policies), settings, username, day)
    except NotAuthorised as refusal:
        typer.echo(refusal.zh)
        typer.echo(refusal.en)
        raise typer.Exit(1) from None
    typer.echo(f"{username} ({grant.partner_id}): " + ", ".join(s.id for s in grant.scenarios))
    for mount in grant.mounts:
        typer.echo(f"  {mount.volume} -> {mount.target} ({'ro' if mount.read_only else 'rw'})")
