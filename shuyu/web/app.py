"""The review service's HTTP face: pages and REST over `ReviewService`, behind the
hub's OAuth.

Content a partner controls is served with `Content-Security-Policy: sandbox` in
sandboxed iframes (`shuyu.web.common.UNTRUSTED_CSP`): it shares the hub's origin, and a
reviewer who opens it must not run a partner's script as themselves. Form posts must
come from the service's own pages (their Origin); REST calls carry a token instead of
the cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from shuyu.airlock.desk import AirlockDesk
from shuyu.governance.annual import AnnualEvaluation
from shuyu.governance.exit_store import ExitRegister
from shuyu.governance.filing_service import FilingService
from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.governance.lifecycle import Lifecycle
from shuyu.packages.desk import PackageDesk
from shuyu.production.service import ProductionService
from shuyu.products.desk import ProductDesk
from shuyu.review.service import ReviewService
from shuyu.web.airlock_pages import airlock_pages
from shuyu.web.auth import HubIdentity
from shuyu.web.common import Web
from shuyu.web.exit_pages import exit_pages
from shuyu.web.exit_rest import exit_router
from shuyu.web.filing_pages import filing_pages
from shuyu.web.filing_rest import filing_router
from shuyu.web.freeze_pages import freeze_pages
from shuyu.web.freeze_rest import freeze_router
from shuyu.web.governance_pages import annual_pages, lifecycle_pages
from shuyu.web.packages_pages import package_pages
from shuyu.web.packages_rest import package_router
from shuyu.web.pages import page_router
from shuyu.web.production_pages import production_pages
from shuyu.web.production_rest import production_router
from shuyu.web.products_pages import products_pages
from shuyu.web.rest import rest_router

TEMPLATES = Path(__file__).parent / "templates"


def create_app(
    service: ReviewService,
    identity: HubIdentity,
    *,
    prefix: str,
    production: ProductionService | None = None,
    annual: AnnualEvaluation | None = None,
    lifecycle: Lifecycle | None = None,
    filings: FilingService | None = None,
    freezes: FreezeDesk | None = None,
    products: ProductDesk | None = None,
    exits: ExitRegister | None = None,
    packages: PackageDesk | None = None,
    airlock: AirlockDesk | None = None,
) -> FastAPI:
    """The service's app, mounted at `prefix` (/services/shuyu/)."""
    web = Web(service, identity, prefix, Jinja2Templates(directory=str(TEMPLATES)))
    app = FastAPI(
        title="数域 shuyu service",
        description="多级评审、安全自查报告与注册门禁 / review, self-check reports, registry gate",
        docs_url=f"{web.base}/docs",
        openapi_url=f"{web.base}/openapi.json",
        redoc_url=None,
    )

    def is_api(path: str) -> bool:
        return path.startswith((f"{web.base}/api/", f"{web.base}/docs", f"{web.base}/openapi"))

    @app.middleware("http")
    async def pages_need_login(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        # behind the hub's proxy: the browser's scheme is in X-Forwarded-Proto, its Host kept
        proto = request.headers.get("x-forwarded-proto", request.url.scheme)
        own_origin = f"{proto}://{request.headers.get('host', request.url.netloc)}"
        origin = request.headers.get("origin")
        if request.method == "POST" and not is_api(path) and origin not in {None, own_origin}:
            return Response("cross-site form refused", status_code=403)
        if is_api(path) or path == f"{web.base}/oauth_callback":
            return await call_next(request)
        if await identity.principal(request) is not None:
            return await call_next(request)
        return identity.login_redirect(request)

    @app.get(f"{web.base}/oauth_callback", include_in_schema=False)
    async def oauth_callback(request: Request) -> Response:
        return await identity.callback(request)

    app.include_router(page_router(web))
    app.include_router(rest_router(web))
    if production is not None:
        app.include_router(production_pages(web, production))
        app.include_router(production_router(web, production))
    if annual is not None:
        app.include_router(annual_pages(web, annual))
    if lifecycle is not None:
        app.include_router(lifecycle_pages(web, lifecycle))
    if filings is not None:
        app.include_router(filing_pages(web, filings))
        app.include_router(filing_router(web, filings))
    if freezes is not None:
        app.include_router(freeze_pages(web, freezes))
        app.include_router(freeze_router(web, freezes))
    if products is not None:
        app.include_router(products_pages(web, products))
    if exits is not None:
        app.include_router(exit_pages(web, exits))
        app.include_router(exit_router(web, exits))
    if packages is not None:
        app.include_router(package_pages(web, packages))
        app.include_router(package_router(web, packages))
    if airlock is not None:
        app.include_router(airlock_pages(web, airlock))
    return app
