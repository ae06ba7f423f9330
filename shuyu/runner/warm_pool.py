"""Warm runners: a production run's runner started before the run is queued.

A notebook's runner spends about a second before the notebook's first cell: papermill's
import, the kernel's boot. None of it depends on the run, so `WarmPool` keeps `size`
runners started ahead (`DockerExecutor.warm_up`: the same lockdown, empty volumes, the
entry point waiting for its inputs). A job the pool's `WarmSpec` takes runs on one of
them (`DockerExecutor.run_warm`), and the next is started behind it; every other job, and
any job when none is ready, runs cold exactly as before. Each warm runner takes one job
and is removed with it, as a cold one is: no run ever sees another's container.

A restart of the service leaves its waiting runners behind; `start` removes them (they
never held anything). A runner that took a job bears the job's name, so the service's
restart rules (`cancel` of the run's runner id) reach it like a cold one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from shuyu.runner.docker_executor import DockerExecutor, WarmRunner
from shuyu.runner.job import RunnerJob, RunnerResult, WarmSpec

_log = logging.getLogger("shuyu.runner.warm")


class WarmPool:
    """An executor (`shuyu.runner.job.Executor`) over `executor` with warm runners."""

    def __init__(
        self,
        executor: DockerExecutor,
        spec: WarmSpec,
        *,
        size: int = 1,
        retry_seconds: float = 30.0,
    ) -> None:
        self.executor = executor
        self.spec = spec
        self.size = size
        self.retry_seconds = retry_seconds
        self._ready: list[WarmRunner] = []
        self._changed = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Removes the waiting runners an earlier process left, then keeps `size` ready
        (started in the background, so that a slow engine holds nothing up)."""
        for name in self.executor.warm_runners():
            _log.info("removing warm runner %s left by an earlier process", name)
            self.executor.remove_warm(name)
        self._thread = threading.Thread(target=self._keep_ready, name="warm-runners", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=120)
        with self._changed:
            left, self._ready = self._ready, []
        for warm in left:
            self.executor.remove_warm(warm.name)

    def wait_ready(self, timeout: float) -> bool:
        """True once `size` runners are ready (within `timeout` seconds)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._ready) >= self.size, timeout)

    def ready(self) -> int:
        with self._changed:
            return len(self._ready)

    def run(self, job: RunnerJob) -> RunnerResult:
        if self.spec.takes(job):
            while (warm := self._take()) is not None:
                result = self.executor.run_warm(warm, job)
                if result is not None:
                    return result
                _log.info("warm runner %s could not take job %s", warm.name, job.job_id)
        return self.executor.run(job)

    def cancel(self, job_id: str) -> None:
        self.executor.cancel(job_id)

    def read_volume(
        self, volume: str, *, max_bytes: int, names: Sequence[str] = ()
    ) -> dict[str, bytes]:
        return self.executor.read_volume(volume, max_bytes=max_bytes, names=names)

    def running(self) -> list[str]:
        return self.executor.running()

    def _take(self) -> WarmRunner | None:
        with self._changed:
            if not self._ready:
                return None
            warm = self._ready.pop(0)
            self._changed.notify_all()  # the keeper starts the next one
            return warm

    def _keep_ready(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._stopping or len(self._ready) < self.size)
                if self._stopping:
                    return
            try:
                warm = self.executor.warm_up(self.spec.template())
            except Exception:
                _log.exception("starting a warm runner failed; jobs run cold meanwhile")
                with self._changed:
                    self._changed.wait_for(lambda: self._stopping, self.retry_seconds)
                continue
            with self._changed:
                if self._stopping:
                    stray = warm
                else:
                    self._ready.append(warm)
                    self._changed.notify_all()
                    continue
            self.executor.remove_warm(stray.name)
