"""The REST API (OpenAPI at /services/shuyu/docs): the same calls the pages make."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory (as a string it
# would be taken for a query parameter)
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from shuyu.review.rules import Decision
from shuyu.review.service import Principal, SubmissionView, SubmitRequest
from shuyu.web.common import Web, call


class VoteBody(BaseModel):
    decision: Decision
    comment: str = ""


class WithdrawBody(BaseModel):
    reason: str = ""


def rest_router(web: Web) -> APIRouter:
    api = APIRouter(prefix=f"{web.base}/api/v1", tags=["review"])
    service = web.service

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @api.get("/submissions", response_model=list[SubmissionView])
    async def list_mine(user: Who) -> Any:
        return await call(service.mine, user)

    @api.post("/submissions", response_model=SubmissionView, status_code=201)
    async def create(body: SubmitRequest, user: Who) -> Any:
        return await call(service.submit, user, body)

    @api.get("/submissions/{sid}", response_model=SubmissionView)
    async def get_one(sid: str, user: Who) -> Any:
        return await call(service.get, user, sid)

    @api.get("/submissions/{sid}/report.json")
    async def report_json(sid: str, user: Who) -> Any:
        path: Path = await call(service.report_file, user, sid, "report.json")
        return json.loads(path.read_text(encoding="utf-8"))

    @api.post("/submissions/{sid}/withdraw", response_model=SubmissionView)
    async def withdraw(sid: str, body: WithdrawBody, user: Who) -> Any:
        return await call(service.withdraw, user, sid, body.reason)

    @api.post("/submissions/{sid}/votes", response_model=SubmissionView)
    async def vote(sid: str, body: VoteBody, user: Who) -> Any:
        return await call(service.vote, user, sid, body.decision, body.comment)

    @api.get("/queue", response_model=list[SubmissionView])
    async def queue(user: Who) -> Any:
        return await call(service.queue, user)

    @api.get("/notices")
    async def notices(user: Who) -> Any:
        return await call(service.notices, user)

    return api
