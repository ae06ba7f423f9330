"""Exits (退出) over REST, for administrators: list, the certificate, acceptance (验收)."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from shuyu.governance.exit_store import ExitRegister, ExitView
from shuyu.review.service import Principal
from shuyu.web.common import Web, call


class AcceptBody(BaseModel):
    note: str = Field(default="", max_length=4000)


def exit_router(web: Web, exits: ExitRegister) -> APIRouter:
    api = APIRouter(prefix=f"{web.base}/api/v1/exits", tags=["exit 退出"])

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @api.get("", response_model=list[ExitView], summary="退出 Exits")
    async def listed(user: Who) -> Any:
        return await call(exits.overview, user)

    @api.get("/{exit_id}/certificate", summary="删除证明 The deletion certificate")
    async def certificate(exit_id: str, user: Who) -> Any:
        found, digest = await call(exits.certificate, user, exit_id)
        return {"sha256": digest, "certificate": found.model_dump(mode="json")}

    @api.post("/{exit_id}/accept", response_model=ExitView, summary="验收 Accept")
    async def accept(exit_id: str, body: AcceptBody, user: Who) -> Any:
        return await call(exits.accept, user, exit_id, body.note)

    return api
