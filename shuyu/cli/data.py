"""`shuyu data …`: synthetic raw data, masking, authorised views."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.cli import data_generate
from shuyu.data.masking.key import generate_key_file, read_key
from shuyu.data.masking.mask import mask_directory
from shuyu.data.views import build_views
from shuyu.policy import load_policies

app = typer.Typer(help="Data plane: generate, mask, build authorised views.", no_args_is_help=True)
app.command("generate")(data_generate.generate)


# ---------------------------------------------------------------- masking and views
# (keygen, mask, views: implementations in shuyu.data.masking and shuyu.data.views)

PoliciesOption = Annotated[
    Path | None,
    typer.Option("--policies", help="Policy directory (default: $SHUYU_POLICIES or ./policies)."),
]


@app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Where to write the new key (mode 0600).")],
) -> None:
    """Create the masking key: 32 random bytes as hex. Never overwrites a key."""
    generate_key_file(out)
    typer.echo(f"masking key written to {out} (mode 0600); keep it out of every sandbox")


@app.command("mask")
def mask(
    raw: Annotated[Path, typer.Option("--raw", help="Directory of raw <dataset>.parquet.")],
    out: Annotated[Path, typer.Option("--out", help="The masked zone to write.")],
    policies: PoliciesOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty --out.")] = False,
) -> None:
    """Mask every raw table (key from $SHUYU_MASKING_KEY_FILE); all or nothing."""
    loaded = load_policies(policies)
    report = mask_directory(raw, out, policies=loaded, key=read_key(), force=force)
    rows = sum(d.rows_out for d in report.datasets)
    typer.echo(
        f"OK: {len(report.datasets)} datasets masked, {rows} rows, "
        f"report {out / 'masking_report.txt'}"
    )


@app.command("views")
def views(
    masked: Annotated[Path, typer.Option("--masked", help="The masked zone (from `mask`).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write <scenario>/ views.")],
    scenario: Annotated[
        str | None, typer.Option("--scenario", help="Build only this scenario's view.")
    ] = None,
    policies: PoliciesOption = None,
) -> None:
    """Build each scenario's authorised view: train.parquet, holdout.parquet, view.json."""
    loaded = load_policies(policies)
    for manifest in build_views(masked, out, policies=loaded, key=read_key(), scenario_id=scenario):
        typer.echo(
            f"{manifest.scenario}: train {manifest.train_rows} rows, "
            f"holdout {manifest.holdout_rows} rows, {len(manifest.features)} features"
        )
