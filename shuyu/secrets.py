"""The platform's secrets: where each one lives, how it is made, how it is read.

Secrets are files of mode 0600 in a directory of mode 0700, one directory per service
(`var/secrets/<service>/` on the host, mounted at `/run/shuyu-secrets` in that service's
container only). Nothing here is ever mounted into a sandbox or a runner. The file names
are declared once, here, so that `make up`, the services and the tests agree on them.
"""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_text

# in MLflow's secrets directory
MLFLOW_ADMIN_PASSWORD = "admin_password"  # noqa: S105 - a file name
MLFLOW_GATE_PASSWORD = "gate_password"  # noqa: S105 - a file name
# in MLflow's and the review service's: signs approval records (the guard verifies them)
APPROVAL_KEY = "approval_key"
# in the review service's: its token for the hub's API (the hub's copy: service_token)
SERVICE_HUB_TOKEN = "hub_token"  # noqa: S105 - a file name
HUB_SERVICE_TOKEN = "service_token"  # noqa: S105 - a file name
# in the hub's: its copy of the MLflow administrator's password (it provisions partner
# accounts at spawn) and the tokens of the services it starts or knows
HUB_MLFLOW_ADMIN_PASSWORD = "mlflow_admin_password"  # noqa: S105 - a file name
# host only: masking runs on the host (and in the product API, which pseudonymises the
# identifiers consumers send), never where partner code runs
MASKING_KEY = "masking.key"

_ALPHABET = string.ascii_letters + string.digits


def random_password(length: int = 20) -> str:
    """Letters and digits only: safe in ini files, URLs and shell lines."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def read_secret(path: Path) -> str:
    """The secret in `path`, stripped; a missing, unreadable or empty file says what to do."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ShuyuError(
            f"{path}: secret file missing; run `make up` (it creates the platform's secrets) "
            "or mount the secrets directory"
        ) from None
    except PermissionError:
        raise ShuyuError(f"{path}: cannot read the secret file as uid {os.getuid()}") from None
    if not value:
        raise ShuyuError(f"{path}: secret file is empty; write a password into it")
    return value


def ensure_secret(path: Path, *, nbytes: int = 24) -> str:
    """A random secret at `path` (mode 0600), created once and never overwritten."""
    if path.exists():
        return read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    atomic_write_text(path, value + "\n", mode=0o600)
    return value


def write_secret(path: Path, value: str) -> None:
    """Write (or replace) `path` with `value`, mode 0600, atomically."""
    atomic_write_text(path, value + "\n", mode=0o600)


def secret_dir(path: Path) -> Path:
    """`path` as a directory of mode 0700, created if absent."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path
