"""The Docker executor runs platform jobs in fresh, locked-down containers with no network.

Against the real engine: a job's inputs arrive read-only, it can write only its output
folder, it has no network, no capability, no credential; a job over its time or its
memory ends `killed` with the reason, never a hang; nothing of it is left behind; and no
job starts on a platform whose firewall is not verified.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from shuyu import docker_engine
from shuyu.errors import ShuyuError
from shuyu.platform.layout import Layout
from shuyu.platform.up import down
from shuyu.runner.docker_executor import DockerExecutor
from shuyu.runner.job import JobKind, Outcome, RunnerJob, RunnerResult
from shuyu.settings import PlatformSettings
from tests.integration.containers import INSPECT_RUNNER as INSPECT

pytestmark = pytest.mark.integration

SETTINGS = PlatformSettings(project="runnertest", mem_limit="512m")
IMAGE = "shuyu/notebook:local"


def _executor(tmp_path: Path, *, firewall: bool = False) -> DockerExecutor:
    return DockerExecutor(
        SETTINGS.model_copy(update={"firewall_status_dir": tmp_path}),
        IMAGE,
        require_firewall=firewall,
    )


def _job(command: list[str], **kw: object) -> RunnerJob:
    return RunnerJob(
        job_id=uuid.uuid4().hex[:12],
        kind=JobKind.CHECK,
        command=command,
        **kw,  # type: ignore[arg-type]
    )


def _leftovers(job_id: str) -> list[str]:
    engine = docker_engine.client()
    containers = engine.containers.list(all=True, filters={"label": [f"org.shuyu.job={job_id}"]})
    volumes = [v.name for v in engine.volumes.list() if job_id in v.name]
    return [c.name for c in containers] + volumes


def test_a_job_sees_its_inputs_read_only_and_writes_only_its_output(tmp_path: Path) -> None:
    job = _job(["python", "-c", INSPECT], inputs={"spec.json": b'{"epochs": 2}'})
    result = _executor(tmp_path).run(job)
    assert result.outcome is Outcome.SUCCEEDED, result.log_tail
    seen = json.loads(result.outputs["seen.json"])
    assert seen["uid"] == 1000
    assert seen["cap_eff"] == "0000000000000000"
    assert seen["no_new_privs"] == "1"
    assert seen["interfaces"] == ["lo"]  # no network at all
    assert seen["connects"] is False
    assert seen["input"] == '{"epochs": 2}'
    assert seen["input_writable"] is False
    assert seen["root_writable"] is False
    assert seen["secrets"] == []
    assert _leftovers(job.job_id) == []


def test_a_runner_is_given_no_credentials() -> None:
    with pytest.raises(ValueError, match="no credentials"):
        _job(["true"], env={"MLFLOW_TRACKING_PASSWORD": "x"})


def test_a_job_over_its_time_is_killed_not_left_hanging(tmp_path: Path) -> None:
    job = _job(["sleep", "600"], timeout_seconds=3)
    started = time.monotonic()
    result = _executor(tmp_path).run(job)
    took = time.monotonic() - started
    assert took < 60
    assert result.outcome is Outcome.KILLED
    assert "ran over its 3 s" in result.reason
    assert 3 <= result.seconds <= took  # what the run page and the audit event report
    assert _leftovers(job.job_id) == []


def test_a_job_over_its_memory_is_killed_with_the_reason(tmp_path: Path) -> None:
    hog = "b = bytearray(2 * 1024**3); b[::4096] = b'x' * len(b[::4096])"
    result = _executor(tmp_path).run(_job(["python", "-c", hog], mem_limit="256m"))
    assert result.outcome is Outcome.KILLED
    assert "out of memory" in result.reason


def test_a_failing_job_says_so_and_keeps_its_log(tmp_path: Path) -> None:
    result = _executor(tmp_path).run(_job(["python", "-c", "raise SystemExit('no view')"]))
    assert result.outcome is Outcome.FAILED
    assert result.exit_code == 1
    assert "no view" in result.log_tail


def test_no_job_starts_without_a_verified_firewall(tmp_path: Path) -> None:
    job = _job(["true"])
    result = _executor(tmp_path, firewall=True).run(job)
    assert result.outcome is Outcome.REFUSED
    assert "firewall" in result.reason
    assert _leftovers(job.job_id) == []


def test_running_jobs_are_found_again_and_can_be_cancelled(tmp_path: Path) -> None:
    executor = _executor(tmp_path)
    job = _job(["sleep", "600"], timeout_seconds=120)
    ended: list[RunnerResult] = []
    thread = threading.Thread(target=lambda: ended.append(executor.run(job)))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while job.job_id not in executor.running():
            assert time.monotonic() < deadline
            time.sleep(0.5)
        # a fresh executor (the service after a restart) finds it too
        assert job.job_id in _executor(tmp_path).running()
        _executor(tmp_path).cancel(job.job_id)
    finally:
        thread.join(timeout=120)
    # the run that was waiting on it returns, whatever the engine answered it in the
    # moment of the removal (404 gone, 409 being removed: cancelled; or the kill's exit
    # status when it read the container first), and never as a success
    (result,) = ended
    assert result.outcome in {Outcome.KILLED, Outcome.FAILED}, result
    assert _leftovers(job.job_id) == []


def test_a_job_run_again_after_a_restart_replaces_the_runner_left_behind(
    tmp_path: Path,
) -> None:
    """The service restarted while its check ran: the check is run again under the same
    job id, and the old runner (same name) is removed rather than refusing the new."""
    job = _job(["sleep", "600"], timeout_seconds=120)
    first = threading.Thread(target=_executor(tmp_path).run, args=(job,))
    first.start()
    try:
        deadline = time.monotonic() + 60
        while job.job_id not in _executor(tmp_path).running():
            assert time.monotonic() < deadline
            time.sleep(0.5)
        again = RunnerJob(
            job_id=job.job_id,
            kind=JobKind.CHECK,
            command=["python", "-c", "open('/output/done', 'w').write('again')"],
        )
        result = _executor(tmp_path).run(again)
        assert result.outcome is Outcome.SUCCEEDED, result.reason
        assert result.outputs == {"done": b"again"}
    finally:
        first.join(timeout=120)
    assert _leftovers(job.job_id) == []


def test_platform_code_reads_a_volume_without_starting_anything_beside_its_data(
    tmp_path: Path,
) -> None:
    """How the service builds a production batch from a view: the volume's files come
    back through a container that is created and removed, never started."""
    engine = docker_engine.client()
    volume = f"{SETTINGS.project}-view-{uuid.uuid4().hex[:8]}"
    files = {"view.json": b"{}", "parts/train.parquet": b"PAR1"}
    docker_engine.fill_volume(volume, files, image=IMAGE, labels={"org.shuyu.project": "t"})
    since = int(time.time()) - 1
    try:
        assert _executor(tmp_path).read_volume(volume, max_bytes=1 << 20) == files
        with pytest.raises(ShuyuError, match="more than 3 bytes"):
            _executor(tmp_path).read_volume(volume, max_bytes=3)
    finally:
        engine.volumes.get(volume).remove(force=True)
    readers = {"label": [f"org.shuyu.project={SETTINGS.project}", "org.shuyu.role=volume-reader"]}
    events = engine.events(since=since, until=int(time.time()) + 1, decode=True, filters=readers)
    actions = {e["Action"] for e in events}
    assert "create" in actions
    assert "start" not in actions
    assert engine.containers.list(all=True, filters=readers) == []

    missing = f"{SETTINGS.project}-never-published"
    with pytest.raises(ShuyuError, match=f"volume {missing} does not exist"):
        _executor(tmp_path).read_volume(missing, max_bytes=1 << 20)
    assert engine.volumes.list(filters={"name": missing}) == []  # not created by the read


def test_make_down_removes_what_a_stopped_service_left_behind_so_volumes_can_go(
    tmp_path: Path,
) -> None:
    """A reader the service left (killed between create and remove) keeps the holdout
    volume in use; `shuyu platform down --volumes` removes it, then the volume."""
    engine = docker_engine.client()
    settings = SETTINGS.model_copy(update={"project": f"downtest{uuid.uuid4().hex[:6]}"})
    volume = settings.holdout_volume("bank_credit")
    engine.volumes.create(name=volume)
    engine.containers.create(
        IMAGE,
        command=["true"],
        entrypoint=[],
        network_mode="none",
        volumes={volume: {"bind": "/volume", "mode": "ro"}},
        labels={"org.shuyu.project": settings.project, "org.shuyu.role": "volume-reader"},
    )
    down(Layout(tmp_path), settings, volumes=True)  # no shuyu.env here: compose not asked
    left = engine.containers.list(
        all=True, filters={"label": f"org.shuyu.project={settings.project}"}
    )
    assert left == []
    assert engine.volumes.list(filters={"name": volume}) == []
