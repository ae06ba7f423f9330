"""ShuyuHub: JupyterHub with the three things its configuration cannot express.

1. The hub's port is reachable from sandboxes (their servers call the hub API), but a
   sandbox has no business with the hub's pages: requests whose peer address is a
   sandbox's are served only under `/hub/api/`. Sign-up, login and the administrator's
   pages answer 404 there. The peer is the socket's address, not `X-Forwarded-For`,
   which a sandbox could write itself.
2. `/hub/api/shuyu/sandbox-report`: a sandbox's own server reports what only it sees —
   refused downloads and uploads, the bytes it sent to the browser, a cut session —
   with its server token; the hub writes them to the audit log and acts on a cut.
3. A periodic check (`shuyu.hub.watch`) that makes expiry bite while servers run.

Run as `python -m shuyu.hub.app -f jupyterhub_config.py` (the hub image's command).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.app import JupyterHub
from jupyterhub.scopes import Scope
from jupyterhub.utils import url_path_join
from tornado import httputil, web
from tornado.ioloop import PeriodicCallback
from traitlets import Float, Unicode

from shuyu.audit.events import audit_event, install_sink, log_to_stderr
from shuyu.hub.blocks import SpawnBlocks
from shuyu.hub.roles import SANDBOX_REPORT_SCOPE
from shuyu.hub.watch import HubWatch
from shuyu.settings import PlatformSettings

SANDBOX_ACTIONS = frozenset({"sandbox.download", "sandbox.upload", "sandbox.egress"})
"""What a sandbox's server may report: it is the sandbox's word, audited as such."""


class _RefusedMessage(httputil.HTTPMessageDelegate):
    """Answers 404 and swallows the request body."""

    def __init__(self, connection: httputil.HTTPConnection) -> None:
        self.connection = connection

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> None:
        return None

    def data_received(self, chunk: bytes) -> None:
        return None

    def finish(self) -> None:
        body = b"404: Not Found\n"
        self.connection.write_headers(
            httputil.ResponseStartLine("HTTP/1.1", 404, "Not Found"),
            httputil.HTTPHeaders({"Content-Type": "text/plain", "Content-Length": str(len(body))}),
            body,
        )
        self.connection.finish()

    def on_connection_close(self) -> None:
        return None


class _GatedMessage(httputil.HTTPMessageDelegate):
    """Decides on the first line whether a request goes to the hub or is refused."""

    def __init__(
        self,
        app: Any,
        server_conn: object,
        request_conn: httputil.HTTPConnection,
        allowed_prefix: str,
    ) -> None:
        self.app = app
        self.server_conn = server_conn
        self.request_conn = request_conn
        self.allowed_prefix = allowed_prefix
        self.inner: httputil.HTTPMessageDelegate | None = None

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Any:
        assert isinstance(start_line, httputil.RequestStartLine)
        path = start_line.path.split("?", 1)[0]
        api = path == self.allowed_prefix.rstrip("/") or path.startswith(self.allowed_prefix)
        if api and "/../" not in path and not path.endswith("/.."):
            self.inner = self.app.start_request(self.server_conn, self.request_conn)
        else:
            self.inner = _RefusedMessage(self.request_conn)
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        assert self.inner is not None
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        if self.inner is not None:
            self.inner.finish()

    def on_connection_close(self) -> None:
        if self.inner is not None:
            self.inner.on_connection_close()


class SandboxPeerGate(httputil.HTTPServerConnectionDelegate):
    """The hub's tornado application, seen from sandbox addresses as its API only."""

    def __init__(self, app: web.Application, settings: PlatformSettings, api_prefix: str):
        self.app = app
        self.settings_ = settings
        self.api_prefix = api_prefix

    def start_request(
        self, server_conn: object, request_conn: httputil.HTTPConnection
    ) -> httputil.HTTPMessageDelegate:
        context = getattr(request_conn, "context", None)
        address = getattr(context, "address", None)
        peer = address[0] if isinstance(address, tuple) and address else ""
        if self.settings_.is_sandbox_address(peer):
            return _GatedMessage(self.app, server_conn, request_conn, self.api_prefix)
        return self.app.start_request(server_conn, request_conn)

    def on_close(self, server_conn: object) -> None:
        self.app.on_close(server_conn)

    def __getattr__(self, name: str) -> Any:
        # everything else the hub asks of its application (settings, handlers …)
        return getattr(self.app, name)


class SandboxReportHandler(APIHandler):  # type: ignore[misc]
    """POST /hub/api/shuyu/sandbox-report — from a sandbox's server, with its token."""

    def _may_report(self) -> bool:
        user = self.current_user
        if user is None or getattr(user, "kind", "") != "user":
            return False
        filters = getattr(self, "parsed_scopes", {}).get(SANDBOX_REPORT_SCOPE)
        if filters is None:
            return False
        if filters == Scope.ALL:
            return True
        return user.name in filters.get("user", set())

    async def post(self) -> None:
        if not self._may_report():
            raise web.HTTPError(403, "needs the sandbox report scope of this user")
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "the report is not JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "the report is a JSON object")
        username = self.current_user.name
        for event in body.get("events") or []:
            if not isinstance(event, dict) or event.get("action") not in SANDBOX_ACTIONS:
                continue
            raw = event.get("details")
            details: dict[str, Any] = raw if isinstance(raw, dict) else {}
            reserved = {"action", "actor", "outcome", "role", "target", "source"}
            audit_event(
                str(event["action"]),
                username,
                "denied",
                role="partner",
                source="sandbox",
                **{str(k): v for k, v in details.items() if str(k) not in reserved},
            )
        egress = body.get("egress")
        if isinstance(egress, dict) and egress.get("cut"):
            await self.settings["shuyu_watch"].egress_cut(
                username, int(egress.get("bytes_last_hour") or 0)
            )
        self.set_status(204)


class ShuyuHub(JupyterHub):  # type: ignore[misc]
    shuyu_watch_interval = Float(
        30.0,
        config=True,
        help="Seconds between the checks that stop servers whose grant lapsed, whose "
        "approval was withdrawn or whose workspace is over its quota.",
    )
    shuyu_state_dir = Unicode(
        "/srv/jupyterhub/state",
        config=True,
        help="Where the hub keeps shuyu's own state (spawn blocks).",
    )

    def init_logging(self) -> None:
        super().init_logging()
        log_to_stderr()
        install_sink(PlatformSettings.from_env().db_url)

    def init_handlers(self) -> None:
        super().init_handlers()
        report = url_path_join(self.hub_prefix, "api/shuyu/sandbox-report")
        self.handlers.insert(0, (report, SandboxReportHandler))

    def init_tornado_settings(self) -> None:
        super().init_tornado_settings()
        blocks = SpawnBlocks.load(f"{self.shuyu_state_dir}/shuyu-spawn-blocks.json")
        self.shuyu_watch = HubWatch(self, blocks)
        self.tornado_settings["shuyu_blocks"] = blocks
        self.tornado_settings["shuyu_watch"] = self.shuyu_watch

    def init_tornado_application(self) -> None:
        super().init_tornado_application()
        settings = PlatformSettings.from_env()
        application: web.Application = self.tornado_application  # type: ignore[has-type]
        self.tornado_application = SandboxPeerGate(
            application, settings, url_path_join(self.hub_prefix, "api/")
        )

    async def start(self) -> None:
        await super().start()
        self._shuyu_periodic = PeriodicCallback(
            self.shuyu_watch.tick, self.shuyu_watch_interval * 1000
        )
        self._shuyu_periodic.start()
        self._shuyu_first_check = asyncio.ensure_future(self.shuyu_watch.tick(reconcile=True))


main = ShuyuHub.launch_instance

if __name__ == "__main__":
    main()
