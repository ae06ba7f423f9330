"""The host worker (`shuyu platform host-worker`), as `make up` starts it: a real
background process over a real state folder. It starts once (a second start keeps the
first), refuses a second worker, does a pass every interval (a manual pass waits for the
one in progress, not for the worker to end), and stops cleanly on `make down`, audited
both ways."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shuyu.audit.log import AuditLog
from shuyu.errors import ShuyuError
from shuyu.platform import host_worker
from shuyu.platform.layout import Layout
from shuyu.store.database import Database

pytestmark = [pytest.mark.integration, pytest.mark.host]


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Layout]:
    layout = Layout(tmp_path / "var")
    monkeypatch.setenv("SHUYU_VAR", str(layout.root))
    monkeypatch.setenv("SHUYU_HOST_INTERVAL", "0.5")
    monkeypatch.delenv("SHUYU_DB_URL", raising=False)
    try:
        yield layout
    finally:
        host_worker.stop(layout, timeout=10)


def _log(layout: Layout) -> str:
    path = layout.state / "host-worker.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _until(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_make_up_starts_one_worker_and_make_down_stops_it(layout: Layout) -> None:
    pid, started = host_worker.start(layout)
    assert started
    assert host_worker.start(layout) == (pid, False)  # a second `make up` keeps it
    _until(lambda: "host worker: every 0.5 s: packages, airlock" in _log(layout))
    # while it runs, a second worker is refused with whose lock it is
    with (
        pytest.raises(ShuyuError, match=rf"another host worker .*\(pid {pid}\)"),
        host_worker.worker_lock(layout),
    ):
        pass
    # a manual `shuyu packages fetch` waits for the pass in progress, not for the worker
    manual = threading.Event()

    def manual_pass() -> None:
        with host_worker.steps_lock(layout):
            manual.set()

    threading.Thread(target=manual_pass, daemon=True).start()
    assert manual.wait(10), "a manual pass waited for the worker to end"
    assert host_worker.stop(layout) == pid
    assert "stopped after" in _log(layout)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with host_worker.worker_lock(layout):  # released
        pass
    events = [
        (e["action"], json.loads(e["details"]).get("state"))
        for e in AuditLog(Database(layout.db_url)).events()
        if e["action"] == "host.worker"
    ]
    assert events == [("host.worker", "started"), ("host.worker", "stopped")]


def test_a_stale_pid_file_starts_a_new_worker(layout: Layout) -> None:
    layout.state.mkdir(parents=True)
    (layout.state / "host-worker.pid").write_text(f"{os.getpid()}\n")  # not a worker
    pid, started = host_worker.start(layout)
    assert started
    assert pid != os.getpid()
    assert host_worker.stop(layout) == pid


def test_a_step_that_fails_does_not_stop_the_others() -> None:
    said: list[str] = []

    def broken(_say: host_worker.Say) -> int:
        raise ConnectionError("engine down")

    done = host_worker.run_pass(
        [host_worker.Step("packages", broken), host_worker.Step("airlock", lambda _s: 2)],
        said.append,
    )
    assert done == {"packages": "failed: ConnectionError", "airlock": 2}
    assert said == ["packages: failed: ConnectionError: engine down"]
