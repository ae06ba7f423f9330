"""Runners as Docker containers: the sandbox lockdown, no network at all, inputs and
volumes read-only, one output volume, removed afterwards.

Per job: an input volume filled with the job's files, an output volume, and the runner
container (`shuyu.sandbox.hardening.lockdown(network=False)`: no capabilities, no new
privileges, read-only root, limits). The executor waits with the job's timeout; a job
over its time or killed for memory ends `killed` with the reason, never a hang. What the
job wrote under /output is read back (size-limited, regular files only), then the
container and both volumes are removed. Containers carry labels, so that after a restart
of the process that started them, `running()` finds them.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from shuyu import docker_engine
from shuyu.audit.events import audit_event
from shuyu.errors import ShuyuError
from shuyu.runner.job import Outcome, RunnerJob, RunnerResult
from shuyu.sandbox.firewall import firewall_ready
from shuyu.sandbox.hardening import CONTAINER_USER, lockdown
from shuyu.sandbox_env import OUTPUT
from shuyu.settings import PlatformSettings

INPUT = "/input"
ROLE = "runner"
OOM_EXIT = 137


class DockerExecutor:
    def __init__(
        self,
        settings: PlatformSettings,
        image: str,
        *,
        require_firewall: bool = True,
        firewall_max_age: float = 30.0,
    ) -> None:
        self.settings = settings
        self.image = image
        self.require_firewall = require_firewall
        self.firewall_max_age = firewall_max_age

    def _labels(self, job: RunnerJob) -> dict[str, str]:
        return {
            "org.shuyu.project": self.settings.project,
            "org.shuyu.role": ROLE,
            "org.shuyu.job": job.job_id,
            "org.shuyu.job-kind": job.kind.value,
        }

    def _names(self, job_id: str) -> tuple[str, str, str]:
        base = f"{self.settings.project}-job-{job_id}"
        return base, f"{base}-in", f"{base}-out"

    def run(self, job: RunnerJob) -> RunnerResult:
        started = time.monotonic()
        if self.require_firewall:
            # runners have no network; still, nothing in-domain starts on a platform
            # whose sandbox firewall is not verified
            problem = firewall_ready(self.settings, max_age=self.firewall_max_age)
            if problem is not None:
                return self._refused(job, f"the sandbox firewall is not verified: {problem}")
        name, input_volume, output_volume = self._names(job.job_id)
        labels = self._labels(job)
        engine = docker_engine.client()
        # a job started again after a restart of the process that ran it: the runner it
        # left behind (same name) goes first, with its volumes
        self.cancel(job.job_id)
        docker_engine.fill_volumes(
            {
                input_volume: docker_engine.VolumeFill(job.inputs or {".keep": b""}),
                output_volume: docker_engine.VolumeFill({}, owner=CONTAINER_USER),
            },
            image=self.image,
            labels=labels,
        )
        import docker  # noqa: PLC0415

        container: Any = None
        ran = False  # the container was started: a 409 means "being removed" only then
        outputs: dict[str, bytes] = {}
        log_tail = ""
        try:
            container = self._create(job, name, input_volume, output_volume, labels)
            audit_event("runner.start", "platform", "allowed", job=job.job_id, kind=job.kind.value)
            container.start()
            ran = True
            outcome, exit_code, reason = self._wait(container, job)
            log_tail = container.logs(tail=200).decode("utf-8", errors="replace")
            if outcome is not Outcome.KILLED:
                outputs = self._outputs(container, job)
        except docker.errors.APIError as exc:
            # removed under us (404), or, once it ran, being removed (409: the engine
            # gives no logs of a container marked for removal): cancelled, or the
            # engine's state reset; a 409 before it ran (a name in use) is an error
            being_removed = ran and exc.status_code == 409
            if not (isinstance(exc, docker.errors.NotFound) or being_removed):
                raise
            outcome, exit_code, reason = Outcome.KILLED, None, "cancelled"
        finally:
            if container is not None:
                # gone already, or being removed by `cancel`
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    container.remove(force=True)
            for volume in (input_volume, output_volume):
                _remove_volume(engine, volume)
        seconds = time.monotonic() - started
        audit_event(
            "runner.end",
            "platform",
            "allowed" if outcome is Outcome.SUCCEEDED else "error",
            job=job.job_id,
            kind=job.kind.value,
            result=outcome.value,
            exit_code=exit_code,
            seconds=round(seconds, 3),
        )
        return RunnerResult(job.job_id, outcome, exit_code, reason, outputs, log_tail, seconds)

    def _create(
        self,
        job: RunnerJob,
        name: str,
        input_volume: str,
        output_volume: str,
        labels: dict[str, str],
    ) -> Any:
        locked = lockdown(
            self.settings, network=False, mem_limit=job.mem_limit, cpu_limit=job.cpu_limit
        )
        volumes = {
            # nocopy: Docker would otherwise copy the image folder (and its owner) in
            input_volume: {"bind": INPUT, "mode": "ro,nocopy"},
            output_volume: {"bind": str(OUTPUT), "mode": "rw,nocopy"},
            **{m.volume: {"bind": m.target, "mode": "ro,nocopy"} for m in job.mounts},
        }
        api = docker_engine.client().api
        host_config = api.create_host_config(binds=volumes, auto_remove=False, **locked.host_config)
        created = api.create_container(
            self.image,
            command=job.command,
            name=name,
            user=locked.user,
            environment={"LANG": "C.UTF-8", **job.env},
            labels=labels,
            host_config=host_config,
            working_dir=str(OUTPUT),
            network_disabled=True,
        )
        return docker_engine.client().containers.get(created["Id"])

    def _wait(self, container: Any, job: RunnerJob) -> tuple[Outcome, int | None, str]:
        import requests  # noqa: PLC0415 - the SDK's transport raises its timeouts

        try:
            status = container.wait(timeout=job.timeout_seconds)
        except requests.exceptions.RequestException:
            container.kill()
            return (
                Outcome.KILLED,
                None,
                f"ran over its {job.timeout_seconds:.0f} s and was stopped",
            )
        container.reload()
        state = container.attrs.get("State", {})
        code = int(status.get("StatusCode", -1))
        if state.get("OOMKilled") or code == OOM_EXIT:
            limit = job.mem_limit or self.settings.mem_limit
            return Outcome.KILLED, code, f"killed: out of memory (limit {limit})"
        if code != 0:
            return Outcome.FAILED, code, f"exited with status {code}"
        return Outcome.SUCCEEDED, 0, "finished"

    def _outputs(self, container: Any, job: RunnerJob) -> dict[str, bytes]:
        try:
            return docker_engine.read_tree(container, str(OUTPUT), max_bytes=job.max_output_bytes)
        except ShuyuError as exc:
            raise ShuyuError(f"job {job.job_id}: {exc}") from None

    def _refused(self, job: RunnerJob, reason: str) -> RunnerResult:
        audit_event("runner.start", "platform", "denied", job=job.job_id, reason=reason)
        return RunnerResult(job.job_id, Outcome.REFUSED, None, reason, {}, "", 0.0)

    def cancel(self, job_id: str) -> None:
        _name, input_volume, output_volume = self._names(job_id)
        engine = docker_engine.client()
        for container in engine.containers.list(
            all=True, filters={"label": [f"org.shuyu.job={job_id}"]}
        ):
            container.remove(force=True)
        for volume in (input_volume, output_volume):
            _remove_volume(engine, volume)

    def read_volume(self, volume: str, *, max_bytes: int) -> dict[str, bytes]:
        labels = {"org.shuyu.project": self.settings.project}
        return docker_engine.read_volume(
            volume, image=self.image, labels=labels, max_bytes=max_bytes
        )

    def running(self) -> list[str]:
        found = docker_engine.client().containers.list(
            filters={
                "label": [f"org.shuyu.project={self.settings.project}", f"org.shuyu.role={ROLE}"]
            }
        )
        return sorted(str(c.labels.get("org.shuyu.job", "")) for c in found)


def _remove_volume(engine: Any, name: str) -> None:
    import docker  # noqa: PLC0415

    for _ in range(10):  # a volume is busy for a moment after its container goes
        try:
            engine.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            time.sleep(0.5)
