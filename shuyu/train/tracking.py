"""Log a training run to MLflow: parameters, per-epoch metrics, the privacy spent, the
authorised view as the run's dataset input and the model as ONNX with a signature.

Only the MLflow client (mlflow-skinny) is needed; the server is reached through the
standard MLFLOW_TRACKING_URI / MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD
variables the hub puts in the sandbox. No input example is logged: it would copy rows
of the view out of the sandbox. No pickle-based flavour is ever used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import mlflow
import mlflow.onnx
import numpy as np
from mlflow.data.meta_dataset import MetaDataset
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema, TensorSpec

from shuyu.errors import ShuyuError
from shuyu.onnx_model import OUTPUT_NAME
from shuyu.train.export import to_onnx
from shuyu.train.private import TrainResult

EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
MODEL_NAME = "model"
DIGEST_LENGTH = 36
_COLUMN_TYPES = {
    "string": "string",
    "int": "long",
    "float": "double",
    "bool": "boolean",
    "date": "datetime",
    "datetime": "datetime",
}


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    experiment_id: str
    model_uri: str


def signature(result: TrainResult) -> ModelSignature:
    """Input names = the view's features, in order; dtypes as the ONNX graph takes them."""
    inputs: list[ColSpec | TensorSpec] = [
        TensorSpec(np.dtype(np.int64 if f.kind == "categorical" else np.float32), (-1,), f.name)
        for f in result.preprocessor.features
    ]
    outputs: list[ColSpec | TensorSpec] = [TensorSpec(np.dtype(np.float32), (-1,), OUTPUT_NAME)]
    return ModelSignature(inputs=Schema(inputs), outputs=Schema(outputs))


def view_dataset(result: TrainResult) -> MetaDataset:
    """The view as an MLflow dataset: name, digest and schema only, never its rows."""
    import warnings  # noqa: PLC0415

    from mlflow.data.dataset_source_registry import resolve_dataset_source  # noqa: PLC0415

    manifest = result.view.manifest
    columns = [*manifest.features, manifest.label]
    schema = Schema([ColSpec(_COLUMN_TYPES[c.type], c.name) for c in columns])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "can be interpreted in multiple ways": a local path
        source = resolve_dataset_source(str(result.view.train_path))
    return MetaDataset(  # type: ignore[abstract]
        source=source,
        name=manifest.scenario,
        # MLflow caps a digest at 36 characters: the sha256's prefix, the full value in
        # the input's and the run's tags
        digest=manifest.train_sha256[:DIGEST_LENGTH],
        schema=schema,
    )


def log_training(
    result: TrainResult, *, experiment: str | None = None, run_name: str | None = None
) -> LoggedRun:
    manifest = result.view.manifest
    experiment = experiment or os.environ.get(EXPERIMENT_ENV) or manifest.scenario
    try:
        exp = mlflow.set_experiment(experiment)
    except mlflow.exceptions.MlflowException as exc:
        raise ShuyuError(
            f"MLflow 实验 {experiment} 不可用 / experiment {experiment!r} is not usable "
            f"({exc.error_code}): check MLFLOW_TRACKING_URI and that your account may write it"
        ) from None
    onnx_model = to_onnx(result)  # before the run: a failed export leaves no half run
    tags = {
        "dp": "true" if result.dp else "false",
        "shuyu.scenario": manifest.scenario,
        "shuyu.train_sha256": manifest.train_sha256,
        "shuyu.grad_mode": result.grad_mode,
        "shuyu.preprocessing_data_independent": str(result.preprocessor.data_independent).lower(),
    }
    with mlflow.start_run(experiment_id=exp.experiment_id, run_name=run_name, tags=tags) as run:
        params = dict(result.params)
        if result.privacy is not None:
            params |= {
                "accountant": result.privacy.accountant,
                "accountant_cross_check": result.privacy.cross_check,
                "delta": result.privacy.delta,
            }
        mlflow.log_params({k: str(v) for k, v in params.items()})
        for epoch in result.history:
            values = {"train_loss": epoch.loss, "epoch_seconds": epoch.seconds}
            if epoch.train_auc is not None:
                values["train_auc"] = epoch.train_auc
            if epoch.epsilon is not None:
                values["epsilon"] = epoch.epsilon
            mlflow.log_metrics(
                {k: v for k, v in values.items() if np.isfinite(v)}, step=epoch.epoch
            )
        if result.privacy is not None:
            mlflow.log_metrics(
                {
                    "epsilon_spent": result.privacy.epsilon,
                    "epsilon_rdp": result.privacy.epsilon_rdp,
                    "delta": result.privacy.delta,
                    "noise_multiplier": result.privacy.noise_multiplier,
                    "sample_rate": result.privacy.sample_rate,
                }
            )
        mlflow.log_input(
            view_dataset(result),
            context="training",
            tags={"scenario": manifest.scenario, "shuyu.train_sha256": manifest.train_sha256},
        )
        mlflow.log_dict(result.preprocessor.model_dump(mode="json"), "preprocessing.json")
        info = mlflow.onnx.log_model(
            onnx_model,
            name=MODEL_NAME,
            signature=signature(result),
            save_as_external_data=False,
        )
    return LoggedRun(
        run_id=run.info.run_id, experiment_id=exp.experiment_id, model_uri=info.model_uri
    )
