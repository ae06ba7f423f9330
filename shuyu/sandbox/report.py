"""What a sandbox's server tells the hub: refusals for the audit log, and a cut session.

The server holds its hub token alone (the server extension takes it out of the
environment that kernels and terminals inherit, and makes the server process
non-dumpable so that partner code cannot read it from /proc). Events are queued here and
posted to `/hub/api/shuyu/sandbox-report` every couple of seconds; a cut is posted at
once. Outside a hub (tests with a plain Jupyter server) events go to the log only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.ioloop import PeriodicCallback

_log = logging.getLogger("shuyu.sandbox")
MAX_QUEUE = 1000  # a refusal storm is summarised, never unbounded


@dataclass
class SandboxReporter:
    api_url: str
    token: str = field(repr=False)
    queue: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    _periodic: PeriodicCallback | None = None

    def event(self, action: str, **details: Any) -> None:
        if len(self.queue) >= MAX_QUEUE:
            self.dropped += 1
            return
        self.queue.append({"action": action, "details": details})

    def start(self, every_seconds: float = 2.0) -> None:
        self._periodic = PeriodicCallback(self.flush, every_seconds * 1000)
        self._periodic.start()

    async def flush(self, egress: dict[str, Any] | None = None) -> None:
        if not self.queue and egress is None and not self.dropped:
            return
        events, self.queue = self.queue, []
        if self.dropped:
            events.append({"action": "sandbox.download", "details": {"dropped": self.dropped}})
            self.dropped = 0
        body: dict[str, Any] = {"events": events}
        if egress is not None:
            body["egress"] = egress
        request = HTTPRequest(
            f"{self.api_url.rstrip('/')}/shuyu/sandbox-report",
            method="POST",
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
            body=json.dumps(body, default=str),
            request_timeout=10,
        )
        try:
            await AsyncHTTPClient().fetch(request)
        except Exception as exc:
            # the hub is briefly away: keep what is not yet reported for the next flush
            _log.warning("shuyu: sandbox report not delivered: %s", exc)
            self.queue[:0] = events[-MAX_QUEUE:]


_reporter: SandboxReporter | None = None


def install_reporter(reporter: SandboxReporter | None) -> None:
    global _reporter  # noqa: PLW0603 - one reporter per server process
    _reporter = reporter


def current_reporter() -> SandboxReporter | None:
    return _reporter


def report_event(action: str, **details: Any) -> None:
    """Queue an audit event for the hub (and log it)."""
    _log.warning("shuyu.audit %s", json.dumps({"action": action, **details}, default=str))
    if _reporter is not None:
        _reporter.event(action, **details)
