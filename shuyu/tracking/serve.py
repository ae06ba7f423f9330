"""`shuyu mlflow serve`: start MLflow's tracking server with shuyu's auth app.

Runs as root only long enough to read the secrets mounted for MLflow, write the basic-auth
configuration to a private file, and hand the state directory to the service user; then it
drops to that user, creates the administrator (before uvicorn forks its workers, so that
they do not race to initialise the auth database) and execs `mlflow server`.
"""

from __future__ import annotations

import logging
import os
import pwd
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from shuyu.errors import InputError, ShuyuError
from shuyu.fsutil import atomic_write_text
from shuyu.secrets import (
    APPROVAL_KEY,
    MLFLOW_ADMIN_PASSWORD,
    MLFLOW_GATE_PASSWORD,
    ensure_secret,
    read_secret,
)
from shuyu.settings import MlflowServerSettings, PlatformSettings
from shuyu.tracking.admin_client import ADMIN_USERNAME
from shuyu.tracking.artifact_store import is_local, usage_for

_log = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path("/srv/mlflow")
SERVICE_USER = "mlflow"
APP_NAME = "shuyu-auth"


def secrets_dir() -> Path:
    """Where MLflow's secrets are mounted in its container ($SHUYU_SECRETS_DIR)."""
    return PlatformSettings.from_env().secrets_dir


@dataclass(frozen=True)
class ServeOptions:
    host: str = "0.0.0.0"  # noqa: S104 - the server listens on the internal network
    port: int = 5000
    backend_store_uri: str = ""
    """Tracking database; default SQLite under the state directory (or
    $SHUYU_MLFLOW_BACKEND_URI, e.g. PostgreSQL)."""
    artifacts_destination: str = ""
    """Where the server stores artifacts (default <state>/artifacts); sandboxes only ever
    see the `mlflow-artifacts:` proxy, never this store or its credentials."""
    state_dir: Path = DEFAULT_STATE_DIR
    secrets: Path = field(default_factory=secrets_dir)
    user: str = SERVICE_USER
    """Service user to drop to when started as root; empty: stay as the current user."""
    workers: int = 2
    allowed_hosts: tuple[str, ...] = ()
    """Host headers accepted (DNS-rebinding protection); default: loopback, `mlflow` and
    the MLflow address on the sandbox network."""

    @property
    def auth_dir(self) -> Path:
        return self.state_dir / "auth"

    @property
    def auth_ini(self) -> Path:
        return self.auth_dir / "basic_auth.ini"

    @property
    def gate_password_copy(self) -> Path:
        """The gate's password, readable by the service user for `shuyu mlflow bootstrap`."""
        return self.auth_dir / MLFLOW_GATE_PASSWORD

    @property
    def approval_key_copy(self) -> Path:
        """The approval key, readable by the service user for the registry guard."""
        return self.auth_dir / APPROVAL_KEY

    def resolved_backend(self) -> str:
        return (
            self.backend_store_uri
            or MlflowServerSettings.from_env().mlflow_backend_uri
            or f"sqlite:///{self.state_dir / 'mlflow.db'}"
        )

    def resolved_artifacts(self) -> str:
        return (
            self.artifacts_destination
            or MlflowServerSettings.from_env().mlflow_artifacts_destination
            or str(self.state_dir / "artifacts")
        )

    def resolved_hosts(self) -> list[str]:
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        ip = PlatformSettings.from_env().mlflow_ip
        names = ["localhost", "127.0.0.1", "mlflow", ip]
        return [h for name in names for h in (name, f"{name}:*")]


def auth_ini_text(template: Path, admin_password: str, database_uri: str) -> str:
    """MLflow's basic-auth configuration (the repository's mlflow/basic_auth.ini) with
    this server's database and administrator."""
    if "\n" in admin_password or "%" in admin_password:
        raise ShuyuError("the MLflow admin password may not contain newlines or '%'")
    if not template.is_file():
        raise InputError(
            str(template),
            "MLflow's auth configuration template is missing",
            hint="set SHUYU_MLFLOW_CONFIG_DIR to the repository's mlflow/ folder",
        )
    return template.read_text(encoding="utf-8").format(
        database_uri=database_uri, admin_username=ADMIN_USERNAME, admin_password=admin_password
    )


def prepare(options: ServeOptions) -> dict[str, str]:
    """Write the private auth configuration; return the server's environment."""
    admin_password = read_secret(options.secrets / MLFLOW_ADMIN_PASSWORD)
    gate_password = read_secret(options.secrets / MLFLOW_GATE_PASSWORD)
    approval_key = read_secret(options.secrets / APPROVAL_KEY)
    options.auth_dir.mkdir(parents=True, exist_ok=True)
    options.auth_dir.chmod(0o700)
    database_uri = f"sqlite:///{options.auth_dir / 'basic_auth.db'}"
    atomic_write_text(
        options.auth_ini,
        auth_ini_text(
            MlflowServerSettings.from_env().mlflow_config_dir / "basic_auth.ini",
            admin_password,
            database_uri,
        ),
        mode=0o600,
    )
    atomic_write_text(options.gate_password_copy, gate_password + "\n", mode=0o600)
    atomic_write_text(options.approval_key_copy, approval_key + "\n", mode=0o600)
    # CSRF key for the sign-up form: stable across workers and restarts
    flask_key = ensure_secret(options.auth_dir / "flask_secret_key", nbytes=32)
    usage_for(options.resolved_artifacts())  # refuse a store whose quota cannot be measured
    if is_local(options.resolved_artifacts()):
        Path(options.resolved_artifacts()).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_AUTH_ADMIN_")}
    env.update(
        {
            "MLFLOW_AUTH_CONFIG_PATH": str(options.auth_ini),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": flask_key,
            "MLFLOW_SERVER_ENABLE_GRAPHQL_AUTH": "true",
            # MLflow's own net under the guard: a route without a validator is refused
            "MLFLOW_BASIC_AUTH_FAIL_CLOSED": "true",
            # no server-side jobs (GenAI judges, prompt optimisation): nothing in the
            # domain runs them, and each server would start six job consumers for them
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            # where the guard measures each experiment's artifact quota
            "SHUYU_MLFLOW_ARTIFACTS_DESTINATION": options.resolved_artifacts(),
            "SHUYU_MLFLOW_APPROVAL_KEY_FILE": str(options.approval_key_copy),
        }
    )
    return env


def _own(paths: list[Path], uid: int, gid: int) -> None:
    for top in paths:
        if not top.exists():
            continue
        os.chown(top, uid, gid)
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def drop_privileges(options: ServeOptions, env: dict[str, str]) -> None:
    """Become the service user (when root), handing it the state it must write."""
    if os.geteuid() != 0:
        _log.warning("not root: serving MLflow as uid %s without dropping privileges", os.getuid())
        return
    if not options.user:
        _log.warning("running MLflow as root: --user is empty")
        return
    try:
        entry = pwd.getpwnam(options.user)
    except KeyError:
        raise ShuyuError(
            f"user {options.user!r} does not exist: the MLflow image creates it (uid 1001); "
            "elsewhere pass --user"
        ) from None
    owned = [options.auth_dir]
    if is_local(options.resolved_artifacts()):
        owned.append(Path(options.resolved_artifacts()))
    backend = options.resolved_backend()
    if backend.startswith("sqlite:///"):
        db = Path(backend.removeprefix("sqlite:///"))
        if db.parent == options.state_dir:  # elsewhere the operator owns the database
            owned.append(db.parent)
    _own(owned, entry.pw_uid, entry.pw_gid)
    # the shared state folder's group: the guard appends to the platform's audit log
    os.setgroups([PlatformSettings.from_env().state_gid])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    env["HOME"] = entry.pw_dir or str(options.state_dir)
    env["USER"] = options.user


def bootstrap_admin(env: dict[str, str]) -> None:
    """Create the auth database and the administrator once, before the workers start."""
    os.environ.update(env)
    from mlflow.server.auth import bootstrap_admin_user  # noqa: PLC0415 - reads env at import

    bootstrap_admin_user()


def server_command(options: ServeOptions) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--app-name",
        APP_NAME,
        "--serve-artifacts",
        "--artifacts-destination",
        options.resolved_artifacts(),
        "--backend-store-uri",
        options.resolved_backend(),
        "--host",
        options.host,
        "--port",
        str(options.port),
        "--workers",
        str(options.workers),
        "--allowed-hosts",
        ",".join(options.resolved_hosts()),
    ]


def serve(options: ServeOptions) -> NoReturn:
    env = prepare(options)
    drop_privileges(options, env)
    bootstrap_admin(env)
    command = server_command(options)
    os.execve(command[0], command, env)  # noqa: S606 - replaces this process by design
