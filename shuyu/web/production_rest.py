"""Production over REST (operators and reviewers): jobs, runs now, history, a run's
files (its HTML report, its executed notebook, its outputs), quarantine decisions."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory (as a string it
# would be taken for a query parameter)
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from shuyu.production.service import JobRequest, JobView, ProductionService, RunView
from shuyu.review.service import Principal
from shuyu.web.common import UNTRUSTED_CSP, Web, call


class DecisionBody(BaseModel):
    release: bool
    reason: str = Field(min_length=1, max_length=4000)


def production_router(web: Web, production: ProductionService) -> APIRouter:
    api = APIRouter(prefix=f"{web.base}/api/v1/production", tags=["production"])

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @api.get("/jobs", response_model=list[JobView])
    async def jobs(user: Who) -> Any:
        return await call(production.jobs, user)

    @api.post("/jobs", response_model=JobView, status_code=201)
    async def register(body: JobRequest, user: Who) -> Any:
        return await call(production.register_job, user, body)

    @api.post("/jobs/{job_id}/run", response_model=RunView, status_code=201)
    async def run_now(job_id: str, user: Who) -> Any:
        return await call(production.run_now, user, job_id)

    @api.post("/jobs/{job_id}/enable", response_model=JobView)
    async def enable(job_id: str, user: Who) -> Any:
        return await call(production.set_enabled, user, job_id, True)

    @api.post("/jobs/{job_id}/disable", response_model=JobView)
    async def disable(job_id: str, user: Who) -> Any:
        return await call(production.set_enabled, user, job_id, False)

    @api.get("/runs", response_model=list[RunView])
    async def runs(user: Who, job: str = "") -> Any:
        return await call(production.runs, user, job or None)

    @api.get("/runs/{run_id}", response_model=RunView)
    async def run(run_id: str, user: Who) -> Any:
        return await call(production.run, user, run_id)

    @api.get("/runs/{run_id}/files/{name:path}")
    async def run_file(run_id: str, name: str, user: Who) -> Response:
        path: Path = await call(production.run_file, user, run_id, name)
        # what a notebook wrote is shown, never run, on the hub's origin
        return FileResponse(path, headers={"Content-Security-Policy": UNTRUSTED_CSP})

    @api.post("/runs/{run_id}/decision", response_model=RunView)
    async def decide(run_id: str, body: DecisionBody, user: Who) -> Any:
        return await call(production.decide, user, run_id, body.release, body.reason)

    return api
