"""The hub driven over HTTPS as a browser drives it: sign-up, approval, login, servers.

`make up` creates the partners' demo accounts exactly as a person would — sign up with a
password that passes the rules, then an administrator approves — so the demo exercises
the real NativeAuthenticator flow. (Staff accounts are never signed up: `make up` sets
them in the hub's database with `shuyu hub account set-password`.) The tests and the
spawn benchmark use the same session to start and stop servers.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from shuyu.errors import ShuyuError


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    role: str  # partner, reviewer, operator, admin


class HubSession:
    """A browser-like session against the hub (cookies + the XSRF token)."""

    def __init__(self, base_url: str, *, ca: Path | None = None, timeout: float = 30) -> None:
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.trust_env = False  # the hub is local: never through a proxy
        if ca is not None:
            self.http.verify = str(ca)
        self.timeout = timeout

    def _hub_xsrf_cookie(self) -> str | None:
        """The hub's XSRF cookie: a single-user server sets its own `_xsrf` under its
        /user/<name>/ path once the session has opened it."""
        for cookie in self.http.cookies:
            if cookie.name == "_xsrf" and not (cookie.path or "").startswith("/user/"):
                return cookie.value
        return None

    def _xsrf(self, path: str) -> str:
        self.http.get(f"{self.base}{path}", timeout=self.timeout)
        token = self._hub_xsrf_cookie()
        if not token:
            raise ShuyuError(f"{self.base}{path}: the hub set no _xsrf cookie")
        return token

    def signup(self, username: str, password: str) -> str:
        """Sign up; returns the hub's message (created, awaiting approval, or why not)."""
        data = {
            "username": username,
            "signup_password": password,
            "signup_password_confirmation": password,
            "_xsrf": self._xsrf("/hub/signup"),
        }
        response = self.http.post(f"{self.base}/hub/signup", data=data, timeout=self.timeout)
        response.raise_for_status()
        match = re.search(r'class="alert[^"]*"[^>]*>\s*(.*?)\s*<', response.text, re.S)
        return match.group(1).strip() if match else ""

    def login(self, username: str, password: str) -> bool:
        data = {"username": username, "password": password, "_xsrf": self._xsrf("/hub/login")}
        response = self.http.post(
            f"{self.base}/hub/login", data=data, timeout=self.timeout, allow_redirects=False
        )
        return response.status_code in {301, 302, 303} and "login" not in response.headers.get(
            "Location", "login"
        )

    def api(self, method: str, path: str, json: Any = None) -> requests.Response:
        """Call the hub's REST API with this session's cookie (and its XSRF token)."""
        token = self._hub_xsrf_cookie() or self._xsrf("/hub/home")
        headers = {"X-XSRFToken": token, "Referer": f"{self.base}/hub/home"}
        return self.http.request(
            method, f"{self.base}/hub/api{path}", headers=headers, timeout=self.timeout, json=json
        )

    def start_server(
        self, username: str, scenario: str | None = None, timeout: float = 180
    ) -> float:
        """Ask the hub to start `username`'s server (for `scenario`, when the user has
        several), as the "start" button does; the seconds until the hub reports it ready."""
        started = time.perf_counter()
        options = {"scenario": scenario} if scenario else None
        response = self.api("POST", f"/users/{username}/server", json=options)
        if response.status_code not in {201, 202}:
            raise ShuyuError(
                f"the hub refused to start {username}'s server: "
                f"{response.status_code} {response.text[:300]}"
            )
        while time.perf_counter() - started < timeout:
            if self._server(username).get("ready"):
                return time.perf_counter() - started
            time.sleep(0.02)
        raise ShuyuError(f"{username}'s server was not ready after {timeout:.0f}s")

    def stop_server(self, username: str, timeout: float = 60) -> None:
        """Stop `username`'s server and wait until the hub no longer lists it."""
        self.api("DELETE", f"/users/{username}/server")
        deadline = time.monotonic() + timeout
        while self._server(username) and time.monotonic() < deadline:
            time.sleep(0.2)

    def _server(self, username: str) -> dict[str, Any]:
        servers = self.api("GET", f"/users/{username}").json().get("servers") or {}
        return dict(servers.get("", {}))

    def approved(self) -> set[str]:
        """Names an administrator has approved (needs an admin session)."""
        page = self.http.get(f"{self.base}/hub/authorize", timeout=self.timeout)
        page.raise_for_status()
        return set(re.findall(r'<tr class="success" id=([^\s>]+)>', page.text))

    def approve(self, username: str, *, approved: bool = True) -> None:
        """Approve (or withdraw approval of) `username`; the hub's link toggles, so look first."""
        if (username in self.approved()) == approved:
            return
        self.http.get(f"{self.base}/hub/authorize/{username}", timeout=self.timeout)
        if (username in self.approved()) != approved:
            raise ShuyuError(
                f"could not change {username}'s approval: is this session an administrator's?"
            )


def approve_partners(
    base_url: str, admin: Account, partners: list[Account], *, ca: Path | None = None
) -> None:
    """Sign each partner up through the page, then approve them as the administrator."""
    hub = HubSession(base_url, ca=ca)
    if not hub.login(admin.username, admin.password):
        raise ShuyuError(
            f"{base_url}: cannot log in as {admin.username}: was its password changed "
            "outside `make up`? Set it again with `shuyu hub account set-password`."
        )
    for account in partners:
        HubSession(base_url, ca=ca).signup(account.username, account.password)
        hub.approve(account.username)
