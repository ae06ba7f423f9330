"""`shuyu policy …`: validate the policy files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.errors import ProblemsError
from shuyu.policy import load_policies

app = typer.Typer(
    help="Policies: catalogue, scenarios, thresholds, review chain.", no_args_is_help=True
)

PoliciesOption = Annotated[
    Path | None,
    typer.Option("--policies", help="Policy directory (default: $SHUYU_POLICIES or ./policies)."),
]


@app.command("check")
def check(policies: PoliciesOption = None) -> None:
    """Validate every policy file; print OK or every problem as `file: path: reason`."""
    try:
        loaded = load_policies(policies)
    except ProblemsError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(2) from None
    typer.echo(f"OK: {len(loaded.catalogue)} datasets, {len(loaded.scenarios)} scenarios")
