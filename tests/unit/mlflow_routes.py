"""Print every route of MLflow's server app with shuyu's auth app, as JSON lines.

Run in a fresh interpreter (MLflow's auth module reads its configuration at import and
creates its database), by `test_tracking_endpoints.py`.
"""

# ruff: noqa: PLC0415 - MLflow must be imported after its environment is set
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def main(workdir: Path) -> None:
    ini = workdir / "auth.ini"
    ini.write_text(
        "[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{workdir / 'auth.db'}\n"
        "admin_username = admin\nadmin_password = routes-listing-only-0123456789\n",
        encoding="utf-8",
    )
    os.environ.update(
        {
            "MLFLOW_AUTH_CONFIG_PATH": str(ini),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "routes-listing-only",
            "_MLFLOW_SGI_NAME": "uvicorn",
            "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        }
    )
    from flask import Flask
    from mlflow.server import app as flask_app
    from starlette.routing import Mount

    from shuyu.tracking.auth_app import create_app

    served = create_app(flask_app)
    assert not isinstance(served, Flask), "expected the FastAPI app (uvicorn)"
    for rule in flask_app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            print(json.dumps({"server": "flask", "method": method, "path": rule.rule}))

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included routers
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, Mount):
                continue  # the Flask app, listed above
            else:
                for method in sorted(getattr(route, "methods", None) or {"GET"}):
                    if method not in {"HEAD", "OPTIONS"}:
                        path = prefix + route.path
                        print(json.dumps({"server": "fastapi", "method": method, "path": path}))

    walk(served.routes, "")
    middleware = [m.cls.__name__ for m in served.user_middleware]
    print(json.dumps({"middleware": middleware}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
