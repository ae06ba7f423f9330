"""`shuyu packages index`: the in-domain package index (its own container on the sandbox
network, the only new port the firewall opens to sandboxes).

pypiserver over the packages volume (mounted read-only), with no fallback to any public
index (an unknown name is a 404, not a redirect out of the domain) and links carrying
each wheel's sha256 (pip checks them). Reads only: any other method is refused before
pypiserver sees it, so nobody uploads, whatever the volume's mode.

A scenario's own set (`shuyu.packages.sets`, when policy keeps sets per scenario) is
served at `/<token>/simple/` by a pypiserver app of its own over `.sets/<token>/`; a
token with no folder is a 404 like any unknown path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

from shuyu.packages.sets import SETS, TOKEN

PACKAGES = Path("/srv/shuyu-packages")
READ_ONLY = (
    "索引只读：软件包经申请页面引入 / the index is read-only: ask on the packages page\n".encode()
)

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def read_only(app: Wsgi) -> Wsgi:
    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in {"GET", "HEAD"}:
            start_response(
                "405 Method Not Allowed",
                [("Content-Type", "text/plain; charset=utf-8"), ("Allow", "GET, HEAD")],
            )
            return [READ_ONLY]
        return app(environ, start_response)

    return guarded


def _pypiserver(root: Path) -> Wsgi:
    import pypiserver  # noqa: PLC0415 - the service image's
    from pypiserver.config import Config  # noqa: PLC0415

    config = Config.from_args(
        [
            "run",
            "--disable-fallback",
            "--authenticate",
            ".",
            "--passwords",
            ".",
            "--hash-algo",
            "sha256",
            # a listing of the folder at every request: a published wheel is there at once
            "--backend",
            "simple-dir",
            str(root),
        ]
    )
    # each call is a new app: pypiserver re-imports its module for every config
    app: Wsgi = pypiserver.setup_routes_from_config(pypiserver.app_from_config(config), config)
    return app


def _not_found(start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Not Found\n"]


def index_app(root: Path) -> Wsgi:
    top = _pypiserver(root)
    sets: dict[str, Wsgi] = {}
    lock = threading.Lock()

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if any(part.startswith(".") for part in path.split("/")):
            return _not_found(start_response)  # the sets' folder, or a way out of the root
        first, _, rest = path.lstrip("/").partition("/")
        if not TOKEN.match(first):
            return top(environ, start_response)
        folder = root / SETS / first
        if not folder.is_dir():
            return _not_found(start_response)
        with lock:
            app = sets.get(first)
            if app is None:
                app = sets[first] = _pypiserver(folder)
        inner = {
            **environ,
            "SCRIPT_NAME": f"{environ.get('SCRIPT_NAME', '')}/{first}",
            "PATH_INFO": f"/{rest}",
        }
        return app(inner, start_response)

    return read_only(dispatch)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # one slow client holds up no other sandbox


def serve(host: str, port: int, root: Path = PACKAGES) -> None:
    make_server(host, port, index_app(root), server_class=_Server).serve_forever()
