"""DP training logged to the real, permission-enforcing MLflow server as a partner would
from a sandbox: only SHUYU_DATA and the MLFLOW_* variables the hub provides."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import onnx
import polars as pl
import pytest

from shuyu.data.pipeline import build_demo_views
from shuyu.hub.mlflow_credentials import partner_mlflow_env
from shuyu.onnx_model import model_inputs as raw_inputs
from shuyu.onnx_model import onnx_predict
from shuyu.policy import load_policies
from shuyu.settings import PlatformSettings
from shuyu.train.metrics import roc_auc
from shuyu.train.run import train_and_log
from tests.integration.mlflow_server import MlflowServer

pytestmark = [pytest.mark.integration, pytest.mark.host]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bank_credit view from the real pipeline (generate → mask → views)."""
    return build_demo_views(
        tmp_path_factory.mktemp("pipeline"),
        load_policies(),
        key=secrets.token_bytes(32),
        scale=6000,
        seed=5,
        scenario="bank_credit",
    )


@pytest.fixture
def sandbox_env(
    mlflow_server: MlflowServer, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    settings: PlatformSettings = mlflow_server.settings.model_copy(
        update={"secrets_dir": mlflow_server.secrets_dir}
    )
    env = partner_mlflow_env(settings, "sz-train", "bank_credit", "suzhou_rcb")
    env |= {"SHUYU_DATA": str(data_root), "SHUYU_SCENARIO": "bank_credit"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NO_PROXY", "*")
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    return env


def test_dp_run_is_logged_with_budget_dataset_and_onnx_model(
    sandbox_env: dict[str, str], data_root: Path
) -> None:
    result, logged = train_and_log(epochs=4, batch_size=256)
    budget = result.view.manifest.dp
    assert result.privacy is not None
    assert result.privacy.epsilon <= budget.epsilon

    client = mlflow.MlflowClient()
    run = client.get_run(logged.run_id)
    assert run.data.tags["dp"] == "true"
    assert run.data.metrics["epsilon_spent"] <= budget.epsilon
    assert run.data.metrics["delta"] == budget.delta
    for key in ("noise_multiplier", "max_grad_norm", "sample_rate", "accountant"):
        assert key in run.data.params or key in run.data.metrics
    assert run.data.params["accountant"] == "prv"
    assert run.data.params["accountant_cross_check"] == "rdp"
    history = client.get_metric_history(logged.run_id, "epsilon")
    assert [m.step for m in history] == [1, 2, 3, 4]
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "bank_credit"
    sha256 = result.view.manifest.train_sha256
    assert dataset_input.dataset.digest == sha256[:36]  # MLflow's limit; full value in tags
    input_tags = {t.key: t.value for t in dataset_input.tags}
    assert input_tags["scenario"] == "bank_credit"
    assert input_tags["shuyu.train_sha256"] == sha256

    # the model comes back as ONNX whose inputs are exactly the view's features ...
    model_dir = Path(mlflow.artifacts.download_artifacts(logged.model_uri))
    mlmodel = (model_dir / "MLmodel").read_text()
    assert "onnx:" in mlmodel
    assert "python_function" in mlmodel
    assert "pickle" not in mlmodel
    assert not list(model_dir.rglob("*.pkl"))
    info = mlflow.models.get_model_info(logged.model_uri)
    names = [spec.name for spec in info.signature.inputs.inputs]
    assert names == result.view.manifest.feature_names
    proto = onnx.load(str(next(model_dir.rglob("*.onnx"))))
    assert [i.name for i in proto.graph.input] == names
    # ... and beats a constant predictor on the holdout the sandbox never sees
    holdout = pl.read_parquet(data_root / "bank_credit" / "holdout.parquet")
    scores = onnx_predict(proto, raw_inputs(result.preprocessor, holdout))
    labels = holdout[result.view.manifest.label.name].to_numpy()
    assert roc_auc(labels, np.full(len(labels), 0.5)) == 0.5
    assert roc_auc(labels, scores) > 0.6


def test_non_private_baseline_is_tagged_and_over_budget_is_refused(
    sandbox_env: dict[str, str],
) -> None:
    _, logged = train_and_log(private=False, epochs=1)
    assert mlflow.MlflowClient().get_run(logged.run_id).data.tags["dp"] == "false"
    done = subprocess.run(
        [sys.executable, "-m", "shuyu.train", "run", "--epochs", "1", "--epsilon", "50"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "ε ≤ 3.0" in done.stderr
    assert "error:" in done.stderr
