"""A partner exits (退出) the running platform, and the attack is every way back in and
every place a copy could stay: its login is gone and a session it opened before cannot
start a sandbox, its old MLflow password opens nothing, its workspace volume is gone
from Docker, its run from MLflow's database and its artifact files from the artifact
store inside the MLflow container; the certificate lists each with its sha256 and the
verification finds none of them; the administrator who ran it cannot accept it, another
can; a certificate changed after it was stored is caught by its sha256.

Named to run last: the partner (`exit_bank`, added to the test copy of the policies by
the platform fixture) is deleted for good, and no other test uses it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
import requests

from shuyu.audit.events import flush_sink
from shuyu.errors import ShuyuError
from shuyu.governance.exit_certificate import ItemKind
from shuyu.governance.exit_host import host_exit_desk
from shuyu.governance.exit_mlflow import ServerArtifactStore, compose_python
from shuyu.governance.exit_states import ExitState, ExitTransitionRefused
from shuyu.governance.exit_store import CertificateTampered
from shuyu.governance.exit_tables import ExitRow
from shuyu.policy import load_policies
from shuyu.review.service import Principal
from shuyu.store.database import Database
from tests.integration.containers import exec_in, python_in
from tests.integration.platform_fixture import EXIT_PARTNER, EXIT_USER, RunningPlatform

pytestmark = pytest.mark.integration

ADMIN = Principal("admin", frozenset({"admins"}))
BUREAU = Principal("admin-spare", frozenset({"admins"}))

LOG_RUN = """
import json, mlflow
with mlflow.start_run() as run:
    mlflow.log_param("purpose", "exit test")
    mlflow.log_text("the partner's notes, to be deleted on exit", "notes/notes.txt")
print(json.dumps({"run_id": run.info.run_id, "experiment_id": run.info.experiment_id}))
"""


def _mlflow_password(platform: RunningPlatform, container: str) -> str:
    env = exec_in(container, "env").stdout.splitlines()
    return next(
        line.split("=", 1)[1] for line in env if line.startswith("MLFLOW_TRACKING_PASSWORD=")
    )


def _store_listing(platform: RunningPlatform, prefix: str) -> set[str]:
    """The artifact store's files under `prefix`, as the MLflow container sees them."""
    store = ServerArtifactStore(compose_python(platform.layout, platform.settings))
    return {e.path for e in store.listing([prefix])}


def _volume_exists(name: str) -> bool:
    done = subprocess.run(["docker", "volume", "inspect", name], capture_output=True, check=False)
    return done.returncode == 0


def test_an_exited_partner_leaves_nothing_behind_and_the_bureau_accepts_the_certificate(
    platform: RunningPlatform,
) -> None:
    policies = load_policies(platform.policies)
    volume = platform.settings.workspace_volume(EXIT_USER, "bank_credit")
    opened = platform.login(EXIT_USER)  # a session opened before the exit
    with platform.running(EXIT_USER) as container:
        wrote = exec_in(container, "sh", "-c", "echo 'a copy of my work' > /home/jovyan/notes.txt")
        assert wrote.returncode == 0, wrote.stderr
        logged = python_in(container, LOG_RUN)
        assert logged.returncode == 0, logged.stderr[-2000:]
        run = json.loads(logged.stdout.strip().splitlines()[-1])
        password = _mlflow_password(platform, container)
        artifact = f"{run['experiment_id']}/{run['run_id']}/artifacts/notes/notes.txt"
        assert artifact in _store_listing(platform, run["experiment_id"])
        assert _volume_exists(volume)

        # the exit, while the sandbox runs
        desk = host_exit_desk(platform.layout, platform.settings, lambda: policies)
        view = desk.exit_partner(ADMIN, EXIT_PARTNER, "合作协议期满，退出平台")
        assert view.state is ExitState.VERIFIED, view
        assert not platform.container(EXIT_USER)
        assert view.revoked["hub_logins"] == [EXIT_USER]

    # no way back in: no new login, and a session opened before cannot spawn
    with pytest.raises(ShuyuError, match="cannot log in"):
        platform.login(EXIT_USER)
    refused = opened.api("POST", f"/users/{EXIT_USER}/server")
    assert refused.status_code == 403
    # the account is gone, so its old session's cookie no longer names anyone (the
    # freeze would refuse the spawn if it did)
    assert "invalid credentials" in refused.text or "frozen" in refused.text, refused.text
    assert not platform.container(EXIT_USER)
    old = requests.get(
        f"{platform.settings.mlflow_url}/api/2.0/mlflow/experiments/search",
        params={"max_results": 1},
        auth=(EXIT_USER, password),
        timeout=60,
    )
    assert old.status_code in {401, 403}

    # nothing left: Docker, MLflow's database, its artifact store
    assert not _volume_exists(volume)
    assert desk.parts is not None
    assert not desk.parts.tracking.run_exists(run["run_id"])
    assert artifact not in _store_listing(platform, run["experiment_id"])

    # the certificate lists each with its sha256, and the verification found none
    certificate, digest = desk.register.certificate(BUREAU, view.id)
    listed = {(i.kind, i.identifier): i for i in certificate.items}
    notes = b"the partner's notes, to be deleted on exit"
    assert listed[(ItemKind.ARTIFACT, artifact)].sha256 == hashlib.sha256(notes).hexdigest()
    assert (ItemKind.RUN, run["run_id"]) in listed
    assert (ItemKind.VOLUME, volume) in listed
    assert len(listed[(ItemKind.VOLUME, volume)].sha256) == 64
    assert any(k is ItemKind.CONTAINER for k, _ in listed)
    assert certificate.covers_items
    assert not certificate.found_again

    # 验收: not by who ran it; by another administrator; never a changed certificate
    with pytest.raises(ExitTransitionRefused):
        desk.register.accept(ADMIN, view.id)
    db = Database(platform.layout.db_url)
    with db.session(write=True) as s:
        row = s.get(ExitRow, view.id)
        assert row is not None
        original = row.certificate
        changed = json.loads(original)
        changed["items"] = [i for i in changed["items"] if i["kind"] != "volume"]
        row.certificate = json.dumps(changed)
    with pytest.raises(CertificateTampered):
        desk.register.accept(BUREAU, view.id)
    with db.session(write=True) as s:
        row = s.get(ExitRow, view.id)
        assert row is not None
        row.certificate = original
    accepted = desk.register.accept(BUREAU, view.id, "已核验，同意验收")
    assert accepted.state is ExitState.ACCEPTED
    assert accepted.certificate_sha256 == digest
    flush_sink()
    db.dispose()
