"""A typed client over the MLflow REST API for runs, artifacts and the model registry.

Used by the platform's own accounts (the registry gate in the review service; tests as
partners). Artifacts go through the server's `mlflow-artifacts` proxy, so no storage
credential is ever needed outside the MLflow server.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

from shuyu.errors import ShuyuError
from shuyu.tracking.http import MlflowHttp

ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@dataclass(frozen=True)
class ArtifactFile:
    path: str  # relative to the listed root
    size: int


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    status: str
    user_id: str
    artifact_uri: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]
    inputs: list[dict[str, Any]]
    model_ids: list[str]


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    source: str
    run_id: str
    tags: dict[str, str]
    aliases: list[str]


def artifact_path_of(uri: str) -> str:
    """`mlflow-artifacts:/1/abc/artifacts` (or with a host) → `1/abc/artifacts`."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "mlflow-artifacts":
        raise ShuyuError(
            f"artifact location {uri!r} is not served by MLflow's artifact proxy: "
            "the server must run with --serve-artifacts"
        )
    return parsed.path.lstrip("/")


def _kv(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {str(i["key"]): str(i.get("value", "")) for i in items or []}


class MlflowStore(MlflowHttp):
    # ------------------------------------------------------------ runs

    def get_run(self, run_id: str) -> RunInfo:
        body = self._call("GET", "/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()
        run = body["run"]
        info, data = run["info"], run.get("data", {})
        outputs = (run.get("outputs") or {}).get("model_outputs") or []
        inputs = (run.get("inputs") or {}).get("dataset_inputs") or []
        return RunInfo(
            run_id=info["run_id"],
            experiment_id=str(info["experiment_id"]),
            status=str(info.get("status", "")),
            user_id=str(info.get("user_id", "")),
            artifact_uri=str(info.get("artifact_uri", "")),
            params=_kv(data.get("params")),
            tags=_kv(data.get("tags")),
            metrics={str(m["key"]): float(m["value"]) for m in data.get("metrics") or []},
            inputs=list(inputs),
            model_ids=[str(o["model_id"]) for o in outputs if "model_id" in o],
        )

    def create_run(self, experiment_id: str, name: str, tags: dict[str, str]) -> str:
        body = {
            "experiment_id": experiment_id,
            "run_name": name,
            "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
        }
        return str(
            self._call("POST", "/api/2.0/mlflow/runs/create", json=body).json()["run"]["info"][
                "run_id"
            ]
        )

    def finish_run(self, run_id: str) -> None:
        self._call(
            "POST", "/api/2.0/mlflow/runs/update", json={"run_id": run_id, "status": "FINISHED"}
        )

    def experiment_id(self, name: str) -> str:
        body = self._call(
            "GET", "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
        ).json()
        return str(body["experiment"]["experiment_id"])

    def logged_model_artifacts(self, model_id: str) -> str:
        """The artifact path (under the proxy) of a logged model."""
        body = self._call("GET", f"/api/2.0/mlflow/logged-models/{model_id}").json()
        return artifact_path_of(str(body["model"]["info"]["artifact_uri"]))

    def logged_model(self, model_id: str) -> dict[str, Any]:
        body = self._call("GET", f"/api/2.0/mlflow/logged-models/{model_id}").json()
        return dict(body["model"])

    # ------------------------------------------------------------ artifacts

    def list_artifacts(self, root: str) -> list[ArtifactFile]:
        """Every file under `root` (recursively), with paths relative to it."""
        found: list[ArtifactFile] = []
        pending = [""]
        while pending:
            sub = pending.pop()
            path = f"{root}/{sub}".rstrip("/") if sub else root
            listing = self._call("GET", ARTIFACTS, params={"path": path}).json()
            for entry in listing.get("files") or []:
                rel = f"{sub}/{entry['path']}".lstrip("/") if sub else str(entry["path"])
                if entry.get("is_dir"):
                    pending.append(rel)
                else:
                    found.append(ArtifactFile(rel, int(entry.get("file_size") or 0)))
        return sorted(found, key=lambda f: f.path)

    def download(self, path: str) -> bytes:
        quoted = urllib.parse.quote(path)
        return self._call("GET", f"{ARTIFACTS}/{quoted}", timeout=300).content

    def upload(self, path: str, data: bytes) -> None:
        quoted = urllib.parse.quote(path)
        self._call("PUT", f"{ARTIFACTS}/{quoted}", data=data, timeout=300)

    # ------------------------------------------------------------ registry

    def ensure_registered_model(self, name: str, tags: dict[str, str] | None = None) -> None:
        """Create `name` (its creator holds MANAGE on it), or find it already there.
        Created rather than looked up first: MLflow answers 403, not 404, for a model the
        caller may not read — including one that does not exist yet."""
        body: dict[str, Any] = {"name": name}
        if tags:
            body["tags"] = [{"key": k, "value": v} for k, v in sorted(tags.items())]
        made = self._call(
            "POST", "/api/2.0/mlflow/registered-models/create", json=body, ok=(200, 400)
        )
        if made.status_code == 400 and "RESOURCE_ALREADY_EXISTS" not in made.text:
            self._call("POST", "/api/2.0/mlflow/registered-models/create", json=body)

    def create_model_version(
        self, name: str, source: str, run_id: str, tags: dict[str, str]
    ) -> ModelVersion:
        body = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
        }
        made = self._call("POST", "/api/2.0/mlflow/model-versions/create", json=body).json()
        return _version(made["model_version"])

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        body = {"name": name, "version": version, "key": key, "value": value}
        self._call("POST", "/api/2.0/mlflow/model-versions/set-tag", json=body)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        body = {"name": name, "alias": alias, "version": version}
        self._call("POST", "/api/2.0/mlflow/registered-models/alias", json=body)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        found = self._call(
            "GET",
            "/api/2.0/mlflow/registered-models/alias",
            params={"name": name, "alias": alias},
            ok=(200, 404),
        )
        if found.status_code == 404:
            return None
        return _version(found.json()["model_version"])

    def get_version(self, name: str, version: str) -> ModelVersion:
        body = self._call(
            "GET", "/api/2.0/mlflow/model-versions/get", params={"name": name, "version": version}
        ).json()
        return _version(body["model_version"])


def _version(raw: dict[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=str(raw["name"]),
        version=str(raw["version"]),
        source=str(raw.get("source", "")),
        run_id=str(raw.get("run_id", "")),
        tags=_kv(raw.get("tags")),
        aliases=[str(a) for a in raw.get("aliases") or []],
    )
