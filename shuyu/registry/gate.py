"""The registry gate: snapshot a run's model, register an immutable, verified copy.

`snapshot_model` downloads a partner run's logged model into a directory the platform
owns and records the digests: that is what the self-check examines. `register_copy`
uploads exactly those files into a fresh run of the registry experiment (written only by
the gate), reads each one back to check its sha256, closes the run and registers it as a
new version whose tags carry the digests. Nothing of the partner's run is referenced by
the version, so nothing the partner does later can change what it serves.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_bytes
from shuyu.registry.approval import ApprovalRecord, approval_tags
from shuyu.registry.approved import APPROVED_ALIAS
from shuyu.registry.digests import DIGESTS_TAG, directory_digests, encode, sha256_bytes
from shuyu.tracking.experiments import REGISTRY_EXPERIMENT
from shuyu.tracking.store_client import MlflowStore, ModelVersion

MODEL_DIR = "model"
"""Where a registered copy's files live within its registry run's artifacts."""


@dataclass(frozen=True)
class ModelSnapshot:
    run_id: str
    model_id: str
    directory: Path
    digests: dict[str, str]


def snapshot_model(store: MlflowStore, run_id: str, directory: Path) -> ModelSnapshot:
    """Download the run's (one) logged model into `directory` and hash every file."""
    run = store.get_run(run_id)
    if len(run.model_ids) != 1:
        raise ShuyuError(
            f"run {run_id} has {len(run.model_ids)} logged models; a submission names a run "
            "with exactly one (log one model per run)"
        )
    model_id = run.model_ids[0]
    root = store.logged_model_artifacts(model_id)
    files = store.list_artifacts(root)
    if not files:
        raise ShuyuError(f"run {run_id}: its logged model {model_id} has no files")
    for item in files:
        target = directory / item.path
        if not target.resolve().is_relative_to(directory.resolve()):
            raise ShuyuError(f"run {run_id}: artifact path {item.path!r} leaves its folder")
        atomic_write_bytes(target, store.download(f"{root}/{item.path}"))
    return ModelSnapshot(run_id, model_id, directory, directory_digests(directory))


def register_copy(
    store: MlflowStore,
    snapshot: ModelSnapshot,
    *,
    model_name: str,
    registry_experiment_id: str,
    tags: dict[str, str],
) -> ModelVersion:
    """Register the snapshot's files as a new version of `model_name`, verified."""
    on_disk = directory_digests(snapshot.directory)
    if on_disk != snapshot.digests:
        changed = sorted(set(on_disk.items()) ^ set(snapshot.digests.items()))
        raise ShuyuError(
            f"the snapshot of run {snapshot.run_id} changed since it was checked "
            f"({changed[0][0]}): refusing to register it"
        )
    registry_run = store.create_run(
        registry_experiment_id,
        f"{model_name}-from-{snapshot.run_id[:8]}",
        {"shuyu.source_run_id": snapshot.run_id, "shuyu.source_model_id": snapshot.model_id},
    )
    root = f"{registry_experiment_id}/{registry_run}/artifacts/{MODEL_DIR}"
    for rel, digest in sorted(snapshot.digests.items()):
        data = (snapshot.directory / rel).read_bytes()
        store.upload(f"{root}/{rel}", data)
        stored = sha256_bytes(store.download(f"{root}/{rel}"))
        if stored != digest:
            raise ShuyuError(f"the registry copy of {rel} does not match what was checked")
    store.finish_run(registry_run)
    store.ensure_registered_model(model_name)
    version_tags = {
        **tags,
        DIGESTS_TAG: encode(snapshot.digests),
        "shuyu.source_run_id": snapshot.run_id,
    }
    return store.create_model_version(
        model_name, f"mlflow-artifacts:/{root}", registry_run, version_tags
    )


def snapshot_into_temp(store: MlflowStore, run_id: str) -> ModelSnapshot:
    """A snapshot in a new temporary directory (the caller removes it)."""
    return snapshot_model(store, run_id, Path(tempfile.mkdtemp(prefix="shuyu-snapshot.")))


@dataclass(frozen=True)
class GateRegistrar:
    """The review service's registrar: registers a checked model as `approved`."""

    store: MlflowStore
    approval_key: bytes

    def register(self, model_dir: Path, model_name: str, record: ApprovalRecord) -> tuple[str, str]:
        snapshot = ModelSnapshot(record.run_id, "", model_dir, directory_digests(model_dir))
        if snapshot.digests != record.model_digests:
            raise ShuyuError("the model files differ from those the reviewers approved")
        version = register_copy(
            self.store,
            snapshot,
            model_name=model_name,
            registry_experiment_id=self._registry_experiment(),
            tags={
                **approval_tags(record, self.approval_key),
                "shuyu.submission": record.submission_id,
                "shuyu.report_sha256": record.report_sha256,
                "shuyu.notebook_sha256": record.notebook_sha256,
                "shuyu.spec_sha256": record.spec_sha256,
            },
        )
        self.store.set_alias(model_name, APPROVED_ALIAS, version.version)
        return model_name, version.version

    def _registry_experiment(self) -> str:
        return self.store.experiment_id(REGISTRY_EXPERIMENT)
