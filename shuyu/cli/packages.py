"""`shuyu packages …`: the in-domain package index (served in its container) and the
host's fetch of what administrators approved."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.audit.events import flush_sink
from shuyu.platform.layout import Layout
from shuyu.settings import PlatformSettings

app = typer.Typer(
    help="Packages for the sandboxes (软件包): index and fetch.", no_args_is_help=True
)

DbOption = Annotated[
    str,
    typer.Option(
        "--db", help="Database URL (default: $SHUYU_DB_URL, else the platform's state file)."
    ),
]


@app.command("index")
def index(
    root: Annotated[Path, typer.Option(help="The approved wheels' folder.")] = Path(
        "/srv/shuyu-packages"
    ),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",  # noqa: S104
) -> None:
    """Serve the approved wheels to the sandboxes (read-only, no fallback)."""
    from shuyu.packages.index_server import serve  # noqa: PLC0415

    serve(host, PlatformSettings.from_env().index_port, root)


@app.command("fetch")
def fetch(db: DbOption = "") -> None:
    """Download, check and publish the wheels of every approved request (on the host;
    the host worker that `make up` starts does it every interval)."""
    from shuyu.platform.host_steps import PACKAGES, host_steps  # noqa: PLC0415
    from shuyu.platform.host_worker import steps_lock  # noqa: PLC0415

    layout = Layout.default()
    try:
        with steps_lock(layout):
            step = host_steps(layout, PlatformSettings.from_env(), db_url=db)[PACKAGES]
            done = step.run(typer.echo)
    finally:
        flush_sink()
    if not done:
        typer.echo("nothing approved to fetch (无待下载的软件包)")
