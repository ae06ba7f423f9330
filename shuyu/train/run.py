"""One whole run from a notebook or terminal: read the view, train, log to MLflow.

In a sandbox only `SHUYU_DATA` (and `SHUYU_SCENARIO`) and the `MLFLOW_*` variables are
needed:

    from shuyu.train.run import train_and_log
    logged = train_and_log("bank_credit", epochs=10)
"""

from __future__ import annotations

from pathlib import Path

from shuyu.train.private import TrainResult, fit
from shuyu.train.tracking import LoggedRun, log_training
from shuyu.train.view import load_view, view_directory


def train_and_log(
    scenario: str | None = None,
    *,
    view_dir: Path | None = None,
    private: bool = True,
    epochs: int = 10,
    batch_size: int = 512,
    learning_rate: float = 0.5,
    max_grad_norm: float = 1.0,
    epsilon: float | None = None,
    delta: float | None = None,
    experiment: str | None = None,
    seed: int = 0,
) -> tuple[TrainResult, LoggedRun]:
    view = load_view(view_dir or view_directory(scenario))
    result = fit(
        view,
        private=private,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_grad_norm=max_grad_norm,
        epsilon=epsilon,
        delta=delta,
        seed=seed,
    )
    return result, log_training(result, experiment=experiment)
