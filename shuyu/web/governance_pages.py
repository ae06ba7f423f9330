"""The administrators' governance pages: the annual evaluation (年度评估) with its
manual figures, and the authorisation lifecycle (validity, days left, renewals due)."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory (as a string it
# would be taken for a query parameter)
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shuyu.governance.annual import MANUAL, AnnualEvaluation
from shuyu.governance.annual_report import annual_body, annual_html, annual_json
from shuyu.governance.lifecycle import Lifecycle
from shuyu.review.service import Principal
from shuyu.web.common import Web, call
from shuyu.web.i18n import language


def annual_pages(web: Web, annual: AnnualEvaluation) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    base, prefix = web.base, web.prefix

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    def this_year() -> int:
        return annual.clock.local(annual.clock.now()).year

    @router.get(f"{base}/governance/annual", response_class=HTMLResponse)
    async def page(
        request: Request, user: Who, year: Annotated[int | None, Query()] = None
    ) -> Response:
        chosen = year or this_year()
        figures = await call(annual.report, user, chosen)
        return web.render(
            request,
            "governance_annual.html",
            user,
            year=chosen,
            body=annual_body(figures, lang=language(request)),
            manual=MANUAL,
            figures=figures,
            page_title=str(chosen),
        )

    @router.get(f"{base}/governance/annual/{{year}}.html")
    async def document(request: Request, year: int, user: Who) -> Response:
        figures = await call(annual.report, user, year)
        lang = language(request)
        name = f"annual-{year}{'' if lang == 'zh' else '.en'}.html"
        return HTMLResponse(
            annual_html(figures, lang=lang),
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get(f"{base}/governance/annual/{{year}}.json")
    async def data(year: int, user: Who) -> Response:
        figures = await call(annual.report, user, year)
        return Response(
            annual_json(figures),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="annual-{year}.json"'},
        )

    @router.post(f"{base}/governance/annual/{{year}}/inputs")
    async def enter(
        year: int,
        user: Who,
        indicator: Annotated[str, Form()],
        value: Annotated[str, Form()],
        note: Annotated[str, Form()] = "",
    ) -> Response:
        await call(annual.set_manual, user, year, indicator, value, note)
        return RedirectResponse(f"{prefix}governance/annual?year={year}", 303)

    return router


def lifecycle_pages(web: Web, lifecycle: Lifecycle) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @router.get(f"{web.base}/governance/lifecycle", response_class=HTMLResponse)
    async def page(request: Request, user: Who) -> Response:
        items = await call(lifecycle.overview, user)
        return web.render(request, "governance_lifecycle.html", user, items=items)

    return router
