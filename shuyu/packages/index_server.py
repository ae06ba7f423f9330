"""`shuyu packages index`: the in-domain package index (its own container on the sandbox
network, the only new port the firewall opens to sandboxes).

pypiserver over the packages volume (mounted read-only), with no fallback to any public
index (an unknown name is a 404, not a redirect out of the domain) and links carrying
each wheel's sha256 (pip checks them). Reads only: any other method is refused before
pypiserver sees it, so nobody uploads, whatever the volume's mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

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


def index_app(root: Path) -> Wsgi:
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
    app = pypiserver.setup_routes_from_config(pypiserver.app_from_config(config), config)
    return read_only(app)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # one slow client holds up no other sandbox


def serve(host: str, port: int, root: Path = PACKAGES) -> None:
    make_server(host, port, index_app(root), server_class=_Server).serve_forever()
