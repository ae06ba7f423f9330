"""docker-compose, v1 (`docker-compose`, Debian's 1.29) or v2 (`docker compose`)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_text
from shuyu.platform.layout import Layout
from shuyu.settings import PlatformSettings

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
CONTAINER_DB_URL = "sqlite:////srv/shuyu-state/shuyu.sqlite"


def compose_command() -> list[str]:
    """The compose CLI this machine has; v2 preferred."""
    if (
        shutil.which("docker")
        and subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise ShuyuError(
        "neither `docker compose` nor `docker-compose` is installed: "
        "install Debian's docker-compose package or the Compose v2 plugin"
    )


def write_env_file(
    layout: Layout,
    settings: PlatformSettings,
    *,
    http_port: int,
    https_port: int,
    http_bind: str,
    policies_dir: Path,
    products_port: int = 8700,
) -> Path:
    """The --env-file: compose's own variables and every SHUYU_* setting the services read."""
    values = settings.to_env()
    values.update(
        {
            "SHUYU_ENV_FILE": str(layout.env_file),
            "SHUYU_HUB_IP": settings.hub_ip,
            "SHUYU_MLFLOW_IP": settings.mlflow_ip,
            "SHUYU_BRIDGE": settings.sandbox_bridge,
            "SHUYU_SANDBOX_RANGE": settings.sandbox_range,
            "SHUYU_SANDBOX_GATEWAY": settings.sandbox_gateway,
            "SHUYU_HTTP_PORT": str(http_port),
            "SHUYU_HTTPS_PORT": str(https_port),
            "SHUYU_HTTP_BIND": http_bind,
            "SHUYU_HOST_SECRETS_DIR": str(layout.secrets),
            "SHUYU_PRODUCTS_PORT": str(products_port),
            "SHUYU_PRODUCTS_BIND": http_bind,
            "SHUYU_PRODUCT_TABLES_DIR": str(layout.product_tables),
            "SHUYU_STATE_DIR": str(layout.state),
            "SHUYU_SERVICE_IP": settings.service_ip,
            "SHUYU_INDEX_IP": settings.index_ip,
            # inside the services' containers, the state folder is /srv/shuyu-state
            "SHUYU_DB_URL": settings.db_url or CONTAINER_DB_URL,
            "SHUYU_POLICIES_DIR": str(policies_dir.resolve()),
            # inside the containers
            "SHUYU_POLICIES": "/etc/shuyu/policies",
        }
    )
    text = "".join(f"{k}={v}\n" for k, v in sorted(values.items()))
    atomic_write_text(layout.env_file, text, mode=0o600)
    return layout.env_file


def compose(
    layout: Layout,
    settings: PlatformSettings,
    args: Sequence[str],
    *,
    capture: bool = False,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    cmd = [
        *compose_command(),
        "--project-name",
        settings.project,
        "--file",
        str(COMPOSE_FILE),
        "--env-file",
        str(layout.env_file),
        *args,
    ]
    done = subprocess.run(cmd, capture_output=capture, text=True, check=False, input=stdin)
    if done.returncode != 0:
        detail = (done.stderr or "").strip().splitlines()[-3:] if capture else []
        raise ShuyuError(
            f"{' '.join(cmd[:2])} {' '.join(args)} failed "
            f"(exit {done.returncode}){': ' + ' | '.join(detail) if detail else ''}"
        )
    return done
