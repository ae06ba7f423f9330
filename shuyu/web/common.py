"""Shared pieces of the web layer: the caller, service calls off the event loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from shuyu.errors import ShuyuError
from shuyu.governance.exit_states import ExitTransitionRefused
from shuyu.production.states import TransitionRefused as RunTransitionRefused
from shuyu.products.admins import Forbidden as ProductForbidden
from shuyu.products.admins import NotFound as ProductNotFound
from shuyu.products.case_states import CaseTransitionRefused
from shuyu.review.service import Forbidden, NotFound, Principal, ReviewService
from shuyu.review.states import TransitionRefused
from shuyu.web.auth import HubIdentity
from shuyu.web.i18n import language, translator

UNTRUSTED_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
"""For what a partner controls (their notebook, a report built from their run)."""


@dataclass(frozen=True)
class Web:
    service: ReviewService
    identity: HubIdentity
    prefix: str  # /services/shuyu/
    templates: Jinja2Templates

    @property
    def base(self) -> str:
        return self.prefix.rstrip("/")

    def render(self, request: Request, name: str, user: Principal, **values: Any) -> Response:
        """A page in the caller's language (remembered when chosen with ?lang=)."""
        lang = language(request)
        context = {
            "t": translator(lang),
            "lang": lang,
            "prefix": self.prefix,
            "user": user,
            **values,
        }
        response = self.templates.TemplateResponse(request, name, context)
        if request.query_params.get("lang") in {"zh", "en"}:
            response.set_cookie("lang", lang, path=self.prefix, samesite="lax", secure=True)
        return response

    async def who(self, request: Request) -> Principal:
        principal = await self.identity.principal(request)
        if principal is None:
            raise HTTPException(401, "log in through the hub")
        return principal


def _status_of(exc: Exception) -> int:
    if isinstance(exc, Forbidden | ProductForbidden):
        return 403
    if isinstance(exc, NotFound | ProductNotFound):
        return 404
    if isinstance(
        exc,
        TransitionRefused | RunTransitionRefused | CaseTransitionRefused | ExitTransitionRefused,
    ):
        return 409
    return 400


async def call(function: Callable[..., Any], *args: Any) -> Any:
    """Run a service method off the event loop; its refusals become HTTP errors."""
    try:
        return await run_in_threadpool(function, *args)
    except ShuyuError as exc:
        raise HTTPException(_status_of(exc), str(exc)) from None
