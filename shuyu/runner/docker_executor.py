"""Runners as Docker containers: the sandbox lockdown, no network at all, inputs and
volumes read-only, one output volume, removed afterwards.

Per job: an input volume filled with the job's files, an output volume, and the runner
container (`shuyu.sandbox.hardening.lockdown(network=False)`: no capabilities, no new
privileges, read-only root, limits). The executor waits with the job's timeout; a job
over its time or killed for memory ends `killed` with the reason, never a hang. What the
job wrote under /output is read back (size-limited, regular files only), then the
container and both volumes are removed. Containers carry labels, so that after a restart
of the process that started them, `running()` finds them.

A warm runner (`warm_up`, kept by `shuyu.runner.warm_pool`) is the same container
created and started before its job exists, with empty volumes: its entry point readies
what it can (imports, a kernel) and waits. `run_warm` gives it one job — renamed to the
job's name, its inputs placed and then `INPUTS_READY` — and from there on it is that job's
runner exactly as above: waited for, read back, removed. Each is used once.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shuyu import docker_engine
from shuyu.audit.events import audit_event
from shuyu.errors import ShuyuError
from shuyu.runner.job import INPUTS_READY, Outcome, RunnerJob, RunnerResult
from shuyu.sandbox.firewall import firewall_ready
from shuyu.sandbox.hardening import CONTAINER_USER, lockdown
from shuyu.sandbox_env import OUTPUT
from shuyu.settings import PlatformSettings

INPUT = "/input"
ROLE = "runner"
OOM_EXIT = 137
WARM_LABEL = "org.shuyu.warm"
VOLUMES_LABEL = "org.shuyu.volumes"  # the runner's own two volumes, removed with it


@dataclass(frozen=True)
class WarmRunner:
    """A started runner waiting for a job: what `run_warm` needs to hand it one."""

    name: str
    container_id: str
    input_volume: str
    output_volume: str
    image_id: str


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

    def _labels(self, job: RunnerJob, job_id: str, volumes: tuple[str, str]) -> dict[str, str]:
        return {
            "org.shuyu.project": self.settings.project,
            "org.shuyu.role": ROLE,
            "org.shuyu.job": job_id,
            "org.shuyu.job-kind": job.kind.value,
            VOLUMES_LABEL: ",".join(volumes),
        }

    def _job_name(self, job_id: str) -> str:
        return f"{self.settings.project}-job-{job_id}"

    def _names(self, base: str) -> tuple[str, str]:
        return f"{base}-in", f"{base}-out"

    def _firewall_problem(self) -> str | None:
        if not self.require_firewall:
            return None
        # runners have no network; still, nothing in-domain starts on a platform whose
        # sandbox firewall is not verified
        problem = firewall_ready(self.settings, max_age=self.firewall_max_age)
        return None if problem is None else f"the sandbox firewall is not verified: {problem}"

    def _prepare(
        self,
        job: RunnerJob,
        name: str,
        job_id: str,
        inputs: dict[str, bytes | Path],
        *,
        warm: bool = False,
    ) -> tuple[Any, tuple[str, str]]:
        """The job's two volumes (inputs placed) and its container, created, not started."""
        volumes = self._names(name)
        labels = self._labels(job, job_id, volumes)
        if warm:
            labels[WARM_LABEL] = "1"
        docker_engine.fill_volumes(
            {
                volumes[0]: docker_engine.VolumeFill(inputs or {".keep": b""}),
                volumes[1]: docker_engine.VolumeFill({}, owner=CONTAINER_USER),
            },
            image=self.image,
            labels=labels,
        )
        return self._create(job, name, volumes, labels), volumes

    def run(self, job: RunnerJob) -> RunnerResult:
        started = time.monotonic()
        problem = self._firewall_problem()
        if problem is not None:
            return self._refused(job, problem)
        # a job started again after a restart of the process that ran it: the runner it
        # left behind (same name) goes first, with its volumes
        self.cancel(job.job_id)
        name = self._job_name(job.job_id)
        container: Any = None
        volumes = self._names(name)
        try:
            container, volumes = self._prepare(job, name, job.job_id, job.inputs)
            audit_event("runner.start", "platform", "allowed", job=job.job_id, kind=job.kind.value)
            container.start()
        except BaseException:
            self._remove(container, volumes)
            raise
        return self._finish(container, volumes, job, started)

    def warm_up(self, template: RunnerJob) -> WarmRunner:
        """A runner for a job like `template` (its command the waiting entry point),
        started now with nothing in it: no inputs, no job."""
        name = f"{self.settings.project}-warm-{secrets.token_hex(6)}"
        container, volumes = self._prepare(template, name, "", {}, warm=True)
        try:
            container.start()
        except BaseException:
            self._remove(container, volumes)
            raise
        audit_event("runner.warm", "platform", "allowed", target=name, kind=template.kind.value)
        return WarmRunner(name, container.id, *volumes, image_id=str(container.image.id))

    def run_warm(self, warm: WarmRunner, job: RunnerJob) -> RunnerResult | None:
        """`job` on the warm runner, as `run` would; None (the warm runner removed) when it
        can no longer take one: stopped, or its image has been rebuilt since."""
        import docker  # noqa: PLC0415

        started = time.monotonic()
        volumes = (warm.input_volume, warm.output_volume)
        try:
            container = docker_engine.client().containers.get(warm.container_id)
        except docker.errors.NotFound:
            self._remove(None, volumes)
            return None
        if container.status != "running" or docker_engine.image_id(self.image) != warm.image_id:
            self._remove(container, volumes)
            return None
        problem = self._firewall_problem()
        if problem is not None:
            self._remove(container, volumes)
            return self._refused(job, problem)
        self.cancel(job.job_id)
        try:
            # from now on `cancel(job_id)` and `running()` find it by the job's name
            container.rename(self._job_name(job.job_id))
            docker_engine.place_files(
                warm.input_volume,
                {**job.inputs, INPUTS_READY: b""},
                last=INPUTS_READY,
                image=self.image,
                labels={"org.shuyu.project": self.settings.project},
            )
            audit_event(
                "runner.start",
                "platform",
                "allowed",
                job=job.job_id,
                kind=job.kind.value,
                warm=True,
            )
        except BaseException:
            self._remove(container, volumes)
            raise
        return self._finish(container, volumes, job, started)

    def _finish(
        self, container: Any, volumes: tuple[str, str], job: RunnerJob, started: float
    ) -> RunnerResult:
        """Waits for the started runner, reads back what it wrote, removes it."""
        import docker  # noqa: PLC0415

        outputs: dict[str, bytes] = {}
        log_tail = ""
        try:
            outcome, exit_code, reason = self._wait(container, job)
            log_tail = container.logs(tail=200).decode("utf-8", errors="replace")
            if outcome is not Outcome.KILLED:
                outputs = self._outputs(container, job)
        except docker.errors.APIError as exc:
            # removed under us (404), or being removed (409: the engine gives no logs of
            # a container marked for removal): cancelled, or the engine's state reset
            if not (isinstance(exc, docker.errors.NotFound) or exc.status_code == 409):
                raise
            outcome, exit_code, reason = Outcome.KILLED, None, "cancelled"
        finally:
            self._remove(container, volumes)
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

    def _remove(self, container: Any, volumes: tuple[str, ...]) -> None:
        import docker  # noqa: PLC0415

        if container is not None:
            # gone already, or being removed by `cancel`
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True)
        engine = docker_engine.client()
        for volume in volumes:
            _remove_volume(engine, volume)

    def _create(
        self, job: RunnerJob, name: str, volumes: tuple[str, str], labels: dict[str, str]
    ) -> Any:
        locked = lockdown(
            self.settings, network=False, mem_limit=job.mem_limit, cpu_limit=job.cpu_limit
        )
        binds = {
            # nocopy: Docker would otherwise copy the image folder (and its owner) in
            volumes[0]: {"bind": INPUT, "mode": "ro,nocopy"},
            volumes[1]: {"bind": str(OUTPUT), "mode": "rw,nocopy"},
            **{m.volume: {"bind": m.target, "mode": "ro,nocopy"} for m in job.mounts},
        }
        api = docker_engine.client().api
        host_config = api.create_host_config(binds=binds, auto_remove=False, **locked.host_config)
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
        import docker  # noqa: PLC0415

        engine = docker_engine.client()
        name = self._job_name(job_id)
        found = {
            c.id: c
            for c in engine.containers.list(
                all=True, filters={"label": [f"org.shuyu.job={job_id}"]}
            )
        }
        with contextlib.suppress(docker.errors.NotFound):
            claimed = engine.containers.get(name)  # a warm runner renamed for the job
            if claimed.labels.get("org.shuyu.project") == self.settings.project:
                found[claimed.id] = claimed
        for container in found.values():
            own = tuple(filter(None, container.labels.get(VOLUMES_LABEL, "").split(",")))
            self._remove(container, own)
        self._remove(None, self._names(name))

    def read_volume(
        self, volume: str, *, max_bytes: int, names: Sequence[str] = ()
    ) -> dict[str, bytes]:
        labels = {"org.shuyu.project": self.settings.project}
        return docker_engine.read_volume(
            volume, image=self.image, labels=labels, max_bytes=max_bytes, names=names
        )

    def running(self) -> list[str]:
        found = docker_engine.client().containers.list(
            filters={
                "label": [f"org.shuyu.project={self.settings.project}", f"org.shuyu.role={ROLE}"]
            }
        )
        # by name: a warm runner takes its job's name when it is given the job (labels are
        # fixed at creation), and one still waiting has none
        prefix = self._job_name("")
        return sorted(c.name.removeprefix(prefix) for c in found if c.name.startswith(prefix))

    def warm_runners(self) -> list[str]:
        """Names of the warm runners of this project still waiting for a job."""
        found = docker_engine.client().containers.list(
            all=True,
            filters={"label": [f"org.shuyu.project={self.settings.project}", WARM_LABEL]},
        )
        return sorted(c.name for c in found if c.name.startswith(f"{self.settings.project}-warm-"))

    def remove_warm(self, name: str) -> None:
        import docker  # noqa: PLC0415

        try:
            container = docker_engine.client().containers.get(name)
        except docker.errors.NotFound:
            container = None
        self._remove(container, self._names(name))


def _remove_volume(engine: Any, name: str) -> None:
    import docker  # noqa: PLC0415

    for _ in range(10):  # a volume is busy for a moment after its container goes
        try:
            engine.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            time.sleep(0.5)
