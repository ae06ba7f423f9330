"""The runner contract: what a job is, what comes back, and who runs it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol

INPUTS_READY = ".ready"
"""Placed in /input after everything else: a runner started before its run (a warm one)
waits for it, so that it never reads its inputs half-written."""


class JobKind(StrEnum):
    TRAIN = "train"  # certified training from a spec, on the scenario's train view
    CHECK = "check"  # the self-check: platform code only, with the holdout
    PRODUCTION = "production"  # an approved notebook, on the product's in-domain data


@dataclass(frozen=True)
class VolumeMount:
    volume: str
    target: str  # always mounted read-only: a runner writes only its output folder


@dataclass(frozen=True)
class RunnerJob:
    job_id: str  # unique; names the containers and volumes of this job
    kind: JobKind
    command: list[str]
    inputs: dict[str, bytes | Path] = field(default_factory=dict)
    """Files placed (read-only) under /input, relative path → content."""
    mounts: tuple[VolumeMount, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = 1800.0
    mem_limit: str | None = None
    cpu_limit: float | None = None
    max_output_bytes: int = 256 << 20

    def __post_init__(self) -> None:
        forbidden = [k for k in self.env if _secretish(k)]
        if forbidden:
            raise ValueError(f"a runner gets no credentials: {forbidden}")


@dataclass(frozen=True)
class WarmSpec:
    """The jobs a warm runner can take: everything fixed when a container is created
    (kind, command, environment, limits, mounts) is the job's; `warm_command` is the
    same entry point's waiting form."""

    kind: JobKind
    command: tuple[str, ...]
    warm_command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    mem_limit: str | None = None
    cpu_limit: float | None = None

    def takes(self, job: RunnerJob) -> bool:
        return (
            job.kind is self.kind
            and tuple(job.command) == self.command
            and job.env == dict(self.env)
            and not job.mounts
            and job.mem_limit == self.mem_limit
            and job.cpu_limit == self.cpu_limit
        )

    def template(self) -> RunnerJob:
        return RunnerJob(
            job_id="warm",
            kind=self.kind,
            command=list(self.warm_command),
            env=dict(self.env),
            mem_limit=self.mem_limit,
            cpu_limit=self.cpu_limit,
        )


def folder_inputs(folder: Path, prefix: str) -> dict[str, bytes | Path]:
    """Every file under `folder` as a job input under `prefix/` (nothing if it is absent)."""
    if not folder.is_dir():
        return {}
    return {
        f"{prefix}/{path.relative_to(folder)}": path
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _secretish(name: str) -> bool:
    upper = name.upper()
    return any(word in upper for word in ("PASSWORD", "TOKEN", "SECRET", "KEY", "MLFLOW_"))


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # non-zero exit
    KILLED = "killed"  # out of memory, or over its time
    REFUSED = "refused"  # the executor would not start it (e.g. no firewall)


@dataclass(frozen=True)
class RunnerResult:
    job_id: str
    outcome: Outcome
    exit_code: int | None
    reason: str  # a sentence for the page and the log
    outputs: dict[str, bytes]
    log_tail: str
    seconds: float


class Executor(Protocol):
    def run(self, job: RunnerJob) -> RunnerResult: ...

    def cancel(self, job_id: str) -> None: ...

    def read_volume(
        self, volume: str, *, max_bytes: int, names: Sequence[str] = ()
    ) -> dict[str, bytes]:
        """The files of an in-domain volume (or only `names`), for platform code: a
        production run's batch is built from its view by the service, and the approved
        wheels it needs are read from the index's volume, with nothing started beside
        them."""
        ...

    def running(self) -> list[str]:
        """Job ids of the runners that are running now (after a restart: to resume or
        fail them, never to leave them stuck)."""
        ...
