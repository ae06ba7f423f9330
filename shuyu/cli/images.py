"""`shuyu images …`: build the platform's images offline, and show what the engine has."""

from __future__ import annotations

from typing import Annotated

import typer

from shuyu.images import build as builder

app = typer.Typer(
    help="Images: offline builds (debootstrap base, wheelhouse).", no_args_is_help=True
)


@app.command("build")
def build_cmd(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="Build only this image (repeatable): base, notebook, hub, mlflow."
        ),
    ] = None,
    base_image: Annotated[
        str | None,
        typer.Option(
            "--base-image",
            envvar="SHUYU_BASE_IMAGE",
            help="Build on this image instead of the debootstrap base (a site with a registry).",
        ),
    ] = None,
) -> None:
    """Build the images; each is skipped when its content hash is already tagged."""
    results = builder.build(only or (), base_image or None, say=typer.echo)
    for r in results:
        state = "已是最新 up to date" if r.skipped else "已构建 built"
        typer.echo(f"{r.name:9} {r.image:32} {state} ({r.seconds:.1f}s)")


@app.command("status")
def status_cmd() -> None:
    """Which images the engine has, with their ids and sizes."""
    missing = 0
    for s in builder.status():
        if s.present:
            typer.echo(f"{s.image:28} {s.image_id}  {s.size_mb:8.1f} MB")
        else:
            missing += 1
            typer.echo(f"{s.image:28} 缺失 missing")
    if missing:
        typer.echo("运行 run `shuyu images build`", err=True)
        raise typer.Exit(1)
