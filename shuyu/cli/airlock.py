"""`shuyu airlock …`: the host's part of the import airlock — approved tables
pseudonymised with the masking key, joined to the partner's view, placed in its
workspace (the key is on the host only; the service never holds it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.audit.events import flush_sink
from shuyu.platform.layout import Layout
from shuyu.settings import PlatformSettings

app = typer.Typer(help="The import airlock (导入审核): the host's part.", no_args_is_help=True)


@app.command("process")
def process(
    db: Annotated[
        str,
        typer.Option("--db", help="Database URL (default: $SHUYU_DB_URL, else the state file)."),
    ] = "",
    files: Annotated[
        Path | None, typer.Option(help="The service's files (default: the state folder's).")
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option("--key", help="Masking key (default: $SHUYU_MASKING_KEY_FILE, else var's)."),
    ] = None,
) -> None:
    """Pseudonymise, join and place every approved table import (the host worker that
    `make up` starts does it every interval)."""
    from shuyu.platform.host_steps import AIRLOCK, host_steps  # noqa: PLC0415
    from shuyu.platform.host_worker import steps_lock  # noqa: PLC0415

    layout = Layout.default()
    try:
        with steps_lock(layout):
            steps = host_steps(
                layout, PlatformSettings.from_env(), db_url=db, files=files, key_file=key_file
            )
            done = steps[AIRLOCK].run(typer.echo)
    finally:
        flush_sink()
    if not done:
        typer.echo("no approved table to place (无待处理的导入)")
