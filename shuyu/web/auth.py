"""Who is calling: the hub's OAuth for people, the hub's API tokens for scripts.

A browser without the service's cookie is sent through the hub's OAuth (the hub's login,
then `/hub/api/oauth2/authorize`), comes back to `oauth_callback` with a code, and the
code becomes a token kept in an HttpOnly, Secure, SameSite=Lax cookie scoped to the
service. Every request's token is resolved by the hub (`/hub/api/user`, cached briefly
by JupyterHub's own `HubOAuth`) into the user and their groups — the groups are the
roles. REST clients send the same token as `Authorization: token …`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse

from shuyu.review.service import Principal

COOKIE = "shuyu-service-token"
STATE_COOKIE = "shuyu-oauth-state"


@dataclass
class HubIdentity:
    """The hub's word on a token, through JupyterHub's HubOAuth client."""

    hub_auth: Any  # jupyterhub.services.auth.HubOAuth
    prefix: str  # the service's URL prefix, e.g. /services/shuyu/
    secure_cookies: bool = True

    @classmethod
    def for_service(cls, api_url: str, api_token: str, prefix: str) -> HubIdentity:
        """The service's client of the hub: its token from its secrets (never the
        environment, where `docker inspect` would show it)."""
        from jupyterhub.services.auth import HubOAuth  # noqa: PLC0415

        hub_auth = HubOAuth(
            api_url=api_url,
            api_token=api_token,
            oauth_client_id=f"service-{prefix.strip('/').split('/')[-1]}",
            oauth_redirect_uri=f"{prefix}oauth_callback",
            base_url=prefix,
            hub_prefix="/hub/",
            hub_host="",
            cache_max_age=60,
        )
        return cls(hub_auth, prefix)

    def token_of(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() in {"token", "bearer"} and value:
            return value.strip()
        return request.cookies.get(COOKIE, "")

    async def principal(self, request: Request) -> Principal | None:
        token = self.token_of(request)
        if not token:
            return None
        model = await self.hub_auth.user_for_token(token, sync=False)
        if not model or model.get("kind", "user") != "user":
            return None
        return Principal(str(model["name"]), frozenset(model.get("groups") or []))

    async def scopes(self, request: Request) -> set[str]:
        token = self.token_of(request)
        model = await self.hub_auth.user_for_token(token, sync=False) if token else None
        return set((model or {}).get("scopes") or [])

    def login_redirect(self, request: Request) -> RedirectResponse:
        state = secrets.token_urlsafe(24)
        query = urlencode(
            {
                "client_id": self.hub_auth.oauth_client_id,
                "redirect_uri": self.hub_auth.oauth_redirect_uri,
                "response_type": "code",
                "state": state,
            }
        )
        response = RedirectResponse(f"{self.hub_auth.oauth_authorization_url}?{query}", 302)
        next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response.set_cookie(
            STATE_COOKIE,
            f"{state}|{next_url}",
            max_age=600,
            httponly=True,
            secure=self.secure_cookies,
            samesite="lax",
            path=self.prefix,
        )
        return response

    async def callback(self, request: Request) -> RedirectResponse:
        saved = request.cookies.get(STATE_COOKIE, "")
        state, _, next_url = saved.partition("|")
        given = request.query_params.get("state", "")
        code = request.query_params.get("code", "")
        if not state or not secrets.compare_digest(state, given) or not code:
            return RedirectResponse(self.prefix, 302)
        token = await self.hub_auth.token_for_code(code, sync=False)
        if not next_url.startswith(self.prefix):
            next_url = self.prefix  # never redirect off the service
        response = RedirectResponse(next_url, 302)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            secure=self.secure_cookies,
            samesite="lax",
            path=self.prefix,
        )
        response.delete_cookie(STATE_COOKIE, path=self.prefix)
        return response
