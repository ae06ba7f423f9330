"""The product API for consumers (`products_router`): HTTP in, `ProductGateway` calls,
HTTP out. Consumers authenticate with their API key (`Authorization: Bearer sy_…`);
every refusal is an `ErrorResponse` whose `error.code` is one of `refusals.Code`, each
listed under its HTTP status in the OpenAPI schema."""

# no `from __future__ import annotations`: FastAPI reads the route annotations at import

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from shuyu.errors import InputError
from shuyu.products.accounts import ConsentSpec, ConsentView
from shuyu.products.admins import NotFound
from shuyu.products.contracts import ErrorOut, ErrorResponse, ScoreRequest, ScoreResponse
from shuyu.products.gateway import ProductGateway, error_out
from shuyu.products.refusals import CODES, Refusal
from shuyu.products.statements import Statement, statement_csv

PREFIX = "/api/v1/products"
_bearer = HTTPBearer(auto_error=False, description="the consumer's API key: sy_<id>_<secret>")


def _codes_by_status() -> dict[int, list[str]]:
    by_status: dict[int, list[str]] = {}
    for code, info in CODES.items():
        by_status.setdefault(info.status, []).append(f"`{code.value}`: {info.zh} / {info.en}")
    return by_status


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": "<br>".join(lines)}
    for status, lines in sorted(_codes_by_status().items())
}


async def _token(  # async: a sync dependency would cost each call a thread hop
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Header(description="the API key, if not as Bearer")] = None,
) -> str | None:
    if credentials is not None:
        return credentials.credentials
    return x_api_key


Token = Annotated[str | None, Depends(_token)]


def refused(refusal: Refusal) -> JSONResponse:
    body = ErrorResponse(request_id=refusal.request_id, error=error_out(refusal))
    return JSONResponse(body.model_dump(mode="json"), status_code=refusal.status)


def _plain_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


async def _call(function: Callable[..., Any], *args: Any) -> Any:
    """A gateway call off the event loop; refusals and input errors become responses."""
    try:
        return await run_in_threadpool(function, *args)
    except Refusal as refusal:
        return refused(refusal)
    except NotFound as exc:
        return _plain_error(404, str(exc))
    except InputError as exc:
        return _plain_error(422, str(exc))


def products_router(gateway: ProductGateway, *, prefix: str = PREFIX) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["products 数据产品"])

    @router.post(
        "/{product}/score",
        response_model=ScoreResponse,
        responses=ERROR_RESPONSES,
        summary="评分 Score subjects",
        description=(
            "一个主体（`subject`）或一批主体（`subjects`，不超过产品的单次上限）的风险评分、等级与"
            "主要影响因素（标签，不含原始数值）。Score one subject or a batch: score, grade and "
            "the top contributing factors as labels, never raw values. A batch answers 200 with "
            "per-subject errors; a single subject's refusal is the response's."
        ),
    )
    async def score(product: str, body: ScoreRequest, token: Token) -> Any:
        result = await _call(gateway.score, token, product, body)
        if isinstance(result, ScoreResponse):
            return Response(result.model_dump_json(), media_type="application/json")
        return result

    @router.post(
        "/{product}/consents",
        response_model=ConsentView,
        status_code=201,
        responses=ERROR_RESPONSES,
        summary="登记个人授权 Register a consent",
        description=(
            "登记主体签署的个人授权书（仅存授权书的 sha256 与主体的假名）。Record a subject's "
            "signed consent for a personal-data product: only its sha256 and the subject's "
            "pseudonym are kept."
        ),
    )
    async def register_consent(product: str, body: ConsentSpec, token: Token) -> Any:
        return await _call(gateway.register_consent, token, product, body)

    @router.post(
        "/{product}/consents/{consent_id}/withdraw",
        response_model=ConsentView,
        responses=ERROR_RESPONSES,
        summary="撤回个人授权 Withdraw a consent",
    )
    async def withdraw_consent(product: str, consent_id: str, token: Token) -> Any:
        return await _call(gateway.withdraw_consent, token, product, consent_id)

    @router.get(
        "/usage/{month}.csv",
        responses={**ERROR_RESPONSES, 200: {"content": {"text/csv": {}}}},
        summary="用量对账单（CSV） Usage statement as CSV",
    )
    async def usage_csv(month: str, token: Token) -> Any:
        result = await _call(gateway.statement, token, month)
        if not isinstance(result, Statement):
            return result
        name = f"usage-{result.consumer_id}-{month}.csv"
        return Response(
            statement_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get(
        "/usage/{month}",
        response_model=Statement,
        responses=ERROR_RESPONSES,
        summary="用量对账单 Usage statement",
        description="本使用单位某月（YYYY-MM，按北京时间）的调用、计费次数与金额。",
    )
    async def usage(month: str, token: Token) -> Any:
        return await _call(gateway.statement, token, month)

    return router


__all__ = ["ERROR_RESPONSES", "PREFIX", "ErrorOut", "products_router", "refused"]
