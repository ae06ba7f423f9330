"""Notices to a site's own alerting (a chat bot, a ticket system): JSON POSTed to one
configurable URL. A notice never blocks the decision it reports."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests

_log = logging.getLogger("shuyu.webhook")


def webhook(url: str) -> Callable[[dict[str, Any]], None]:
    def post(notice: dict[str, Any]) -> None:
        if not url:
            return
        try:
            requests.post(url, json=notice, timeout=5)
        except requests.RequestException as exc:
            _log.warning("notice webhook %s: %s", url, exc)

    return post
