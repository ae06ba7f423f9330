"""Tracking writes MLflow's permissions allow but shuyu does not: changing what is done.

MLflow lets an experiment's EDIT holder overwrite any artifact of any of its runs at any
time, reopen a finished run, and patch or delete a finished logged model. A partner
could then change a model after the self-check read it. Here, for everyone but the
registry gate and administrators:
- artifacts may be written only into a run that is RUNNING or a logged model that is
  PENDING (still being logged), never into the registry experiment, never elsewhere;
- a finished run may not be set RUNNING again;
- a logged model may be changed (PATCH, DELETE, its tags) only while PENDING;
- an artifact upload must say its size (Content-Length), within the policy's per-file
  limit and its experiment's quota.
The state is read from MLflow's own tracking store, in the server process.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shuyu.tracking.artifact_store import ArtifactUsage
from shuyu.tracking.endpoints import route_of
from shuyu.tracking.experiments import REGISTRY_EXPERIMENT

_ARTIFACT_WRITE = re.compile(
    r"^/mlflow-artifacts/(?:artifacts|mpu/(?:create|complete|abort))/(.+)$"
)
_RUN_ARTIFACT = re.compile(r"^(\d+)/([0-9a-f]{32})/artifacts(?:/.*)?$")
_MODEL_ARTIFACT = re.compile(r"^(\d+)/models/([^/]+)/artifacts(?:/.*)?$")
_TRACE_ARTIFACT = re.compile(r"^(\d+)/traces/([^/]+)/artifacts(?:/.*)?$")
_LOGGED_MODEL = re.compile(r"^/mlflow/logged-models/([^/]+)(?:/tags(?:/.*)?)?$")
TERMINAL_RUN_STATES = frozenset({"FINISHED", "FAILED", "KILLED"})


@dataclass(frozen=True)
class Refusal:
    status: int  # 403, 411 or 413
    reason: str


@dataclass(frozen=True)
class Limits:
    artifact_max_bytes: int
    experiment_quota_bytes: int


class TrackingState:
    """What the rules need to know, from MLflow's tracking store (cached briefly)."""

    def __init__(
        self,
        run_status: Callable[[str], str | None],
        model_status: Callable[[str], str | None],
        experiment_id: Callable[[str], str | None],
        usage: ArtifactUsage,
    ) -> None:
        self.run_status = run_status
        self.model_status = model_status
        self._experiment_id = experiment_id
        self._measure = usage
        self._lock = threading.Lock()
        self._usage: dict[str, tuple[float, int]] = {}
        self._registry_id: str | None = None

    def registry_experiment_id(self) -> str | None:
        if self._registry_id is None:
            self._registry_id = self._experiment_id(REGISTRY_EXPERIMENT)
        return self._registry_id

    def experiment_usage(self, experiment_id: str, *, max_age: float = 30.0) -> int:
        """Bytes stored under the experiment in the artifact store (measured at most
        every `max_age` seconds; uploads let through since are added)."""
        now = time.monotonic()
        with self._lock:
            hit = self._usage.get(experiment_id)
        if hit is not None and now - hit[0] < max_age:
            return hit[1]
        total = self._measure(experiment_id)
        with self._lock:
            self._usage[experiment_id] = (now, total)
        return total

    def added(self, experiment_id: str, nbytes: int) -> None:
        with self._lock:
            hit = self._usage.get(experiment_id)
            if hit is not None:
                self._usage[experiment_id] = (hit[0], hit[1] + nbytes)


def artifact_write_refusal(
    method: str,
    path: str,
    content_length: int | None,
    state: TrackingState,
    limits: Limits,
) -> Refusal | None:
    match = _ARTIFACT_WRITE.match(route_of(path))
    if match is None or method not in {"PUT", "POST"}:
        return None
    target = match.group(1)
    refused = _target_refusal(target, state)
    if refused is None and method == "PUT":
        refused = _size_refusal(target.split("/", 1)[0], content_length, state, limits)
    return refused


def _target_refusal(target: str, state: TrackingState) -> Refusal | None:
    """Where an artifact is written: an open run, a pending model, a trace; no other."""
    if target.split("/", 1)[0] == state.registry_experiment_id():
        return Refusal(403, "the registry's copies are written by the registry gate only")
    run = _RUN_ARTIFACT.match(target)
    if run is not None:
        status = state.run_status(run.group(2))
        final = status != "RUNNING"
        return (
            Refusal(403, f"run {run.group(2)} is {status}: its artifacts are final")
            if final
            else None
        )
    model = _MODEL_ARTIFACT.match(target)
    if model is not None:
        status = state.model_status(model.group(2))
        if status == "PENDING":
            return None
        return Refusal(403, f"logged model {model.group(2)} is {status}: its files are final")
    if _TRACE_ARTIFACT.match(target) is None:
        return Refusal(403, "artifacts are written into a run, a logged model or a trace only")
    return None


def _size_refusal(
    experiment: str, content_length: int | None, state: TrackingState, limits: Limits
) -> Refusal | None:
    if content_length is None:
        return Refusal(411, "an artifact upload must give its Content-Length")
    if content_length > limits.artifact_max_bytes:
        return Refusal(
            413, f"artifact of {content_length} bytes over the {limits.artifact_max_bytes} limit"
        )
    used = state.experiment_usage(experiment)
    if used + content_length > limits.experiment_quota_bytes:
        return Refusal(
            413,
            f"experiment {experiment} would hold {used + content_length} bytes, over its "
            f"{limits.experiment_quota_bytes} quota",
        )
    state.added(experiment, content_length)
    return None


def logged_model_refusal(method: str, path: str, state: TrackingState) -> Refusal | None:
    if method not in {"PATCH", "DELETE"}:
        return None
    match = _LOGGED_MODEL.match(route_of(path))
    if match is None or match.group(1) == "search":
        return None
    status = state.model_status(match.group(1))
    if status == "PENDING":
        return None
    return Refusal(403, f"logged model {match.group(1)} is {status or 'unknown'}: it is final")


def run_update_refusal(route: str, body: dict[str, object], state: TrackingState) -> Refusal | None:
    if route != "/mlflow/runs/update" or body.get("status") != "RUNNING":
        return None
    run_id = str(body.get("run_id") or body.get("run_uuid") or "")
    status = state.run_status(run_id)
    if status in TERMINAL_RUN_STATES:
        return Refusal(403, f"run {run_id} is {status}: a finished run is not reopened")
    return None


def mlflow_state(usage: ArtifactUsage) -> TrackingState:
    """The state as the MLflow server process sees it (its own tracking store)."""

    def store() -> Any:
        from mlflow.server.handlers import _get_tracking_store  # noqa: PLC0415

        return _get_tracking_store()

    def run_status(run_id: str) -> str | None:
        try:
            return str(store().get_run(run_id).info.status)
        except Exception:
            return None

    def model_status(model_id: str) -> str | None:
        try:
            status = store().get_logged_model(model_id).status
        except Exception:
            return None
        return str(getattr(status, "name", status)).removeprefix("LoggedModelStatus.")

    def experiment_id(name: str) -> str | None:
        try:
            found = store().get_experiment_by_name(name)
        except Exception:
            return None
        return str(found.experiment_id) if found is not None else None

    return TrackingState(run_status, model_status, experiment_id, usage)
