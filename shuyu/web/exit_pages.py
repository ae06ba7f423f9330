"""The administrators' exit page (退出): every exit with its state and the days left of
its 30 days, the deletion certificate as a document (zh-CN, English, JSON) and the
acceptance (验收) by an administrator other than the one who ran the exit. Exits are run
on the host (`shuyu exit partner|consumer`); this page reads and accepts them."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory
import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shuyu.governance.exit_certificate import certificate_html, certificate_json
from shuyu.governance.exit_store import ExitRegister
from shuyu.review.service import Principal
from shuyu.web.common import Web, call
from shuyu.web.i18n import language

LABELS: dict[str, tuple[str, str]] = {
    "title": ("退出与数据删除证明", "Exits and deletion certificates"),
    "intro": (
        "合伙人或使用单位退出时，平台先一次性收回全部权限，再删除未移交的工作区、沙箱、"
        "MLflow 运行与制品、注册模型版本、发布区副本与接口密钥，逐项记录 sha256 与删除时间"
        "并再次核验；须在退出之日起 30 日内由执行人以外的管理员验收。"
        "退出在宿主机上执行：shuyu exit partner ID。",
        "When a partner or consumer exits, every access is revoked at once, then what is not "
        "transferred is deleted, each item with its sha256 and time, and verified again; an "
        "administrator other than the one who ran it accepts the certificate within 30 days. "
        "Exits run on the host: shuyu exit partner ID.",
    ),
    "subject": ("退出方", "Subject"),
    "state": ("状态", "State"),
    "exit_date": ("退出日期", "Exit date"),
    "deadline": ("期限", "Deadline"),
    "days_left": ("剩余天数", "Days left"),
    "overdue": ("已逾期", "OVERDUE"),
    "by": ("执行人", "Run by"),
    "certificate": ("删除证明", "Certificate"),
    "tampered": ("证明已被篡改（sha256 不符）", "tampered: sha256 does not match"),
    "accept": ("验收", "Accept"),
    "note": ("验收意见", "Note"),
    "accepted": ("已验收", "Accepted"),
    "nothing": ("暂无", "Nothing"),
}


def exit_pages(
    web: Web, exits: ExitRegister, today: Callable[[], dt.date] = dt.date.today
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    base, prefix = web.base, web.prefix

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    @router.get(f"{base}/governance/exits", response_class=HTMLResponse)
    async def page(request: Request, user: Who) -> Response:
        en = language(request) == "en"
        found = await call(exits.overview, user)
        day = today()
        await call(exits.alarm_overdue, day)  # once per exit, whoever looks first
        return web.render(
            request,
            "exits.html",
            user,
            exits=found,
            today=day,
            L={k: v[1 if en else 0] for k, v in LABELS.items()},
        )

    @router.get(f"{base}/governance/exits/{{exit_id}}.json")
    async def data(exit_id: str, user: Who) -> Response:
        certificate, digest = await call(exits.certificate, user, exit_id)
        return Response(
            certificate_json(certificate),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="exit-{exit_id}.json"',
                "X-Certificate-Sha256": digest,
            },
        )

    @router.get(f"{base}/governance/exits/{{exit_id}}", response_class=HTMLResponse)
    async def document(request: Request, exit_id: str, user: Who) -> Response:
        certificate, digest = await call(exits.certificate, user, exit_id)
        return HTMLResponse(certificate_html(certificate, digest, lang=language(request)))

    @router.post(f"{base}/governance/exits/{{exit_id}}/accept")
    async def accept(exit_id: str, user: Who, note: Annotated[str, Form()] = "") -> Response:
        await call(exits.accept, user, exit_id, note)
        return RedirectResponse(f"{prefix}governance/exits", 303)

    return router
