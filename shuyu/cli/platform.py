"""`shuyu platform up|down`: the whole platform on one machine (what `make up` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.platform.layout import Layout
from shuyu.platform.up import UpOptions, down, up

app = typer.Typer(help="The platform on this machine: hub, MLflow, firewall, demo data.")


@app.command("up")
def up_cmd(
    scale: Annotated[int, typer.Option(help="Demo enterprises to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the demo data.")] = 20261123,
    port: Annotated[int, typer.Option(help="Port of the hub on this machine.")] = 8000,
    bind: Annotated[
        str, typer.Option(help="Address the hub listens on; 0.0.0.0 to serve the LAN.")
    ] = "127.0.0.1",
    policies: Annotated[Path | None, typer.Option(help="Policy directory.")] = None,
    build_images: Annotated[bool, typer.Option(help="Build the images first (cached).")] = True,
) -> None:
    """Build, generate demo data, start everything and create the demo accounts."""
    options = UpOptions(
        scale=scale,
        seed=seed,
        http_port=port,
        http_bind=bind,
        build_images=build_images,
        policies_dir=policies,
    )
    url = up(options, say=lambda line: typer.echo(f"· {line}"))
    layout = Layout.default()
    typer.echo(f"\n数域 shuyu 已启动 / is up: {url}")
    typer.echo(f"演示账号 / demo accounts: {layout.demo_accounts} (0600)")


@app.command("down")
def down_cmd(
    volumes: Annotated[
        bool, typer.Option(help="Also delete the hub's and MLflow's volumes (all their state).")
    ] = False,
) -> None:
    """Stop the sandboxes and the services; the firewall removes its rules on the way out."""
    down(volumes=volumes)
    typer.echo("数域 shuyu 已停止 / is down")


@app.command("host-worker")
def host_worker_cmd(
    interval: Annotated[
        float, typer.Option(help="Seconds between passes (default: $SHUYU_HOST_INTERVAL).")
    ] = 0,
) -> None:
    """The host's standing work in the foreground: approved packages fetched, approved
    table imports placed, every interval (`make up` starts it in the background)."""
    import threading  # noqa: PLC0415

    from shuyu.audit.events import flush_sink  # noqa: PLC0415
    from shuyu.platform.host_steps import host_steps  # noqa: PLC0415
    from shuyu.platform.host_worker import serve, stop_on_signals  # noqa: PLC0415
    from shuyu.settings import HostSettings, PlatformSettings  # noqa: PLC0415

    layout = Layout.default()
    every = interval or HostSettings.from_env().host_interval
    stop = threading.Event()
    stop_on_signals(stop)
    steps = list(host_steps(layout, PlatformSettings.from_env()).values())
    typer.echo(f"host worker: every {every:g} s: {', '.join(s.name for s in steps)}")
    try:
        passes = serve(layout, steps, interval=every, stop=stop, say=typer.echo)
    finally:
        flush_sink()
    typer.echo(f"host worker: stopped after {passes} passes")
