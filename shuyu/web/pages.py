"""Server-rendered pages (zh-CN by default, English available): each role's landing
page, a submission with its report and notebook, the reviewer's vote, the partner's
submit form."""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory (as a string it
# would be taken for a query parameter)
import datetime as dt
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from shuyu.notebooks import to_html
from shuyu.review.rules import Decision
from shuyu.review.service import Principal, SubmissionView, SubmitRequest
from shuyu.web.common import UNTRUSTED_CSP, Web, call

OPEN_STATES = {"submitted", "checking", "in_review"}


@dataclass(frozen=True)
class SubmitForm:
    scenario: str
    run_id: str
    note: str
    spec: str

    @classmethod
    def read(
        cls,
        scenario: Annotated[str, Form()],
        run_id: Annotated[str, Form()],
        note: Annotated[str, Form()] = "",
        spec: Annotated[str, Form()] = "",
    ) -> "SubmitForm":
        return cls(scenario, run_id.strip(), note, spec)

    def request(self) -> SubmitRequest:
        try:
            parsed = yaml.safe_load(self.spec) if self.spec.strip() else None
        except yaml.YAMLError as exc:
            raise HTTPException(400, f"spec: not YAML or JSON ({exc})") from None
        return SubmitRequest(
            run_id=self.run_id, scenario=self.scenario, note=self.note, spec=parsed
        )


def page_router(web: Web) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    service, base, prefix = web.service, web.base, web.prefix

    async def who(request: Request) -> Principal:
        return await web.who(request)

    Who = Annotated[Principal, Depends(who)]

    render = web.render

    @router.get(f"{base}/", response_class=HTMLResponse)
    async def landing(request: Request, user: Who) -> Response:
        return render(
            request,
            "landing.html",
            user,
            queue=await call(service.queue, user) if "reviewers" in user.groups else None,
            mine=await call(service.mine, user) if "partners" in user.groups else None,
            notices=await call(service.notices, user),
        )

    @router.get(f"{base}/submit", response_class=HTMLResponse)
    async def submit_page(request: Request, user: Who) -> Response:
        scenarios = service.policies().scenarios_for_user(user.username, dt.date.today())
        return render(request, "submit.html", user, scenarios=scenarios)

    @router.post(f"{base}/submit")
    async def submit_form(
        user: Who, form: Annotated[SubmitForm, Depends(SubmitForm.read)]
    ) -> Response:
        made: SubmissionView = await call(service.submit, user, form.request())
        return RedirectResponse(f"{prefix}submissions/{made.id}", 303)

    @router.get(f"{base}/submissions/{{sid}}", response_class=HTMLResponse)
    async def submission_page(request: Request, sid: str, user: Who) -> Response:
        view: SubmissionView = await call(service.get, user, sid)
        queue = await call(service.queue, user) if "reviewers" in user.groups else []
        folder = service.files / sid
        checked = folder / "check" / "submission.json"
        run = json.loads(checked.read_text(encoding="utf-8"))["run"] if checked.is_file() else {}
        return render(
            request,
            "submission.html",
            user,
            s=view,
            earlier=await call(service.earlier, user, sid),
            can_vote=any(q.id == sid for q in queue),
            can_withdraw=view.submitter == user.username and view.state in OPEN_STATES,
            has_report=(folder / "check" / "report.html").is_file(),
            has_notebook=any((folder / "input" / "code").glob("*.ipynb")),
            metrics=sorted((run.get("metrics") or {}).items()),
            params=sorted((run.get("params") or {}).items()),
            page_title=sid,
        )

    @router.post(f"{base}/submissions/{{sid}}/vote")
    async def vote_form(
        sid: str,
        user: Who,
        decision: Annotated[Decision, Form()],
        comment: Annotated[str, Form()] = "",
    ) -> Response:
        await call(service.vote, user, sid, decision, comment)
        return RedirectResponse(f"{prefix}submissions/{sid}", 303)

    @router.post(f"{base}/submissions/{{sid}}/withdraw")
    async def withdraw_form(sid: str, user: Who) -> Response:
        await call(service.withdraw, user, sid, "")
        return RedirectResponse(f"{prefix}submissions/{sid}", 303)

    @router.get(f"{base}/submissions/{{sid}}/report.html")
    async def report_html(sid: str, user: Who) -> Response:
        path: Path = await call(service.report_file, user, sid, "report.html")
        return FileResponse(
            path, media_type="text/html", headers={"Content-Security-Policy": UNTRUSTED_CSP}
        )

    @router.get(f"{base}/submissions/{{sid}}/notebook.html")
    async def notebook_html(sid: str, user: Who) -> Response:
        path = await call(service.notebook_file, user, sid)
        if path is None:
            raise HTTPException(404, "no notebook")
        html = await run_in_threadpool(functools.partial(to_html, path, hide_code=False))
        return HTMLResponse(html, headers={"Content-Security-Policy": UNTRUSTED_CSP})

    return router
