"""Warm runners: started before their job, with nothing in them until it comes.

Against the real engine: a warm runner is locked down as a cold one is and sees no input
before its job; the job's inputs arrive whole, read-only; it takes one job and goes with
it; a job it cannot take runs cold; a stopped one is passed over; a runner an earlier
process left waiting is removed at start; one that took a job is found and cancelled by
the job's id, as the service's restart rules do.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from shuyu import docker_engine
from shuyu.runner.docker_executor import DockerExecutor
from shuyu.runner.job import JobKind, Outcome, RunnerJob, RunnerResult, WarmSpec
from shuyu.runner.warm_pool import WarmPool
from shuyu.settings import PlatformSettings
from tests.integration.containers import INSPECT_RUNNER as INSPECT

pytestmark = pytest.mark.integration

SETTINGS = PlatformSettings(project="warmtest", mem_limit="512m")
IMAGE = "shuyu/notebook:local"

# The waiting form writes down what it sees before its job and after the marker came
WAIT = """
import json, os, pathlib, time
def listing():
    return sorted(str(p.relative_to('/input')) for p in pathlib.Path('/input').rglob('*'))
pathlib.Path('/output/before.json').write_text(json.dumps(listing()))
while not os.path.exists('/input/.ready'):
    time.sleep(0.01)
pathlib.Path('/output/after.json').write_text(json.dumps(listing()))
exec(open('/input/job.py').read())
"""
SPEC = WarmSpec(
    kind=JobKind.CHECK,
    command=("python", "/input/job.py"),
    warm_command=("python", "-c", WAIT),
    env={"PURPOSE": "test"},
)


def _executor(tmp_path: Path) -> DockerExecutor:
    return DockerExecutor(
        SETTINGS.model_copy(update={"firewall_status_dir": tmp_path}),
        IMAGE,
        require_firewall=False,
    )


def _job(source: str, **kw: object) -> RunnerJob:
    return RunnerJob(
        job_id=uuid.uuid4().hex[:12],
        kind=JobKind.CHECK,
        command=list(SPEC.command),
        inputs={"job.py": source.encode(), "spec.json": b'{"epochs": 2}'},
        env=dict(SPEC.env),
        **kw,  # type: ignore[arg-type]
    )


def _containers() -> list[str]:
    engine = docker_engine.client()
    found = engine.containers.list(all=True, filters={"label": "org.shuyu.project=warmtest"})
    return sorted(c.name for c in found)


def _volumes() -> list[str]:
    return sorted(v.name for v in docker_engine.client().volumes.list() if "warmtest-" in v.name)


@pytest.fixture
def pool(tmp_path: Path) -> object:
    started = WarmPool(_executor(tmp_path), SPEC, size=1)
    started.start()
    assert started.wait_ready(120), "no warm runner came up"
    yield started
    started.stop()
    assert _containers() == []
    assert _volumes() == []


def test_a_warm_runner_sees_nothing_before_its_job_and_is_locked_down_like_a_cold_one(
    tmp_path: Path, pool: WarmPool
) -> None:
    warm = pool.run(_job(INSPECT))
    cold = _executor(tmp_path).run(_job(INSPECT))

    assert warm.outcome is Outcome.SUCCEEDED, warm.log_tail
    assert json.loads(warm.outputs["before.json"]) == [".keep"]  # nothing of the job
    assert json.loads(warm.outputs["after.json"]) == [".keep", ".ready", "job.py", "spec.json"]
    seen = json.loads(warm.outputs["seen.json"])
    assert seen["input"] == '{"epochs": 2}'
    assert seen == json.loads(cold.outputs["seen.json"])  # the same lockdown, the same view
    assert (seen["uid"], seen["interfaces"], seen["input_writable"]) == (1000, ["lo"], False)


def test_each_warm_runner_takes_one_job_and_goes_with_it(pool: WarmPool) -> None:
    first = pool.run(_job("print('first')"))
    assert first.outcome is Outcome.SUCCEEDED, first.log_tail
    assert "first" in first.log_tail
    assert pool.wait_ready(120)
    # the one that ran is gone with its volumes; only its successor waits
    (waiting,) = _containers()
    assert waiting.startswith("warmtest-warm-")
    assert _volumes() == [f"{waiting}-in", f"{waiting}-out"]


def test_a_job_the_warm_runners_cannot_take_runs_cold_and_leaves_them_waiting(
    pool: WarmPool,
) -> None:
    (waiting,) = _containers()
    job = _job("print('cold')")
    other = RunnerJob(
        job_id=job.job_id, kind=job.kind, command=job.command, inputs=job.inputs, mem_limit="1g"
    )
    result = pool.run(other)
    assert result.outcome is Outcome.SUCCEEDED, result.log_tail
    assert _containers() == [waiting]


def test_a_stopped_warm_runner_is_passed_over(pool: WarmPool) -> None:
    (waiting,) = _containers()
    docker_engine.client().containers.get(waiting).kill()
    result = pool.run(_job("print('ran anyway')"))
    assert result.outcome is Outcome.SUCCEEDED, result.log_tail
    assert "ran anyway" in result.log_tail
    assert waiting not in _containers()


def test_runners_an_earlier_process_left_waiting_are_removed_at_start(tmp_path: Path) -> None:
    executor = _executor(tmp_path)
    left = executor.warm_up(SPEC.template())  # as a service killed before it stopped
    assert left.name in _containers()
    pool = WarmPool(executor, SPEC, size=0)
    pool.start()
    pool.stop()
    assert _containers() == []
    assert _volumes() == []


def test_a_warm_runner_that_took_a_job_is_found_and_cancelled_by_the_jobs_id(
    tmp_path: Path, pool: WarmPool
) -> None:
    job = _job("import time; time.sleep(600)")
    results: list[RunnerResult] = []
    thread = threading.Thread(target=lambda: results.append(pool.run(job)), daemon=True)
    thread.start()
    executor = _executor(tmp_path)  # as the service is after its restart
    deadline = time.monotonic() + 60
    while job.job_id not in executor.running():
        assert time.monotonic() < deadline, "the job never showed as running"
        time.sleep(0.2)
    executor.cancel(job.job_id)
    thread.join(timeout=60)
    assert results
    assert results[0].outcome is Outcome.KILLED
    assert results[0].reason == "cancelled"
    assert pool.wait_ready(120)
    (waiting,) = _containers()  # the job's runner and its volumes are gone
    assert _volumes() == [f"{waiting}-in", f"{waiting}-out"]
