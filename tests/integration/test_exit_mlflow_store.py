"""A partner's exit against the real MLflow server, in both of its deployments (SQLite +
a local folder, PostgreSQL + S3): its runs, logged models, registered versions and the
registry's copies go from MLflow's database and from the artifact store itself (read
directly, the folder or the bucket), the other partner keeps everything, the
certificate lists each item with its sha256, and an exit stopped half way is run again
to the end. The workspaces and sandboxes are folders here (`tests.unit.exit_world`);
`test_zz_exit` runs the same exit on the whole platform."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from shuyu.audit import events as audit_events
from shuyu.errors import InputError, ShuyuError
from shuyu.governance.exit import ExitDesk, ExitParts
from shuyu.governance.exit_certificate import ItemKind, certificate_html
from shuyu.governance.exit_files import StateFiles
from shuyu.governance.exit_mlflow import MlflowAdmin, ServerArtifactStore, local_python
from shuyu.governance.exit_states import ExitState, ExitTransitionRefused
from shuyu.production.tables import ProductionJobRow, ProductionRunRow
from shuyu.store.database import Database
from shuyu.tracking.admin_client import ADMIN_USERNAME, GATE_USERNAME, MlflowAccounts, Permission
from shuyu.tracking.artifact_store import artifact_store
from shuyu.tracking.experiments import REGISTRY_EXPERIMENT, experiment_name
from shuyu.tracking.store_client import MlflowStore
from tests.integration.mlflow_server import MlflowServer
from tests.unit.exit_world import (
    ADMIN,
    LEAVING,
    OTHER_ADMIN,
    SCENARIO,
    STAYING,
    STAYING_SCENARIO,
    STAYING_USER,
    USER,
    FolderWorkspaces,
    exit_desk,
)

pytestmark = [pytest.mark.integration, pytest.mark.host]

# ---------------------------------------------------------------- a partner's exit


@dataclass
class PartnerWorld:
    db: Database
    desk: ExitDesk
    workspaces: FolderWorkspaces
    server: MlflowServer
    outbox_file: Path
    job_file: Path
    run_id: str
    artifact: str
    artifact_bytes: bytes
    staying_run: str
    staying_artifact: str
    old_password: str


def _as_partner(server: MlflowServer, accounts: MlflowAccounts, user: str, scenario: str,
                partner: str) -> tuple[MlflowStore, str, str]:  # fmt: skip
    password = f"pw-{user}-0123456789"
    accounts.ensure_user(user, password)
    experiment = accounts.ensure_experiment(experiment_name(scenario, partner))
    accounts.grant(user, experiment, Permission.EDIT)
    return MlflowStore(server.url, user, password), experiment, password


@pytest.fixture
def partner_world(mlflow_server: MlflowServer, tmp_path: Path) -> Iterator[PartnerWorld]:
    db = Database(f"sqlite:///{tmp_path / 'state.sqlite'}")
    db.upgrade()
    audit_events.install_sink(db.url)
    server = mlflow_server
    admin = MlflowAdmin(server.url, ADMIN_USERNAME, server.admin_password)
    # the leaving partner's run with a model file, and a registered copy of it
    store, experiment, password = _as_partner(server, admin, USER, SCENARIO, LEAVING)
    run_id = store.create_run(experiment, "leaving", {})
    data = b"onnx bytes of the leaving partner " + run_id.encode()
    artifact = f"{experiment}/{run_id}/artifacts/model/model.onnx"
    store.upload(artifact, data)
    store.finish_run(run_id)
    gate = MlflowStore(server.url, GATE_USERNAME, server.gate_password)
    registry = gate.experiment_id(REGISTRY_EXPERIMENT)
    copy_run = gate.create_run(registry, "copy", {})
    gate.upload(f"{registry}/{copy_run}/artifacts/model/model.onnx", data)
    gate.finish_run(copy_run)
    model = f"{SCENARIO}.{LEAVING}"
    gate.ensure_registered_model(model)
    gate.create_model_version(
        model, f"mlflow-artifacts:/{registry}/{copy_run}/artifacts/model", copy_run, {}
    )
    # another partner's run, which the exit must not touch
    other, other_experiment, _ = _as_partner(server, admin, STAYING_USER, STAYING_SCENARIO, STAYING)
    staying_run = other.create_run(other_experiment, "staying", {})
    staying_artifact = f"{other_experiment}/{staying_run}/artifacts/model/model.onnx"
    other.upload(staying_artifact, b"the staying partner's model")
    other.finish_run(staying_run)
    # its workspace, its sandbox, its production job with an outbox copy and job files
    workspaces = FolderWorkspaces(tmp_path / "docker")
    workspaces.add_volume(USER, SCENARIO, {"work.ipynb": b"{}", "data/copy.parquet": b"PAR1"})
    workspaces.add_volume(STAYING_USER, STAYING_SCENARIO, {"mine.ipynb": b"{}"})
    workspaces.add_sandbox(USER)
    files = StateFiles(tmp_path / "outbox", tmp_path / "files")
    outbox_file = files.outbox_folder(SCENARIO, "R1") / "scores.csv"
    job_file = files.files / "jobs" / "J1" / "production.ipynb"
    for path, content in ((outbox_file, b"score\n1\n"), (job_file, b"{}")):
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    with db.session(write=True) as session:
        session.add(ProductionJobRow(
            id="J1", scenario=SCENARIO, partner=LEAVING, model_name=model, model_version="1",
            notebook_sha256="0" * 64, parameters="{}", cron="0 2 * * *", timeout_seconds=60,
            max_attempts=1, enabled=1, created_by="op-runner", created_at="2026-11-01",
        ))  # fmt: skip
        session.flush()
        session.add(ProductionRunRow(
            id="R1", job_id="J1", scheduled_for="2026-11-02", trigger="schedule",
            operator="platform", state="released", not_before="", created_at="2026-11-02",
        ))  # fmt: skip
    parts = ExitParts(
        workspaces=workspaces,
        tracking=admin,
        artifacts=ServerArtifactStore(
            local_python({**os.environ, **server.server_env}), str(server.state_dir)
        ),
        files=files,
    )
    try:
        yield PartnerWorld(
            db, exit_desk(db, tmp_path, parts, dt.date(2026, 12, 2)), workspaces, server,
            outbox_file, job_file, run_id, artifact, data, staying_run, staying_artifact,
            password,
        )  # fmt: skip
    finally:
        audit_events.flush_sink()
        admin.close()
        db.dispose()


def test_a_partners_exit_leaves_nothing_of_it_and_the_certificate_lists_it_all(
    partner_world: PartnerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = partner_world
    for key, value in w.server.store_env.items():
        monkeypatch.setenv(key, value)
    stored = artifact_store(w.server.artifacts)  # the folder or the bucket, read directly

    def in_store(path: str) -> bool:
        return path in {f[0] for f in stored.files([path.rsplit("/", 1)[0]])}

    assert in_store(w.artifact)
    view = w.desk.exit_partner(ADMIN, LEAVING, "合作期满退出")
    assert view.state is ExitState.VERIFIED, view
    certificate, _digest = w.desk.register.certificate(OTHER_ADMIN, view.id)
    listed = {(i.kind, i.identifier): i for i in certificate.items}

    # the old MLflow password opens nothing; the grant is gone
    old = requests.get(
        f"{w.server.url}/api/2.0/mlflow/experiments/search?max_results=1",
        auth=(USER, w.old_password),
        timeout=30,
    )
    assert old.status_code in {401, 403}
    admin = w.desk.parts.tracking if w.desk.parts else None
    assert isinstance(admin, MlflowAdmin)
    experiment = admin.experiment_id(experiment_name(SCENARIO, LEAVING))
    assert experiment is not None
    assert admin.permission(USER, experiment) is None
    # the run is gone from MLflow's database, its files from the artifact store
    assert not admin.run_exists(w.run_id)
    assert not in_store(w.artifact)
    assert not [f for f in stored.files([experiment]) if str(f[0]).endswith(".onnx")]
    artifact = listed[(ItemKind.ARTIFACT, w.artifact)]
    assert artifact.sha256 == hashlib.sha256(w.artifact_bytes).hexdigest()
    assert (ItemKind.RUN, w.run_id) in listed
    assert (ItemKind.REGISTERED_VERSION, f"{SCENARIO}.{LEAVING}/1") in listed
    assert not admin.version_exists(f"{SCENARIO}.{LEAVING}", "1")
    # the registry's copy goes with its version
    copies = [k for k in listed if k[0] is ItemKind.ARTIFACT and not k[1].startswith(experiment)]
    assert copies
    assert not any(in_store(path) for _kind, path in copies)
    # the workspace, the sandbox, the outbox copy and the job's files
    volume = f"shuyutest-home-{USER}--freight-truck-pricing"
    assert (ItemKind.VOLUME, volume) in listed
    assert not w.workspaces.volume_exists(volume)
    assert (ItemKind.CONTAINER, f"shuyutest-sandbox-{USER}") in listed
    assert (
        listed[(ItemKind.OUTBOX_FILE, str(w.outbox_file))].sha256
        == hashlib.sha256(b"score\n1\n").hexdigest()
    )
    assert not w.outbox_file.exists()
    assert (ItemKind.JOB_FILE, str(w.job_file)) in listed
    assert not w.job_file.exists()
    # every item was looked for again and found absent
    assert certificate.covers_items
    assert all(c.absent for c in certificate.checks)
    # access: frozen, its job disabled
    assert [f.scope for f in w.desk.freezes.list(ADMIN)] == [f"partner:{LEAVING}"]
    with w.db.session() as session:
        assert session.scalars(select(ProductionJobRow.enabled)).all() == [0]
    # the other partner keeps everything
    assert admin.run_exists(w.staying_run)
    assert in_store(w.staying_artifact)
    assert w.workspaces.volume_exists(f"shuyutest-home-{STAYING_USER}--bank-credit")
    # the document names each item with its sha256
    html = certificate_html(certificate, _digest)
    assert artifact.sha256 in html
    assert "数据删除证明" in html


def test_a_transferred_model_keeps_its_registered_versions(partner_world: PartnerWorld) -> None:
    w = partner_world
    model = f"{SCENARIO}.{LEAVING}"
    with pytest.raises(InputError, match="--transfer"):
        w.desk.exit_partner(ADMIN, LEAVING, "合作期满退出", transfer=["bank_credit.x"])
    view = w.desk.exit_partner(ADMIN, LEAVING, "合作期满退出，模型移交市局", transfer=[model])
    assert view.state is ExitState.VERIFIED
    assert view.transferred == [model]
    admin = w.desk.parts.tracking if w.desk.parts else None
    assert isinstance(admin, MlflowAdmin)
    assert admin.version_exists(model, "1")
    assert not admin.run_exists(w.run_id)  # the partner's own run still goes


def test_a_verification_that_finds_an_item_again_fails_the_certificate(
    partner_world: PartnerWorld,
) -> None:
    w = partner_world
    volume = f"shuyutest-home-{USER}--freight-truck-pricing"
    original = w.workspaces.remove_volume
    w.workspaces.remove_volume = lambda _name: None  # type: ignore[method-assign]
    try:
        view = w.desk.exit_partner(ADMIN, LEAVING, "合作期满退出")
    finally:
        w.workspaces.remove_volume = original  # type: ignore[method-assign]
    assert view.state is ExitState.VERIFICATION_FAILED
    certificate, _ = w.desk.register.certificate(OTHER_ADMIN, view.id)
    assert [(c.kind, c.identifier) for c in certificate.found_again] == [(ItemKind.VOLUME, volume)]
    with pytest.raises(ExitTransitionRefused):
        w.desk.register.accept(OTHER_ADMIN, view.id)
    again = w.desk.redo(ADMIN, view.id)
    assert again.state is ExitState.VERIFIED
    assert not w.workspaces.volume_exists(volume)


def test_a_deletion_that_stops_half_way_is_run_again_to_the_end(
    partner_world: PartnerWorld,
) -> None:
    w = partner_world

    def engine_gone(_name: str) -> None:
        raise ShuyuError("the Docker engine does not answer")

    original = w.workspaces.remove_volume
    w.workspaces.remove_volume = engine_gone  # type: ignore[method-assign]
    try:
        with pytest.raises(ShuyuError, match="does not answer"):
            w.desk.exit_partner(ADMIN, LEAVING, "合作期满退出")
    finally:
        w.workspaces.remove_volume = original  # type: ignore[method-assign]
    (stopped,) = w.desk.register.overview(ADMIN)
    assert stopped.state is ExitState.DELETING
    with pytest.raises(InputError, match="has exited already"):
        w.desk.exit_partner(ADMIN, LEAVING, "再次退出")
    done = w.desk.redo(ADMIN, stopped.id)
    assert done.state is ExitState.VERIFIED
    admin = w.desk.parts.tracking if w.desk.parts else None
    assert isinstance(admin, MlflowAdmin)
    assert not admin.run_exists(w.run_id)
    assert not w.workspaces.volume_exists(f"shuyutest-home-{USER}--freight-truck-pricing")
