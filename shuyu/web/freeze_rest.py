"""Incident freezes (应急处置) over REST, for administrators: list, apply, lift."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.governance.freezes import FreezeView, Scope
from shuyu.review.service import Principal
from shuyu.web.common import Web, call


class FreezeBody(BaseModel):
    scope: str = Field(description="partner:ID, scenario:ID, product:ID, consumer:ID or platform")
    reason: str = Field(max_length=4000)


class LiftBody(BaseModel):
    reason: str = Field(max_length=4000)


def freeze_router(web: Web, freezes: FreezeDesk) -> APIRouter:
    api = APIRouter(prefix=f"{web.base}/api/v1/freezes", tags=["freeze 应急处置"])

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @api.get("", response_model=list[FreezeView], summary="冻结 Freezes")
    async def listed(user: Who, everything: bool = False) -> Any:
        return await call(lambda: freezes.list(user, everything=everything))

    @api.post("", response_model=FreezeView, status_code=201, summary="冻结 Freeze a scope")
    async def apply(body: FreezeBody, user: Who) -> Any:
        return await call(lambda: freezes.apply(user, Scope.parse(body.scope), body.reason))

    @api.post("/{freeze_id}/lift", response_model=FreezeView, summary="解除冻结 Lift")
    async def lift(freeze_id: str, body: LiftBody, user: Who) -> Any:
        return await call(freezes.lift, user, freeze_id, body.reason)

    return api
