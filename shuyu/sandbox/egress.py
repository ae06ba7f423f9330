"""Bytes a sandbox's server sends to the browser, counted and capped per rolling hour.

Counted where the server writes them: every HTTP response body (the contents API, the
kernels and sessions APIs …) and every websocket frame (kernel output, terminals,
events) — all but the static files of JupyterLab itself, which carry no data. Over the
policy's hourly budget the session is cut: nothing more is written, open connections are
closed, and the hub is told at once (it audits the cut, opens a case, stops the server
and blocks the user's spawns for the rest of the hour).

The counter lives in the server process, which partner code cannot alter: it runs as the
same user but the server is made non-dumpable (no ptrace, no /proc/<pid>/mem).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tornado import web, websocket

from shuyu.sandbox.authorizer import DOWNLOAD_HANDLERS

WINDOW_SECONDS = 3600
BUCKET_SECONDS = 60


class EgressMeter:
    def __init__(
        self,
        budget: int,
        on_cut: Callable[[int], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = budget
        self.on_cut = on_cut
        self.clock = clock
        self.cut = False
        self._buckets: deque[list[float]] = deque()  # [bucket start, bytes]
        self._total = 0

    @property
    def last_hour(self) -> int:
        self._expire(self.clock())
        return self._total

    def _expire(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] <= now - WINDOW_SECONDS:
            self._total -= int(self._buckets.popleft()[1])

    def add(self, nbytes: int) -> bool:
        """Count `nbytes` about to be sent; False when they must not be (cut)."""
        if self.cut:
            return False
        if nbytes <= 0:
            return True
        now = self.clock()
        self._expire(now)
        start = now - now % BUCKET_SECONDS
        if self._buckets and self._buckets[-1][0] == start:
            self._buckets[-1][1] += nbytes
        else:
            self._buckets.append([start, nbytes])
        self._total += nbytes
        if self._total > self.budget:
            self.cut = True
            self.on_cut(self._total)
            return False
        return True


_meter: EgressMeter | None = None
_installed = False


def _metered(handler: web.RequestHandler) -> bool:
    if isinstance(handler, DOWNLOAD_HANDLERS):
        return True  # refused by the authorizer anyway; counted if ever served
    return not isinstance(handler, web.StaticFileHandler)


def install_meter(meter: EgressMeter) -> None:
    """Count every response body and websocket frame of this process from now on."""
    global _meter, _installed  # noqa: PLW0603 - one meter per server process
    _meter = meter
    if _installed:
        return
    _installed = True
    original_flush = web.RequestHandler.flush
    original_frame = websocket.WebSocketProtocol13._write_frame

    def flush(self: web.RequestHandler, include_footers: bool = False) -> Any:
        if _meter is not None and _metered(self):
            buffered = sum(len(chunk) for chunk in getattr(self, "_write_buffer", []))
            if not _meter.add(buffered):
                self._write_buffer = []
                self.request.connection.close()  # type: ignore[union-attr]
                done: Future[None] = Future()
                done.set_result(None)
                return done
        return original_flush(self, include_footers)

    def write_frame(
        self: websocket.WebSocketProtocol13, fin: bool, opcode: int, data: bytes, flags: int = 0
    ) -> Any:
        # the server side does not mask its frames; a client connection does
        if _meter is not None and not self.mask_outgoing and not _meter.add(len(data)):
            self._abort()
            raise websocket.WebSocketClosedError()
        return original_frame(self, fin, opcode, data, flags)

    web.RequestHandler.flush = flush  # type: ignore[method-assign]
    websocket.WebSocketProtocol13._write_frame = write_frame  # type: ignore[method-assign]
