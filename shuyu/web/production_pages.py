"""The production pages (生产运行): operators see jobs and runs, run a job now, open a
run's HTML report; reviewers release or discard quarantined outputs."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory (as a string it
# would be taken for a query parameter)
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shuyu.production.service import OPERATORS, REVIEWERS, ProductionService
from shuyu.review.service import Principal
from shuyu.web.common import Web, call


def production_pages(web: Web, production: ProductionService) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    base, prefix = web.base, web.prefix

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @router.get(f"{base}/production", response_class=HTMLResponse)
    async def overview(request: Request, user: Who) -> Response:
        return web.render(
            request,
            "production.html",
            user,
            jobs=await call(production.jobs, user),
            runs=await call(production.runs, user),
            may_run=user.is_admin or OPERATORS in user.groups,
            may_decide=user.is_admin or REVIEWERS in user.groups,
        )

    @router.get(f"{base}/production/runs/{{run_id}}", response_class=HTMLResponse)
    async def run_page(request: Request, run_id: str, user: Who) -> Response:
        return web.render(
            request,
            "production_run.html",
            user,
            run=await call(production.run, user, run_id),
            may_decide=user.is_admin or REVIEWERS in user.groups,
        )

    @router.post(f"{base}/production/jobs/{{job_id}}/run")
    async def run_now(job_id: str, user: Who) -> Response:
        made = await call(production.run_now, user, job_id)
        return RedirectResponse(f"{prefix}production/runs/{made.id}", 303)

    @router.post(f"{base}/production/runs/{{run_id}}/decision")
    async def decide(
        run_id: str,
        user: Who,
        decision: Annotated[str, Form()],
        reason: Annotated[str, Form()],
    ) -> Response:
        await call(production.decide, user, run_id, decision == "release", reason)
        return RedirectResponse(f"{prefix}production/runs/{run_id}", 303)

    return router
