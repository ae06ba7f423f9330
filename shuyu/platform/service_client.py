"""A person's session with the shuyu service's REST API, through the hub's OAuth: the
cookie the service sets once the hub has let the person in."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

from shuyu.errors import ShuyuError
from shuyu.platform.hub_client import HubSession

SERVICE = "/services/shuyu"


@dataclass
class ServiceSession:
    hub: HubSession

    def open(self, seconds: float = 60) -> None:
        """The service's landing page, through the hub's OAuth; the proxy answers 503
        while the service (re)starts."""
        deadline = time.monotonic() + seconds
        while True:
            landing = self.hub.http.get(f"{self.hub.base}{SERVICE}/", timeout=60)
            if landing.status_code != 503 or time.monotonic() > deadline:
                break
            time.sleep(2)
        if landing.status_code != 200:
            raise ShuyuError(f"the service's page answered {landing.status_code}")

    def get(self, path: str) -> requests.Response:
        return self.hub.http.get(f"{self.hub.base}{SERVICE}/api/v1{path}", timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        # a fresh connection: a POST on a kept-alive one that the proxy is just closing
        # fails without an answer, and a POST is not retried (it may have been done)
        for adapter in self.hub.http.adapters.values():
            adapter.close()  # the idle pooled connections only; the cookies stay
        return self.hub.http.post(f"{self.hub.base}{SERVICE}/api/v1{path}", json=body, timeout=300)

    def until(
        self, path: str, done: set[str], seconds: float, *, field: str = "state"
    ) -> dict[str, Any]:
        """Poll `path` until its `field` is one of `done`."""
        deadline = time.monotonic() + seconds
        while True:
            found: dict[str, Any] = self.get(path).json()
            if found.get(field) in done:
                return found
            if time.monotonic() > deadline:
                raise ShuyuError(
                    f"{path} still {found.get(field)} after {seconds:.0f} s: "
                    f"{found.get('reason', '')}"
                )
            time.sleep(3)


def open_service(hub: HubSession) -> ServiceSession:
    session = ServiceSession(hub)
    session.open()
    return session
