"""`shuyu data …`: synthetic raw data, masking, authorised views."""

from __future__ import annotations

import typer

app = typer.Typer(help="Data plane: generate, mask, build authorised views.", no_args_is_help=True)
