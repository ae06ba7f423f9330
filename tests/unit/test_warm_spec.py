"""Which jobs a warm runner can take (`WarmSpec.takes`): only one whose container would
have been created exactly as the warm one was — the same kind, command, environment and
limits, and no volume of its own — because none of that can change once it runs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shuyu.production.service import NOTEBOOK_RUNNER
from shuyu.runner.job import JobKind, RunnerJob, VolumeMount, WarmSpec


def _notebook_job(**changes: object) -> RunnerJob:
    job = RunnerJob(
        job_id="run-1-a1-notebook",
        kind=JobKind.PRODUCTION,
        command=["python", "-m", "shuyu.production.execute"],
        inputs={"run.json": b"{}"},
        env={"SHUYU_POLICIES": "/input/policies"},
        mem_limit="4G",
    )
    return replace(job, **changes)  # type: ignore[arg-type]


def test_a_production_notebook_job_is_taken_whatever_its_inputs_and_time() -> None:
    assert NOTEBOOK_RUNNER.takes(_notebook_job())
    assert NOTEBOOK_RUNNER.takes(_notebook_job(inputs={"other": b"x"}, timeout_seconds=5))


@pytest.mark.parametrize(
    "changes",
    [
        {"kind": JobKind.CHECK},
        {"command": ["python", "-m", "shuyu.selfcheck.run"]},
        {"env": {"SHUYU_POLICIES": "/input/policies", "EXTRA": "1"}},
        {"mem_limit": "8G"},
        {"cpu_limit": 2.0},
        {"mounts": (VolumeMount("shuyu-view-bank_credit", "/data"),)},
    ],
    ids=["kind", "command", "env", "memory", "cpus", "a volume"],
)
def test_a_job_created_differently_is_not_taken(changes: dict[str, object]) -> None:
    assert not NOTEBOOK_RUNNER.takes(_notebook_job(**changes))


def test_the_template_is_the_waiting_form_with_no_inputs() -> None:
    spec = WarmSpec(JobKind.CHECK, ("python", "job.py"), ("python", "wait.py"), {"A": "1"}, "1g")
    template = spec.template()
    assert template.command == ["python", "wait.py"]
    assert (template.inputs, template.env, template.mem_limit) == ({}, {"A": "1"}, "1g")
