"""`shuyu service serve`: the review service (run in its own container)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="The shuyu service: review, self-check, registry gate.", no_args_is_help=True
)


@app.command("serve")
def serve_command() -> None:
    """Serve the pages, the REST API and the sandbox submission endpoint; run the worker."""
    from shuyu.web.serve import serve  # noqa: PLC0415 - needs the service extra

    serve()
