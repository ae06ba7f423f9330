"""The product pages (数据产品) for the bureau's administrators: consumers (使用单位),
their agreements and API keys, the 事中检查 cases for the manual check (人工核查), and
monthly usage statements with a CSV export. Every change goes through
`ProductAccounts`/`CaseDesk`, which check the caller is an administrator and audit it."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory
import datetime as dt
import functools
import json
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from shuyu.products.accounts import AgreementSpec, ConsumerSpec
from shuyu.products.case_states import CaseState, Resolution
from shuyu.products.desk import ProductDesk
from shuyu.products.statements import statement_csv
from shuyu.review.service import Principal
from shuyu.web.common import Web, call


def _invalid(exc: ValidationError) -> HTTPException:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "-"
    return HTTPException(400, f"{field}: {first['msg']}")


def _fen(price: str) -> int:
    try:
        fen = Decimal(price) * 100
    except InvalidOperation:
        raise HTTPException(400, f"price: {price!r} is not a number of yuan (单价须为元)") from None
    if fen != fen.to_integral_value() or fen < 0:
        raise HTTPException(400, f"price: {price!r} must be yuan with at most two decimals")
    return int(fen)


def _this_month(desk: ProductDesk) -> str:
    return desk.clock.today().strftime("%Y-%m")


def products_pages(web: Web, desk: ProductDesk) -> APIRouter:  # noqa: PLR0915 - one route each
    router = APIRouter(include_in_schema=False)
    base, prefix = web.base, web.prefix

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @router.get(f"{base}/products", response_class=HTMLResponse)
    async def overview(request: Request, user: Who) -> Response:
        products = await call(desk.overview, user)
        return web.render(
            request,
            "products.html",
            user,
            products=products,
            consumers=await call(desk.accounts.consumers),
            open_cases=len(await call(desk.cases.cases, CaseState.OPEN)),
            today=desk.clock.today().isoformat(),
        )

    @router.post(f"{base}/products/consumers")
    async def create_consumer(
        user: Who,
        consumer_id: Annotated[str, Form()],
        name: Annotated[str, Form()],
        name_en: Annotated[str, Form()],
        kind: Annotated[str, Form()],
    ) -> Response:
        try:
            spec = ConsumerSpec.model_validate(
                {"id": consumer_id.strip(), "name": name, "name_en": name_en, "kind": kind}
            )
        except ValidationError as exc:
            raise _invalid(exc) from None
        await call(desk.accounts.create_consumer, user, spec)
        return RedirectResponse(f"{prefix}products", 303)

    @router.post(f"{base}/products/consumers/{{consumer_id}}/status")
    async def consumer_status(
        consumer_id: str,
        user: Who,
        status: Annotated[str, Form()],
        reason: Annotated[str, Form()],
    ) -> Response:
        if status not in {"active", "suspended"}:
            raise HTTPException(400, f"status: {status!r} is not active or suspended")
        await call(desk.accounts.set_consumer_status, user, consumer_id, status, reason)
        return RedirectResponse(f"{prefix}products", 303)

    @router.post(f"{base}/products/agreements")
    async def set_agreement(  # noqa: PLR0917 - one parameter per form field
        user: Who,
        consumer_id: Annotated[str, Form()],
        product: Annotated[str, Form()],
        purposes: Annotated[str, Form()],
        valid_from: Annotated[str, Form()],
        valid_until: Annotated[str, Form()],
        daily_quota: Annotated[int, Form()],
        monthly_quota: Annotated[int, Form()],
        price: Annotated[str, Form()],
        regions: Annotated[str, Form()],
    ) -> Response:
        try:
            spec = AgreementSpec(
                consumer_id=consumer_id,
                product=product,
                purposes=[p for p in purposes.replace(",", " ").split() if p],
                valid_from=dt.date.fromisoformat(valid_from),
                valid_until=dt.date.fromisoformat(valid_until),
                daily_quota=daily_quota,
                monthly_quota=monthly_quota,
                price_fen=_fen(price),
                regions=[r for r in regions.replace(",", " ").split() if r],
            )
        except ValidationError as exc:
            raise _invalid(exc) from None
        except ValueError as exc:  # a date that is not YYYY-MM-DD
            raise HTTPException(400, f"valid_from/valid_until: {exc}") from None
        await call(desk.accounts.set_agreement, user, spec)
        return RedirectResponse(f"{prefix}products", 303)

    @router.post(f"{base}/products/agreements/{{consumer_id}}/{{product}}/terminate")
    async def terminate(
        consumer_id: str, product: str, user: Who, reason: Annotated[str, Form()]
    ) -> Response:
        await call(desk.accounts.terminate_agreement, user, consumer_id, product, reason)
        return RedirectResponse(f"{prefix}products", 303)

    @router.post(f"{base}/products/consumers/{{consumer_id}}/keys", response_class=HTMLResponse)
    async def issue_key(request: Request, consumer_id: str, user: Who) -> Response:
        issued = await call(desk.accounts.issue_key, user, consumer_id)
        page = web.render(request, "product_key.html", user, issued=issued)
        # the key is on this page once: never cached, never shown again
        page.headers["Cache-Control"] = "no-store"
        return page

    @router.post(f"{base}/products/keys/{{key_id}}/rotate", response_class=HTMLResponse)
    async def rotate_key(
        request: Request, key_id: str, user: Who, grace_hours: Annotated[float, Form()] = 0
    ) -> Response:
        issued = await call(
            functools.partial(desk.accounts.rotate_key, grace_hours=grace_hours), user, key_id
        )
        page = web.render(request, "product_key.html", user, issued=issued)
        page.headers["Cache-Control"] = "no-store"
        return page

    @router.post(f"{base}/products/keys/{{key_id}}/revoke")
    async def revoke_key(key_id: str, user: Who, reason: Annotated[str, Form()]) -> Response:
        await call(desk.accounts.revoke_key, user, key_id, reason)
        return RedirectResponse(f"{prefix}products", 303)

    @router.post(f"{base}/products/keys/{{key_id}}/unblock")
    async def unblock(key_id: str, user: Who, reason: Annotated[str, Form()]) -> Response:
        await call(desk.cases.unblock, user, key_id, reason)
        return RedirectResponse(f"{prefix}products/cases", 303)

    @router.get(f"{base}/products/cases", response_class=HTMLResponse)
    async def cases(request: Request, user: Who, state: str = "open") -> Response:
        await call(desk.require_admin, user)
        states = {s.value: s for s in CaseState}
        if state != "all" and state not in states:
            raise HTTPException(400, f"state: {state!r} is not open, in_review, closed or all")
        chosen = states.get(state)
        found = await call(desk.cases.cases, chosen)
        return web.render(
            request,
            "product_cases.html",
            user,
            cases=found,
            state=state,
            evidence={c.id: json.dumps(c.evidence, ensure_ascii=False, indent=1) for c in found},
        )

    @router.post(f"{base}/products/cases/{{case_id}}/take")
    async def take(case_id: str, user: Who, note: Annotated[str, Form()] = "") -> Response:
        await call(desk.cases.take, user, case_id, note)
        return RedirectResponse(f"{prefix}products/cases?state=all", 303)

    @router.post(f"{base}/products/cases/{{case_id}}/close")
    async def close(
        case_id: str,
        user: Who,
        resolution: Annotated[str, Form()],
        reason: Annotated[str, Form()],
    ) -> Response:
        if resolution not in {r.value for r in Resolution}:
            raise HTTPException(400, f"resolution: {resolution!r} is not cleared or confirmed")
        await call(desk.cases.close, user, case_id, Resolution(resolution), reason)
        return RedirectResponse(f"{prefix}products/cases?state=all", 303)

    @router.get(f"{base}/products/statements", response_class=HTMLResponse)
    async def statements(request: Request, user: Who, month: str = "") -> Response:
        chosen = month or _this_month(desk)
        return web.render(
            request,
            "product_statements.html",
            user,
            month=chosen,
            statements=await call(desk.statements, user, chosen),
        )

    @router.get(f"{base}/products/statements/{{consumer_id}}/{{month}}.csv")
    async def statement_file(consumer_id: str, month: str, user: Who) -> Response:
        statement = await call(desk.statement, user, consumer_id, month)
        return Response(
            statement_csv(statement),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="usage-{consumer_id}-{month}.csv"'
            },
        )

    return router
