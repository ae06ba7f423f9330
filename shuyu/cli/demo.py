"""`shuyu demo`: walk one bank-credit data product through the running platform (the
one `make up` started, or the layout at $SHUYU_VAR), printing each step and its
evidence; the exit code is non-zero at the first step that fails, which is named."""

from __future__ import annotations

from typing import Annotated

import typer

from shuyu.demo.stack import Stack
from shuyu.demo.steps import StepFailed
from shuyu.demo.walks import DemoOptions, run_walks
from shuyu.platform.layout import Layout

app = typer.Typer(help=__doc__, invoke_without_command=True)

WALKS = ("product", "leaky", "monitoring")


@app.callback()
def demo(
    walk: Annotated[
        list[str] | None,
        typer.Option(help="product | leaky | monitoring (repeat; default: all three)."),
    ] = None,
    partner: Annotated[
        str, typer.Option(help="The partner whose model the credit product serves.")
    ] = "sz-credit",
    epochs: Annotated[int, typer.Option(help="Training epochs in develop.ipynb.")] = 2,
) -> None:
    """Walk the data product: product (sandbox → API), leaky (stopped by the self-check),
    monitoring (a burst blocks the key)."""
    chosen = list(walk or WALKS)
    stack = Stack.of(Layout.default())
    typer.echo(f"数域演示 · shuyu demo: {stack.url} ({', '.join(chosen)})")
    try:
        run_walks(stack, typer.echo, DemoOptions(partner=partner, epochs=epochs), chosen)
    except StepFailed as failed:
        typer.echo(f"✗ {failed}", err=True)
        raise typer.Exit(1) from failed
    typer.echo("演示完成 · every step passed")
