"""The import airlock's page (导入审核): a partner's user uploads a file for its
workspace (code, a notebook, or a table of its own data keyed by USCC); the data
provider's reviewer approves or rejects it with the reason; everyone sees the scan's
findings and where an approved file was placed."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shuyu.airlock.desk import PROVIDER_REVIEWERS, AirlockDesk
from shuyu.airlock.states import ImportState
from shuyu.review.service import Principal
from shuyu.web.common import Web, call
from shuyu.web.i18n import language

LABELS: dict[str, tuple[str, str]] = {
    "title": ("导入审核", "Import airlock"),
    "intro": (
        "把自己的代码、笔记本或本机构的小表（以统一社会信用代码为键，如贷款结果标签）带入域内："
        "上传后自动扫描（类型、大小、身份证号等标识），由数据提供方审核；"
        "批准后放入工作区的 imports/。表格在域内用脱敏密钥把信用代码换成假名并与本场景视图关联，"
        "沙箱只看到关联后的表，看不到真实代码。",
        "Bring your own code, notebooks or a small table of your organisation's data (keyed by "
        "USCC, e.g. loan outcomes) into the domain: it is scanned (type, size, identifiers), "
        "reviewed by the data provider, and placed under imports/ in your workspace. A table is "
        "pseudonymised in the domain with the masking key and joined to your view: the sandbox "
        "sees the joined table, never the real codes.",
    ),
    "upload": ("上传", "Upload"),
    "file": ("文件", "File"),
    "scenario": ("场景", "Scenario"),
    "purpose": ("用途", "What it is for"),
    "imports": ("导入记录", "Imports"),
    "state": ("状态", "State"),
    "by": ("上传人", "By"),
    "findings": ("扫描结果", "Scan"),
    "decision": ("审核", "Review"),
    "approve": ("批准", "Approve"),
    "reject": ("驳回", "Reject"),
    "note": ("说明（驳回必填）", "Note (required to reject)"),
    "placed": ("位置", "Placed at"),
    "nothing": ("暂无", "Nothing yet"),
    "clean": ("未发现问题", "nothing found"),
}


def airlock_pages(web: Web, airlock: AirlockDesk) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    base, prefix = web.base, web.prefix

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @router.get(f"{base}/airlock", response_class=HTMLResponse)
    async def page(request: Request, user: Who) -> Response:
        en = language(request) == "en"
        found = await call(airlock.visible_to, user)
        return web.render(
            request,
            "airlock.html",
            user,
            imports=found,
            scenarios=airlock.scenarios_of(user),
            reviewer=PROVIDER_REVIEWERS in user.groups,
            pending=ImportState.PENDING,
            en=en,
            L={k: v[1 if en else 0] for k, v in LABELS.items()},
        )

    @router.post(f"{base}/airlock")
    async def upload(
        user: Who,
        file: Annotated[UploadFile, File()],
        scenario: Annotated[str, Form()],
        purpose: Annotated[str, Form()],
    ) -> Response:
        limit = airlock.policies().sandbox.airlock.max_bytes
        data = await file.read(limit + 1)  # one byte over is enough to refuse it
        await call(lambda: airlock.upload(user, scenario, file.filename or "", data, purpose))
        return RedirectResponse(f"{prefix}airlock", 303)

    @router.post(f"{base}/airlock/{{import_id}}/decide")
    async def decide(
        user: Who,
        import_id: str,
        decision: Annotated[str, Form()],
        note: Annotated[str, Form()] = "",
    ) -> Response:
        await call(
            lambda: airlock.decide(user, import_id, approve=decision == "approve", note=note)
        )
        return RedirectResponse(f"{prefix}airlock", 303)

    return router
