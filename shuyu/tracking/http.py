"""The HTTP plumbing every shuyu client of the MLflow server shares.

Only `requests`: the hub and the review service talk to MLflow without installing it.
Every failure is one line naming the call, the status and MLflow's own message.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from shuyu.errors import ShuyuError

TIMEOUT = 15.0


class MlflowHttp:
    """An authenticated session with one MLflow server (`url` like http://10.213.0.3:5000)."""

    def __init__(self, url: str, username: str, password: str, *, timeout: float = TIMEOUT):
        self.url = url.rstrip("/")
        self.username = username
        self.timeout = timeout
        self._session = requests.Session()
        self._session.auth = (username, password)
        self._session.trust_env = False  # never a proxy between the platform and MLflow

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> requests.Response:
        try:
            response = self._session.request(
                method, f"{self.url}{path}", timeout=kwargs.pop("timeout", self.timeout), **kwargs
            )
        except requests.RequestException as exc:
            raise ShuyuError(
                f"MLflow at {self.url} does not answer ({type(exc).__name__}); "
                "is the mlflow service up?"
            ) from None
        if response.status_code not in ok:
            raise ShuyuError(
                f"MLflow {method} {path} failed with HTTP {response.status_code}: "
                f"{error_message(response)}"
                + ("; check the account's password secret" if response.status_code == 401 else "")
            )
        return response

    def wait_until_up(self, seconds: float) -> None:
        """Poll /health: the server takes tens of seconds to start its workers."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                if self._session.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise ShuyuError(f"MLflow at {self.url} did not answer within {seconds:.0f}s")
            time.sleep(1.0)


def error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])[:300]
    return str(body)[:300]
