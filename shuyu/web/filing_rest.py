"""Filing (登记备案) over REST, for administrators: every product's status, file or
re-file one, read a filing, export it as HTML (zh-CN or English) or JSON."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from shuyu.governance.filing_export import filing_html, filing_json
from shuyu.governance.filing_service import FilingRequest, FilingService, ProductFiling
from shuyu.governance.filing_store import FilingView
from shuyu.review.service import Principal
from shuyu.web.common import Web, call


def filing_router(web: Web, filings: FilingService) -> APIRouter:
    api = APIRouter(prefix=f"{web.base}/api/v1/filings", tags=["filing 登记备案"])

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @api.get("", response_model=list[ProductFiling], summary="备案状态 Filing status")
    async def overview(user: Who) -> Any:
        return await call(filings.overview, user)

    @api.post("", response_model=FilingView, status_code=201, summary="备案 File a product")
    async def file(body: FilingRequest, user: Who) -> Any:
        return await call(filings.file, user, body)

    @api.get("/{filing_id}", response_model=FilingView)
    async def show(filing_id: str, user: Who) -> Any:
        return await call(filings.get, user, filing_id)

    @api.get("/{filing_id}/document.html", response_class=HTMLResponse)
    async def document(
        filing_id: str, user: Who, lang: Annotated[str, Query(pattern="^(zh|en)$")] = "zh"
    ) -> Response:
        found = await call(filings.exported, user, filing_id, f"html-{lang}")
        return HTMLResponse(filing_html(found, lang=lang))

    @api.get("/{filing_id}/document.json")
    async def document_json(filing_id: str, user: Who) -> Response:
        found = await call(filings.exported, user, filing_id, "json")
        return Response(
            filing_json(found),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="{found.id}.json"'},
        )

    return api
