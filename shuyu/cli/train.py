"""`shuyu train`: DP training on an authorised view, logged to MLflow (notebook image)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shuyu.train.run import train_and_log

app = typer.Typer(help="差分隐私训练 / DP training on an authorised view.", no_args_is_help=True)


@app.command("run")
def run(
    scenario: Annotated[
        str | None, typer.Option(help="scenario (default: the only one granted)")
    ] = None,
    view_dir: Annotated[
        Path | None, typer.Option(help="view directory (default: $SHUYU_DATA/<scenario>)")
    ] = None,
    epochs: int = 10,
    batch_size: int = 512,
    learning_rate: float = 0.5,
    max_grad_norm: float = 1.0,
    epsilon: Annotated[
        float | None, typer.Option(help="ε to spend (≤ the scenario budget)")
    ] = None,
    delta: Annotated[float | None, typer.Option(help="δ (≤ the scenario budget)")] = None,
    no_dp: Annotated[
        bool, typer.Option("--no-dp", help="non-private baseline, tagged dp=false")
    ] = False,
    experiment: Annotated[
        str | None,
        typer.Option(help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME or the scenario)"),
    ] = None,
    seed: int = 0,
) -> None:
    """Train, export to ONNX and log the run; prints the run id and the privacy spent."""
    result, logged = train_and_log(
        scenario,
        view_dir=view_dir,
        private=not no_dp,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_grad_norm=max_grad_norm,
        epsilon=epsilon,
        delta=delta,
        experiment=experiment,
        seed=seed,
    )
    spent = (
        f"ε={result.privacy.epsilon:.3f} (RDP {result.privacy.epsilon_rdp:.3f}), "
        f"δ={result.privacy.delta:g}"
        if result.privacy
        else "dp=false"
    )
    auc = result.history[-1].train_auc
    typer.echo(f"run {logged.run_id}: {spent}; train AUC {auc}; model {logged.model_uri}")
