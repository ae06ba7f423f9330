"""`shuyu packages …`: the in-domain package index (served in its container) and the
host's fetch of what administrators approved."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.audit.events import flush_sink, install_sink
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
    """Download, check and publish the wheels of every approved request (on the host)."""
    from shuyu.packages.desk import PackageDesk  # noqa: PLC0415
    from shuyu.packages.fetch import fetch_approved  # noqa: PLC0415
    from shuyu.policy.cache import PolicyCache  # noqa: PLC0415
    from shuyu.store.database import Database  # noqa: PLC0415

    settings = PlatformSettings.from_env()
    url = db or settings.db_url or Layout.default().db_url
    database = Database(url)
    database.upgrade()
    install_sink(url)
    policies = PolicyCache()
    try:
        done = fetch_approved(
            PackageDesk(database, policies), settings, policies().sandbox.packages, typer.echo
        )
    finally:
        flush_sink()
    if not done:
        typer.echo("nothing approved to fetch (无待下载的软件包)")
