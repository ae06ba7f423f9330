"""The administrators' filing page (登记备案): every product's filing status with what
changed since it was filed, a button to file or re-file, each filing's document."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shuyu.governance.filing import PART_LABELS
from shuyu.governance.filing_export import filing_html
from shuyu.governance.filing_service import FilingRequest, FilingService
from shuyu.review.service import Principal
from shuyu.web.common import Web, call
from shuyu.web.i18n import language

LABELS: dict[str, tuple[str, str]] = {
    "title": ("登记备案", "Filing records"),
    "intro": (
        "每个通过审核的数据产品须向市数据资源管理局登记备案；备案内容（应用场景、使用范围及方式、定价依据、"
        "数据资源及字段、自查报告、批准记录、模型版本与笔记本 sha256）任一项变更即备案失效，"
        "产品停止服务与生产运行，直至重新备案。",
        "Every approved product is filed with the data bureau; when anything filed changes "
        "the filing is stale, and the product is neither served nor run until it is re-filed.",
    ),
    "product": ("产品（注册模型）", "Product (registered model)"),
    "state": ("状态", "State"),
    "filing": ("备案", "Filing"),
    "changed": ("变更项", "Changed"),
    "file": ("备案", "File"),
    "refile": ("重新备案", "Re-file"),
    "note": ("备注", "Note"),
    "document": ("备案表", "Document"),
    "nothing": ("暂无", "Nothing yet"),
}


def filing_pages(web: Web, filings: FilingService) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    base, prefix = web.base, web.prefix

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @router.get(f"{base}/governance/filings", response_class=HTMLResponse)
    async def page(request: Request, user: Who) -> Response:
        en = language(request) == "en"
        return web.render(
            request,
            "filings.html",
            user,
            items=await call(filings.overview, user),
            L={k: v[1 if en else 0] for k, v in LABELS.items()},
            parts={k: v[1 if en else 0] for k, v in PART_LABELS.items()},
        )

    @router.post(f"{base}/governance/filings")
    async def file(
        user: Who, product: Annotated[str, Form()], note: Annotated[str, Form()] = ""
    ) -> Response:
        await call(filings.file, user, FilingRequest(product=product, note=note))
        return RedirectResponse(f"{prefix}governance/filings", 303)

    @router.get(f"{base}/governance/filings/{{filing_id}}", response_class=HTMLResponse)
    async def document(request: Request, filing_id: str, user: Who) -> Response:
        lang = language(request)
        found = await call(filings.exported, user, filing_id, f"html-{lang}")
        return HTMLResponse(filing_html(found, lang=lang))

    return router
