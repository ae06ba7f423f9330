"""The packages page (软件包): a partner's user asks for a package for its sandboxes and
sees what is approved and published; an administrator approves or rejects, with the
reason. What `pip install --user NAME` in a sandbox tells a user to come to."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shuyu.packages.desk import PackageAsk, PackageDesk
from shuyu.packages.states import PackageState
from shuyu.review.service import Principal
from shuyu.web.common import Web, call
from shuyu.web.i18n import language

LABELS: dict[str, tuple[str, str]] = {
    "title": ("软件包", "Packages"),
    "intro": (
        "沙箱只能从域内软件包索引安装已批准的软件包（pip install --user 名称）。"
        "需要新的软件包时在此申请：管理员批准后，平台在域外下载其 wheel（不接受源码包），"
        "经哈希、大小与禁用名单检查后上架。",
        "Sandboxes install approved packages only, from the in-domain index (pip install --user "
        "NAME). Ask for a new one here: once an administrator approves it, the platform fetches "
        "its wheels (never an sdist), checks hash, size and the denylist, and publishes them.",
    ),
    "ask": ("申请软件包", "Ask for a package"),
    "name": ("名称", "Name"),
    "version": ("版本", "Version"),
    "scenario": ("场景", "Scenario"),
    "purpose": ("用途", "What it is for"),
    "send": ("提交申请", "Ask"),
    "requests": ("申请", "Requests"),
    "state": ("状态", "State"),
    "by": ("申请人", "Asked by"),
    "decision": ("决定", "Decision"),
    "approve": ("批准", "Approve"),
    "reject": ("驳回", "Reject"),
    "note": ("说明（驳回必填）", "Note (required to reject)"),
    "files": ("文件（sha256）", "Files (sha256)"),
    "nothing": ("暂无", "Nothing yet"),
}


def package_pages(web: Web, packages: PackageDesk) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    base, prefix = web.base, web.prefix

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @router.get(f"{base}/packages", response_class=HTMLResponse)
    async def page(request: Request, user: Who) -> Response:
        en = language(request) == "en"
        found = await call(packages.visible_to, user)
        return web.render(
            request,
            "packages.html",
            user,
            requests=found,
            scenarios=packages.scenarios_of(user),
            requested=PackageState.REQUESTED,
            en=en,
            L={k: v[1 if en else 0] for k, v in LABELS.items()},
        )

    @router.post(f"{base}/packages")
    async def ask(
        user: Who,
        name: Annotated[str, Form()],
        version: Annotated[str, Form()],
        scenario: Annotated[str, Form()],
        purpose: Annotated[str, Form()],
    ) -> Response:
        asked = PackageAsk(name=name, version=version, scenario=scenario, purpose=purpose)
        await call(packages.request, user, asked)
        return RedirectResponse(f"{prefix}packages", 303)

    @router.post(f"{base}/packages/{{request_id}}/decide")
    async def decide(
        user: Who,
        request_id: str,
        decision: Annotated[str, Form()],
        note: Annotated[str, Form()] = "",
    ) -> Response:
        await call(
            lambda: packages.decide(user, request_id, approve=decision == "approve", note=note)
        )
        return RedirectResponse(f"{prefix}packages", 303)

    return router
