"""Package requests over REST: a partner's user asks, an administrator decides."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from shuyu.packages.desk import PackageAsk, PackageDesk, PackageView
from shuyu.review.service import Principal
from shuyu.web.common import Web, call


class DecisionBody(BaseModel):
    approve: bool
    note: str = Field(default="", max_length=4000)


def package_router(web: Web, packages: PackageDesk) -> APIRouter:
    api = APIRouter(prefix=f"{web.base}/api/v1/packages", tags=["packages 软件包"])

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @api.get("", response_model=list[PackageView], summary="软件包申请 Package requests")
    async def listed(user: Who) -> Any:
        return await call(packages.visible_to, user)

    @api.post("", response_model=PackageView, status_code=201, summary="申请 Ask for a package")
    async def ask(body: PackageAsk, user: Who) -> Any:
        return await call(packages.request, user, body)

    @api.post("/{request_id}/decision", response_model=PackageView, summary="审批 Decide")
    async def decide(request_id: str, body: DecisionBody, user: Who) -> Any:
        return await call(
            lambda: packages.decide(user, request_id, approve=body.approve, note=body.note)
        )

    return api
