"""MLflow for an exit: the administrator's calls (grants, passwords, runs, logged models,
registered versions) and the artifact store as the server keeps it.

MLflow deletes runs and logged models softly: their rows stay in its database and their
files in its artifact store. The hard deletion runs where the server's database, store
and store credentials are (inside the MLflow container, or beside a local server):
`PURGE` does what `mlflow gc` does for exactly the listed runs and logged models — it
refuses one that is not soft-deleted, removes its artifact folder and its rows — and
nothing else
(`mlflow gc` itself purges every soft-deleted run, model and experiment when a list is
empty, other partners' included). The server's backend URI and artifact store come from
`shuyu.tracking.serve.ServeOptions`, as the server itself reads them; the store is read
and emptied by `shuyu.tracking.artifact_store` (a local folder or an S3 bucket).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from shuyu.errors import ShuyuError
from shuyu.governance.exit_parts import FileEntry, Record, parse_listing
from shuyu.tracking.admin_client import MlflowAccounts
from shuyu.tracking.experiments import partner_experiments_like

PURGE = r"""
import json, sys
from pathlib import Path
from urllib.parse import urlparse
from shuyu.tracking.artifact_store import artifact_store, store_path
from shuyu.tracking.serve import ServeOptions
from mlflow.entities import LifecycleStage
from mlflow.tracking import _get_store

options = ServeOptions(state_dir=Path(sys.argv[1]))
spec = json.loads(sys.argv[2])
artifacts = artifact_store(options.resolved_artifacts())
store = _get_store(options.resolved_backend(), options.resolved_artifacts())

def item(uri):
    parsed = urlparse(uri)
    if parsed.scheme != 'mlflow-artifacts':
        sys.exit('artifact location %s is not behind the artifact proxy' % uri)
    path = store_path(parsed.path)
    # <exp>/<run>/artifacts and <exp>/models/<id>/artifacts: the whole item folder
    return path.rsplit('/', 1)[0] if path.endswith('/artifacts') else path

done = {'runs': [], 'models': []}
for run_id in spec['runs']:
    run = store.get_run(run_id)
    if run.info.lifecycle_stage != LifecycleStage.DELETED:
        sys.exit('run %s is not deleted: delete it first' % run_id)
    artifacts.delete(item(run.info.artifact_uri))
    store._hard_delete_run(run_id)
    done['runs'].append(run_id)
for model_id in spec['models']:
    model = store.get_logged_model(model_id, allow_deleted=True)
    artifacts.delete(item(model.artifact_location))
    store._hard_delete_logged_model(model_id)
    done['models'].append(model_id)
print(json.dumps(done))
"""

LISTING = r"""
import json, sys
from pathlib import Path
from shuyu.tracking.artifact_store import artifact_store
from shuyu.tracking.serve import ServeOptions

store = artifact_store(ServeOptions(state_dir=Path(sys.argv[1])).resolved_artifacts())
print(json.dumps(store.files(sys.argv[2:])))
"""

Run = Callable[[list[str]], str]
"""Runs `python3 <args>` where the MLflow server runs; returns its standard output."""


class ServerArtifactStore:
    """The artifact store of the MLflow server whose state folder is `state_dir`, read and
    purged by `run` in the server's own environment."""

    def __init__(self, run: Run, state_dir: str = "/srv/mlflow") -> None:
        self.run = run
        self.state_dir = state_dir

    def listing(self, prefixes: Sequence[str]) -> list[FileEntry]:
        if not prefixes:
            return []
        return parse_listing(self.run(["-c", LISTING, self.state_dir, *prefixes]))

    def purge(self, run_ids: Sequence[str], model_ids: Sequence[str]) -> str:
        if not run_ids and not model_ids:
            return ""
        spec = json.dumps({"runs": list(run_ids), "models": list(model_ids)})
        return self.run(["-c", PURGE, self.state_dir, spec])


def local_python(env: dict[str, str] | None = None) -> Run:
    """`python3` here: for a server that runs on this machine (tests, a single host)."""

    def run(args: list[str]) -> str:
        done = subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, check=False, env=env
        )
        if done.returncode != 0:
            raise ShuyuError(f"MLflow purge/listing failed: {done.stderr.strip()[-400:]}")
        return done.stdout

    return run


def compose_python(layout: Any, settings: Any) -> Run:
    """`python3` inside the MLflow container, as the server's own user."""
    from shuyu.platform.compose import compose  # noqa: PLC0415 - host side only

    def run(args: list[str]) -> str:
        done = compose(
            layout,
            settings,
            ["exec", "-T", "--user", "mlflow", "mlflow", "python3", *args],
            capture=True,
        )
        return done.stdout

    return run


class MlflowAdmin(MlflowAccounts):
    """The administrator's calls an exit makes, over MLflow's REST API."""

    def experiments(self, partner: str) -> dict[str, str]:
        return self.experiment_ids(partner_experiments_like(partner))

    def revoke_grants(self, username: str, experiment_ids: Sequence[str]) -> list[str]:
        revoked = []
        for experiment_id in experiment_ids:
            if self.permission(username, experiment_id) is not None:
                self.revoke(username, experiment_id)
                revoked.append(experiment_id)
        return revoked

    def disable_login(self, username: str) -> bool:
        """A new random password that nobody is told: the old one, and any token made
        from it, opens nothing. False when the account never existed."""
        if self.get_user(username) is None:
            return False
        self.set_password(username, secrets.token_urlsafe(32))
        return True

    def _paged(self, path: str, body: dict[str, Any], key: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token = ""
        while True:
            page = self._call(
                "POST", path, json={**body, **({"page_token": token} if token else {})}
            )
            data = page.json()
            found += data.get(key) or []
            token = data.get("next_page_token") or ""
            if not token:
                return found

    def runs(self, experiment_ids: Sequence[str]) -> list[Record]:
        if not experiment_ids:
            return []
        rows = self._paged(
            "/api/2.0/mlflow/runs/search",
            {"experiment_ids": list(experiment_ids), "run_view_type": "ALL", "max_results": 1000},
            "runs",
        )
        return [Record(str(r["info"]["run_id"]), dict(r["info"])) for r in rows]

    def logged_models(self, experiment_ids: Sequence[str]) -> list[Record]:
        if not experiment_ids:
            return []
        rows = self._paged(
            "/api/2.0/mlflow/logged-models/search",
            {"experiment_ids": list(experiment_ids), "max_results": 100},
            "models",
        )
        return [Record(str(m["info"]["model_id"]), dict(m["info"])) for m in rows]

    def versions(self, model_name: str) -> list[Record]:
        found = self._call(
            "GET",
            "/api/2.0/mlflow/model-versions/search",
            params={"filter": f"name='{model_name}'", "max_results": 1000},
        ).json()
        return [
            Record(str(v["version"]), dict(v))
            for v in found.get("model_versions") or []
            if v.get("name") == model_name
        ]

    def delete_version(self, model_name: str, version: str) -> None:
        self._call(
            "DELETE",
            "/api/2.0/mlflow/model-versions/delete",
            json={"name": model_name, "version": version},
            ok=(200, 404),
        )

    def delete_registered_model(self, model_name: str) -> None:
        self._call(
            "DELETE",
            "/api/2.0/mlflow/registered-models/delete",
            json={"name": model_name},
            ok=(200, 404),
        )

    def delete_run(self, run_id: str) -> None:
        self._call("POST", "/api/2.0/mlflow/runs/delete", json={"run_id": run_id})

    def delete_logged_model(self, model_id: str) -> None:
        self._call("DELETE", f"/api/2.0/mlflow/logged-models/{model_id}", ok=(200, 404))

    def run_exists(self, run_id: str) -> bool:
        """In MLflow's database at all (a soft-deleted run still is)."""
        got = self._call(
            "GET", "/api/2.0/mlflow/runs/get", params={"run_id": run_id}, ok=(200, 404)
        )
        return got.status_code == 200

    def logged_model_exists(self, model_id: str) -> bool:
        got = self._call("GET", f"/api/2.0/mlflow/logged-models/{model_id}", ok=(200, 404))
        return got.status_code == 200

    def version_exists(self, model_name: str, version: str) -> bool:
        got = self._call(
            "GET",
            "/api/2.0/mlflow/model-versions/get",
            params={"name": model_name, "version": version},
            ok=(200, 404),
        )
        return got.status_code == 200


def artifact_prefix(uri: str) -> str:
    """The store path of an item's folder: `mlflow-artifacts:/3/abc/artifacts` → `3/abc`."""
    from shuyu.tracking.store_client import artifact_path_of  # noqa: PLC0415

    path = artifact_path_of(uri)
    return path.removesuffix("/artifacts") if path.endswith("/artifacts") else path
