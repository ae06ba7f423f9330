"""What a sandbox may ask of the service: to submit a run for review, and to see its own
submissions. Nothing else is served on this listener (it is bound to the service's
address on the sandbox network, the one port the firewall opens to sandboxes for it).

A sandbox's kernel holds a hub token with the `custom:shuyu:submit` scope only (minted
by the spawner for that sandbox, never the user's own session); the hub resolves it.
"""

# no `from __future__ import annotations`: FastAPI resolves a route's annotations at
# import, and the `Who` dependency is local to the router factory (as a string it
# would be taken for a query parameter)
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request

from shuyu.hub.roles import SUBMIT_SCOPE
from shuyu.review.service import Principal, ReviewService, SubmissionView, SubmitRequest
from shuyu.web.auth import HubIdentity
from shuyu.web.common import call


def create_sandbox_app(service: ReviewService, identity: HubIdentity) -> FastAPI:
    app = FastAPI(
        title="数域 shuyu · sandbox submissions", docs_url=None, redoc_url=None, openapi_url=None
    )

    async def who(request: Request) -> Principal:
        if not request.headers.get("authorization"):
            raise HTTPException(401, "send the sandbox's submission token")
        principal = await identity.principal(request)
        scopes = await identity.scopes(request)
        if principal is None or not any(s.split("!")[0] == SUBMIT_SCOPE for s in scopes):
            raise HTTPException(403, f"the token lacks {SUBMIT_SCOPE}")
        return principal

    Who = Annotated[Principal, Depends(who)]

    @app.post("/api/v1/submissions", response_model=SubmissionView, status_code=201)
    async def submit(body: SubmitRequest, user: Who) -> Any:
        return await call(service.submit, user, body)

    @app.get("/api/v1/submissions", response_model=list[SubmissionView])
    async def mine(user: Who) -> Any:
        return await call(service.mine, user)

    @app.get("/api/v1/submissions/{sid}", response_model=SubmissionView)
    async def one(sid: str, user: Who) -> Any:
        return await call(service.get, user, sid)

    return app
