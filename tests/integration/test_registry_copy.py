"""A registered, approved model cannot be changed by the partner who logged it.

Against a real MLflow server with shuyu's auth app: a partner logs a run with an ONNX
model; the registry gate snapshots it, registers a verified copy in `shuyu/registry` and
sets `approved`. Then the partner tries what a security review reproduced against the
first version of the platform — overwrite the model's files, patch or delete the logged
model, reopen the finished run, write into the registry's storage — and every attempt
must fail, while `load_approved` still serves the bytes that were checked. A change to
the registry's copy itself (here by the administrator) is caught at load time.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import mlflow
import mlflow.onnx
import onnx
import pytest
import requests
from onnx import TensorProto, helper

from shuyu.errors import ShuyuError
from shuyu.hub.mlflow_credentials import partner_mlflow_env
from shuyu.registry.approval import APPROVAL_TAG, ApprovalRecord, LevelApproval, approval_tags
from shuyu.registry.approved import load_approved
from shuyu.registry.digests import DIGESTS_TAG, decode, sha256_bytes
from shuyu.registry.gate import ModelSnapshot, register_copy, snapshot_into_temp
from shuyu.tracking.admin_client import ADMIN_USERNAME, GATE_USERNAME
from shuyu.tracking.experiments import REGISTRY_EXPERIMENT
from shuyu.tracking.store_client import ARTIFACTS, MlflowStore
from tests.integration.mlflow_server import MlflowServer

pytestmark = [pytest.mark.integration, pytest.mark.host]

MODEL = "bank-credit-copy"
PICKLE_MLMODEL = (
    "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
    "    pickled_model: model.pkl\n"
)


@dataclass(frozen=True)
class Approved:
    run_id: str
    model_id: str
    model_root: str  # the partner's logged model's files, under the artifact proxy
    snapshot: ModelSnapshot
    version: str
    partner: tuple[str, str]


def _tiny_onnx() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["score"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def approved(mlflow_server: MlflowServer) -> Iterator[Approved]:
    settings = mlflow_server.settings.model_copy(update={"secrets_dir": mlflow_server.secrets_dir})
    env = partner_mlflow_env(settings, "coal-analyst", "coal_market", "ordos_coal_data")
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        mlflow.set_tracking_uri(mlflow_server.url)
        experiment = mlflow.set_experiment(env["MLFLOW_EXPERIMENT_NAME"])
        with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
            info = mlflow.onnx.log_model(_tiny_onnx(), name="model")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    gate = MlflowStore(mlflow_server.url, GATE_USERNAME, mlflow_server.gate_password)
    snapshot = snapshot_into_temp(gate, run.info.run_id)
    with MlflowStore(mlflow_server.url, ADMIN_USERNAME, mlflow_server.admin_password) as admin:
        registry = admin._call(
            "GET",
            "/api/2.0/mlflow/experiments/get-by-name",
            params={"experiment_name": REGISTRY_EXPERIMENT},
        ).json()["experiment"]["experiment_id"]
    record = ApprovalRecord(
        submission_id="s-test",
        scenario="coal_market",
        partner="ordos_coal_data",
        submitter="coal-analyst",
        model_name=MODEL,
        run_id=run.info.run_id,
        levels=[LevelApproval(level="data_bureau", name="终审", reviewers=[("rv-bureau", "t")])],
        report_sha256="0" * 64,
        notebook_sha256="1" * 64,
        model_digests=snapshot.digests,
        privacy="claimed",
    )
    tags = approval_tags(record, mlflow_server.approval_key.encode())
    version = register_copy(
        gate, snapshot, model_name=MODEL, registry_experiment_id=registry, tags=tags
    )
    gate.set_alias(MODEL, "approved", version.version)
    try:
        yield Approved(
            run_id=run.info.run_id,
            model_id=info.model_id,
            model_root=gate.logged_model_artifacts(info.model_id),
            snapshot=snapshot,
            version=version.version,
            partner=(env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"]),
        )
    finally:
        shutil.rmtree(snapshot.directory, ignore_errors=True)
        gate.close()


def _as(server: MlflowServer, auth: tuple[str, str], method: str, path: str, **kw: object) -> int:
    got = requests.request(method, f"{server.url}{path}", auth=auth, timeout=60, **kw)  # type: ignore[arg-type]
    return got.status_code


def test_the_registry_holds_a_verified_copy_not_the_partners_run(
    mlflow_server: MlflowServer, approved: Approved
) -> None:
    with MlflowStore(mlflow_server.url, GATE_USERNAME, mlflow_server.gate_password) as gate:
        version = gate.version_by_alias(MODEL, "approved")
        assert version is not None
        assert version.run_id != approved.run_id  # the gate's own registry run
        assert decode(version.tags[DIGESTS_TAG]) == approved.snapshot.digests
        loaded = load_approved(gate, MODEL)
    assert "MLmodel" in loaded.files
    for name, data in loaded.files.items():
        assert sha256_bytes(data) == approved.snapshot.digests[name]


def test_the_partner_cannot_overwrite_the_model_files_after_the_run(
    mlflow_server: MlflowServer, approved: Approved
) -> None:
    for name in ("MLmodel", "model.onnx"):
        status = _as(
            mlflow_server,
            approved.partner,
            "PUT",
            f"{ARTIFACTS}/{approved.model_root}/{name}",
            data=PICKLE_MLMODEL.encode(),
        )
        assert status == 403, name
    # the run's own artifacts are final too
    experiment = approved.model_root.split("/", 1)[0]
    status = _as(
        mlflow_server,
        approved.partner,
        "PUT",
        f"{ARTIFACTS}/{experiment}/{approved.run_id}/artifacts/notes.txt",
        data=b"changed after the check",
    )
    assert status == 403


def test_the_partner_cannot_patch_delete_or_reopen(
    mlflow_server: MlflowServer, approved: Approved
) -> None:
    model = f"/api/2.0/mlflow/logged-models/{approved.model_id}"
    assert _as(mlflow_server, approved.partner, "PATCH", model, json={"status": "PENDING"}) == 403
    assert _as(mlflow_server, approved.partner, "DELETE", model) == 403
    reopen = {"run_id": approved.run_id, "status": "RUNNING"}
    assert (
        _as(mlflow_server, approved.partner, "POST", "/api/2.0/mlflow/runs/update", json=reopen)
        == 403
    )


def test_the_partner_cannot_read_or_write_the_registry_copy(
    mlflow_server: MlflowServer, approved: Approved
) -> None:
    with MlflowStore(mlflow_server.url, GATE_USERNAME, mlflow_server.gate_password) as gate:
        version = gate.get_version(MODEL, approved.version)
    root = version.source.removeprefix("mlflow-artifacts:/")
    assert _as(mlflow_server, approved.partner, "GET", f"{ARTIFACTS}/{root}/MLmodel") == 403
    status = _as(
        mlflow_server,
        approved.partner,
        "PUT",
        f"{ARTIFACTS}/{root}/MLmodel",
        data=PICKLE_MLMODEL.encode(),
    )
    assert status == 403


def test_what_the_partner_tried_left_the_approved_model_unchanged(
    mlflow_server: MlflowServer, approved: Approved
) -> None:
    with MlflowStore(mlflow_server.url, GATE_USERNAME, mlflow_server.gate_password) as gate:
        loaded = load_approved(gate, MODEL)
        assert b"pickled_model" not in loaded.file("MLmodel")


def test_a_change_to_the_registry_copy_is_caught_when_it_is_loaded(
    mlflow_server: MlflowServer, approved: Approved
) -> None:
    admin = (ADMIN_USERNAME, mlflow_server.admin_password)
    with MlflowStore(mlflow_server.url, GATE_USERNAME, mlflow_server.gate_password) as gate:
        version = gate.get_version(MODEL, approved.version)
        root = version.source.removeprefix("mlflow-artifacts:/")
        original = gate.download(f"{root}/MLmodel")
        assert (
            _as(
                mlflow_server,
                admin,
                "PUT",
                f"{ARTIFACTS}/{root}/MLmodel",
                data=PICKLE_MLMODEL.encode(),
            )
            == 200
        )
        try:
            with pytest.raises(ShuyuError, match="differs from what was approved"):
                load_approved(gate, MODEL)
        finally:
            assert (
                _as(mlflow_server, admin, "PUT", f"{ARTIFACTS}/{root}/MLmodel", data=original)
                == 200
            )
        load_approved(gate, MODEL)


def test_a_snapshot_changed_after_its_check_is_not_registered(
    mlflow_server: MlflowServer, approved: Approved
) -> None:
    (approved.snapshot.directory / "MLmodel").write_text(PICKLE_MLMODEL, encoding="utf-8")
    with (
        MlflowStore(mlflow_server.url, GATE_USERNAME, mlflow_server.gate_password) as gate,
        pytest.raises(ShuyuError, match="changed since it was checked"),
    ):
        register_copy(
            gate, approved.snapshot, model_name=MODEL, registry_experiment_id="0", tags={}
        )


def test_approved_cannot_point_at_a_version_without_a_signed_approval(
    mlflow_server: MlflowServer, approved: Approved
) -> None:
    with MlflowStore(mlflow_server.url, GATE_USERNAME, mlflow_server.gate_password) as gate:
        registry = gate.get_version(MODEL, approved.version).source
        assert registry
        experiment = registry.removeprefix("mlflow-artifacts:/").split("/", 1)[0]
        fresh = snapshot_into_temp(gate, approved.run_id)
        bare = register_copy(
            gate, fresh, model_name=MODEL, registry_experiment_id=experiment, tags={}
        )
        forged = register_copy(
            gate,
            fresh,
            model_name=MODEL,
            registry_experiment_id=experiment,
            tags={APPROVAL_TAG: "{}", "shuyu.approval_signature": "0" * 64},
        )
        for version in (bare, forged):
            body = {"name": MODEL, "alias": "approved", "version": version.version}
            got = requests.post(
                f"{mlflow_server.url}/api/2.0/mlflow/registered-models/alias",
                json=body,
                auth=(GATE_USERNAME, mlflow_server.gate_password),
                timeout=60,
            )
            assert got.status_code == 403, got.text
        # another alias is the gate's business
        gate.set_alias(MODEL, "candidate", bare.version)
        current = gate.version_by_alias(MODEL, "approved")
        assert current is not None
        assert current.version == approved.version
