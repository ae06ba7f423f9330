"""The host's standing work: the two steps only the host can do, done when they are due.

`shuyu packages fetch` needs the one place with a registry; `shuyu airlock process` the
one place with the masking key. `make up` starts this loop in the background (`shuyu
platform host-worker`, its log and pid file in the state folder) and `make down` stops
it, so an administrator's approval is fetched and a data provider's approved import is
placed within one interval, with nobody running a command. One worker at a time (a lock
file), and one pass of the steps at a time (another, which the manual commands wait
for); each step's work is in its own transactions,
so a restart loses nothing: what is approved stays approved until a pass handles it, and
a step that fails is logged and tried again at the next pass.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from shuyu.audit.events import audit_event
from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_text
from shuyu.platform.layout import Layout

_log = logging.getLogger(__name__)
COMMAND = "host-worker"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Say], int]  # how many items it handled


def run_pass(steps: list[Step], say: Say) -> dict[str, int | str]:
    """Each step once; one that fails does not keep the others from running."""
    done: dict[str, int | str] = {}
    for step in steps:
        try:
            done[step.name] = step.run(say)
        except Exception as exc:  # the next pass tries again
            _log.exception("host worker: %s failed", step.name)
            say(f"{step.name}: failed: {type(exc).__name__}: {exc}")
            done[step.name] = f"failed: {type(exc).__name__}"
    return done


@contextlib.contextmanager
def _flock(path: Path, *, wait: bool, busy: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise ShuyuError(busy) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def worker_lock(layout: Layout) -> contextlib.AbstractContextManager[None]:
    """One worker at a time, held for its life: a second is refused, naming the first."""
    path = layout.state / "host-worker.lock"
    return _flock(
        path,
        wait=False,
        busy=f"another host worker holds {path} (pid {_pid(layout) or '?'}): "
        "stop it first (`make down`), or let it do the work",
    )


def steps_lock(layout: Layout) -> contextlib.AbstractContextManager[None]:
    """The host's steps one pass at a time: the worker holds it for each pass, and a
    manual `shuyu packages fetch` or `shuyu airlock process` waits for the pass to end,
    so the same approval is never handled twice at once."""
    return _flock(layout.state / "host-steps.lock", wait=True, busy="")


def serve(
    layout: Layout, steps: list[Step], *, interval: float, stop: threading.Event, say: Say
) -> int:
    """Passes every `interval` seconds until `stop`; the number of passes."""
    passes = 0
    with worker_lock(layout):
        audit_event("host.worker", "platform", "allowed", state="started", pid=os.getpid())
        try:
            while not stop.is_set():
                started = time.monotonic()
                with steps_lock(layout):
                    done = run_pass(steps, say)
                passes += 1
                if any(v for v in done.values()):
                    say(f"pass {passes}: {done}")
                stop.wait(max(0.0, interval - (time.monotonic() - started)))
        finally:
            audit_event("host.worker", "platform", "allowed", state="stopped", passes=passes)
    return passes


def stop_on_signals(stop: threading.Event) -> None:
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda _n, _f: stop.set())


# ------------------------------------------------------- started by `make up`


def _pid_file(layout: Layout) -> Path:
    return layout.state / "host-worker.pid"


def _pid(layout: Layout) -> int | None:
    """The running worker's pid, if the pid file names a live host worker."""
    try:
        pid = int(_pid_file(layout).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if COMMAND.encode() in cmdline else None


def start(layout: Layout) -> tuple[int, bool]:
    """Start the worker in the background unless one runs; (pid, started now)."""
    running = _pid(layout)
    if running is not None:
        return running, False
    layout.state.mkdir(parents=True, exist_ok=True)
    log: IO[bytes] = (layout.state / "host-worker.log").open("ab")
    with log:
        process = subprocess.Popen(
            [sys.executable, "-m", "shuyu.cli.main", "platform", COMMAND],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives `make up`'s terminal
            env={**os.environ, "SHUYU_VAR": str(layout.root)},
        )
    atomic_write_text(_pid_file(layout), f"{process.pid}\n")
    return process.pid, True


def stop(layout: Layout, timeout: float = 30) -> int | None:
    """Stop the worker (it finishes its pass first); its pid, or None if none ran."""
    pid = _pid(layout)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid(layout) == pid and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid(layout) == pid:
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)  # reaped, if it is this process's own child (the tests)
    _pid_file(layout).unlink(missing_ok=True)
    return pid
