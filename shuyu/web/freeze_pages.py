"""The administrators' incident freeze page (应急处置): freeze a scope in one action with
the reason, see what is frozen, lift a freeze in another."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.governance.freezes import Scope
from shuyu.review.service import Principal
from shuyu.web.common import Web, call
from shuyu.web.i18n import language

LABELS: dict[str, tuple[str, str]] = {
    "title": ("应急处置：冻结", "Incident freezes"),
    "intro": (
        "冻结即时生效：合伙人沙箱停止并不能再启动，相关生产任务不再运行，相关数据产品接口拒绝调用；"
        "解除冻结是另一项经审计的操作。",
        "A freeze acts at once: sandboxes are stopped and refused, production runs refused and "
        "API calls refused; lifting it is another audited act.",
    ),
    "scope": ("范围", "Scope"),
    "scope_hint": (
        "partner:合伙人ID、scenario:场景ID、product:产品ID、consumer:使用单位ID 或 platform",
        "partner:ID, scenario:ID, product:ID, consumer:ID or platform",
    ),
    "reason": ("原因", "Reason"),
    "apply": ("冻结", "Freeze"),
    "lift": ("解除冻结", "Lift"),
    "lift_reason": ("解除原因", "Why it ends"),
    "active": ("生效中的冻结", "Active freezes"),
    "history": ("已解除", "Lifted"),
    "by": ("操作人", "By"),
    "nothing": ("暂无", "Nothing"),
}


def freeze_pages(web: Web, freezes: FreezeDesk) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    base, prefix = web.base, web.prefix

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @router.get(f"{base}/governance/freezes", response_class=HTMLResponse)
    async def page(request: Request, user: Who) -> Response:
        en = language(request) == "en"
        found = await call(lambda: freezes.list(user, everything=True))
        return web.render(
            request,
            "freezes.html",
            user,
            active=[f for f in found if f.active],
            lifted=[f for f in found if not f.active][:50],
            L={k: v[1 if en else 0] for k, v in LABELS.items()},
        )

    @router.post(f"{base}/governance/freezes")
    async def apply(
        user: Who, scope: Annotated[str, Form()], reason: Annotated[str, Form()]
    ) -> Response:
        await call(lambda: freezes.apply(user, Scope.parse(scope), reason))
        return RedirectResponse(f"{prefix}governance/freezes", 303)

    @router.post(f"{base}/governance/freezes/{{freeze_id}}/lift")
    async def lift(user: Who, freeze_id: str, reason: Annotated[str, Form()]) -> Response:
        await call(freezes.lift, user, freeze_id, reason)
        return RedirectResponse(f"{prefix}governance/freezes", 303)

    return router
