"""`shuyu airlock …`: the host's part of the import airlock — approved tables
pseudonymised with the masking key, joined to the partner's view, placed in its
workspace (the key is on the host only; the service never holds it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.audit.events import flush_sink, install_sink
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
        Path | None, typer.Option("--key", help="Masking key (default: $SHUYU_MASKING_KEY_FILE).")
    ] = None,
) -> None:
    """Pseudonymise, join and place every approved table import."""
    from shuyu.airlock.desk import AirlockDesk  # noqa: PLC0415
    from shuyu.airlock.host import place_tables  # noqa: PLC0415
    from shuyu.airlock.place import WorkspacePlacer  # noqa: PLC0415
    from shuyu.data.masking.key import read_key  # noqa: PLC0415
    from shuyu.policy.cache import PolicyCache  # noqa: PLC0415
    from shuyu.store.database import Database  # noqa: PLC0415

    settings = PlatformSettings.from_env()
    layout = Layout.default()
    url = db or settings.db_url or layout.db_url
    key = read_key(key_file if key_file is not None else None)
    database = Database(url)
    database.upgrade()
    install_sink(url)
    policies = PolicyCache()
    placer = WorkspacePlacer(settings)
    desk = AirlockDesk(database, policies, files or layout.state / "files", placer)
    try:
        done = place_tables(
            desk, settings, policies=policies(), key=key, place=placer, say=typer.echo
        )
    finally:
        flush_sink()
    if not done:
        typer.echo("no approved table to place (无待处理的导入)")
