"""Tracking writes MLflow would allow to an experiment's EDIT holder, refused once the
thing written is done: a finished run, a ready logged model, the registry's copies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shuyu.errors import InputError
from shuyu.tracking.artifact_store import LocalArtifacts, store_path, usage_for
from shuyu.tracking.write_rules import (
    Limits,
    TrackingState,
    artifact_write_refusal,
    logged_model_refusal,
    run_update_refusal,
)

RUN = "0123456789abcdef0123456789abcdef"
OPEN_RUN = "f" * 32
LIMITS = Limits(artifact_max_bytes=1000, experiment_quota_bytes=5000)
ART = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def state(tmp_path: Path) -> TrackingState:
    runs = {RUN: "FINISHED", OPEN_RUN: "RUNNING"}
    models = {"m-ready": "READY", "m-pending": "PENDING"}
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "old.bin").write_bytes(b"x" * 4500)
    return TrackingState(
        runs.get, models.get, {"shuyu/registry": "9"}.get, LocalArtifacts(tmp_path).usage
    )


def test_a_running_run_takes_artifacts(state: TrackingState) -> None:
    assert (
        artifact_write_refusal("PUT", f"{ART}/3/{OPEN_RUN}/artifacts/a.json", 10, state, LIMITS)
        is None
    )


def test_a_finished_run_is_final(state: TrackingState) -> None:
    refused = artifact_write_refusal(
        "PUT", f"{ART}/3/{RUN}/artifacts/model/MLmodel", 10, state, LIMITS
    )
    assert refused is not None
    assert refused.status == 403


def test_a_ready_logged_model_is_final_a_pending_one_is_not(state: TrackingState) -> None:
    ready = f"{ART}/3/models/m-ready/artifacts/MLmodel"
    pending = f"{ART}/3/models/m-pending/artifacts/MLmodel"
    assert artifact_write_refusal("PUT", ready, 10, state, LIMITS) is not None
    assert artifact_write_refusal("PUT", pending, 10, state, LIMITS) is None


def test_the_registry_experiment_and_odd_paths_take_nothing(state: TrackingState) -> None:
    for target in (f"9/{OPEN_RUN}/artifacts/x", "3/anything.txt", "3/../7/x"):
        assert artifact_write_refusal("PUT", f"{ART}/{target}", 10, state, LIMITS) is not None


def test_uploads_state_their_size_within_the_limits(state: TrackingState) -> None:
    path = f"{ART}/7/{OPEN_RUN}/artifacts/a.bin"
    assert artifact_write_refusal("PUT", path, None, state, LIMITS).status == 411  # type: ignore[union-attr]
    assert artifact_write_refusal("PUT", path, 2000, state, LIMITS).status == 413  # type: ignore[union-attr]
    assert artifact_write_refusal("PUT", path, 400, state, LIMITS) is None  # 4900 of 5000
    over = artifact_write_refusal("PUT", path, 200, state, LIMITS)  # counted: 5100
    assert over is not None
    assert over.status == 413


def test_logged_models_change_only_while_pending(state: TrackingState) -> None:
    assert logged_model_refusal("PATCH", "/api/2.0/mlflow/logged-models/m-pending", state) is None
    for method, path in (
        ("PATCH", "/api/2.0/mlflow/logged-models/m-ready"),
        ("DELETE", "/api/2.0/mlflow/logged-models/m-ready"),
        ("PATCH", "/api/2.0/mlflow/logged-models/m-ready/tags"),
        ("DELETE", "/ajax-api/2.0/mlflow/logged-models/m-ready/tags/k"),
    ):
        assert logged_model_refusal(method, path, state) is not None, (method, path)


def test_a_finished_run_is_not_reopened(state: TrackingState) -> None:
    assert run_update_refusal("/mlflow/runs/update", {"run_id": RUN, "status": "RUNNING"}, state)
    assert not run_update_refusal(
        "/mlflow/runs/update", {"run_id": RUN, "status": "FINISHED"}, state
    )
    assert not run_update_refusal(
        "/mlflow/runs/update", {"run_id": OPEN_RUN, "status": "RUNNING"}, state
    )


@pytest.mark.parametrize(
    ("destination", "accepted"),
    [
        ("/srv/mlflow/artifacts", True),
        ("file:///srv/mlflow/artifacts", True),
        ("s3://mlflow/artifacts", True),
        ("gs://bucket/artifacts", False),  # a quota nobody measures would not apply
        ("s3:///no-bucket", False),
        ("", False),
    ],
)
def test_the_guard_starts_only_on_a_store_whose_quota_it_can_measure(
    destination: str, accepted: bool
) -> None:
    if accepted:
        assert callable(usage_for(destination))
    else:
        with pytest.raises(InputError, match="SHUYU_MLFLOW_ARTIFACTS_DESTINATION"):
            usage_for(destination)


@pytest.mark.parametrize("path", ["../8", "7/../../8", "..", "/", ""])
def test_the_store_is_never_read_or_emptied_outside_itself(tmp_path: Path, path: str) -> None:
    store = LocalArtifacts(tmp_path / "store")
    (tmp_path / "8").mkdir()
    (tmp_path / "8" / "other.bin").write_bytes(b"y")
    with pytest.raises(InputError, match="not inside the artifact store"):
        store.delete(path)
    with pytest.raises(InputError, match="not inside the artifact store"):
        store.files([path])
    assert (tmp_path / "8" / "other.bin").exists()


def test_a_local_store_lists_and_deletes_one_items_folder(
    state: TrackingState, tmp_path: Path
) -> None:
    store = LocalArtifacts(tmp_path)
    (tmp_path / "70").mkdir()
    (tmp_path / "70" / "kept.bin").write_bytes(b"k")
    assert store.files(["7"]) == [["7/old.bin", 4500, hashlib.sha256(b"x" * 4500).hexdigest()]]
    store.delete("7")
    assert store.files(["7"]) == []
    assert store_path("70/") == "70"
    assert store.usage("70") == 1
