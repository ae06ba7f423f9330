"""Waiting for a Jupyter server the tests started, as its clients would: until
`/api/status` answers 200."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests


def answers(
    get_status: Callable[[], requests.Response],
    *,
    seconds: float,
    alive: Callable[[], bool] = lambda: True,
    interval: float = 0.2,
) -> bool:
    """True once `get_status()` returns 200; False when `seconds` pass or `alive()`
    says the server has died."""
    deadline = time.monotonic() + seconds
    while alive() and time.monotonic() < deadline:
        try:
            if get_status().status_code == 200:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(interval)
    return False
