"""A partner trains with DP inside a real sandbox and logs to MLflow over the internal
network — with nothing but the environment the hub gave the sandbox."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest
import requests

from shuyu.tracking.admin_client import ADMIN_USERNAME
from shuyu.tracking.bootstrap import experiment_name
from tests.integration.platform_fixture import RunningPlatform

pytestmark = pytest.mark.integration

PARTNER = "ordos-risk"

TRAIN = """
import json
from shuyu.train.run import train_and_log
result, logged = train_and_log("bank_credit", epochs=2)
print(json.dumps({"run_id": logged.run_id, "epsilon": result.privacy.epsilon}))
"""


@pytest.fixture(scope="module")
def trainer_sandbox(platform: RunningPlatform) -> Iterator[str]:
    with platform.running(PARTNER) as container:
        yield container


def _admin_get(platform: RunningPlatform, path: str, **params: str) -> dict:  # type: ignore[type-arg]
    password = (platform.layout.mlflow_secrets / "admin_password").read_text().strip()
    answer = requests.get(
        f"{platform.settings.mlflow_url}/api/2.0/mlflow/{path}",
        params=params,
        auth=(ADMIN_USERNAME, password),
        timeout=60,
    )
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def test_dp_training_in_the_sandbox_lands_in_the_partners_experiment(
    platform: RunningPlatform, trainer_sandbox: str
) -> None:
    done = subprocess.run(
        ["docker", "exec", trainer_sandbox, "python", "-c", TRAIN],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    policies_budget = 3.0  # bank_credit's ε in policies/scenarios/bank_credit.yaml
    assert 0 < out["epsilon"] <= policies_budget

    run = _admin_get(platform, "runs/get", run_id=out["run_id"])["run"]
    experiment = _admin_get(platform, "experiments/get", experiment_id=run["info"]["experiment_id"])
    assert experiment["experiment"]["name"] == experiment_name("bank_credit", "ordos_bank")
    assert run["info"]["user_id"] == PARTNER
    tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    assert tags["dp"] == "true"
    inputs = run["inputs"]["dataset_inputs"]
    manifest = json.loads(
        subprocess.run(
            ["docker", "exec", trainer_sandbox, "cat", "/data/bank_credit/view.json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    digests = [i["dataset"]["digest"] for i in inputs if i["dataset"]["name"] == "bank_credit"]
    assert len(digests) == 1
    assert digests[0]
    assert manifest["train_sha256"].startswith(digests[0])


def test_the_sandbox_holds_no_storage_or_admin_credentials(trainer_sandbox: str) -> None:
    env = subprocess.run(
        ["docker", "exec", trainer_sandbox, "env"], capture_output=True, text=True, check=True
    ).stdout
    names = {line.split("=", 1)[0] for line in env.splitlines()}
    assert {"MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"} <= names
    assert not any(n.startswith(("AWS_", "MLFLOW_S3", "AZURE_", "GOOGLE_")) for n in names)
    assert f"MLFLOW_TRACKING_USERNAME={PARTNER}" in env
    assert "admin" not in {
        line.split("=", 1)[1] for line in env.splitlines() if line.startswith("MLFLOW_TRACKING_U")
    }
