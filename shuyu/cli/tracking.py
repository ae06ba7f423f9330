"""`shuyu mlflow …`: run the tracking server and bootstrap its accounts."""

from __future__ import annotations

import configparser
import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from shuyu.errors import ShuyuError
from shuyu.policy import load_policies
from shuyu.secrets import MLFLOW_ADMIN_PASSWORD, MLFLOW_GATE_PASSWORD, read_secret
from shuyu.settings import MlflowServerSettings
from shuyu.tracking.admin_client import ADMIN_USERNAME, MlflowAccounts
from shuyu.tracking.bootstrap import bootstrap as run_bootstrap
from shuyu.tracking.serve import DEFAULT_STATE_DIR, ServeOptions, secrets_dir, serve

app = typer.Typer(help="MLflow tracking server with the registry gate.", no_args_is_help=True)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",  # noqa: S104
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    backend_store_uri: Annotated[
        str,
        typer.Option(
            help="Tracking database URL (default: $SHUYU_MLFLOW_BACKEND_URI, else SQLite "
            "under --state-dir)."
        ),
    ] = "",
    artifacts_destination: Annotated[
        str, typer.Option(help="Artifact store the server proxies (default: <state>/artifacts).")
    ] = "",
    state_dir: Annotated[
        Path, typer.Option(help="Server state: databases, auth configuration.")
    ] = DEFAULT_STATE_DIR,
    user: Annotated[
        str, typer.Option(help="User to drop to when started as root (empty: do not drop).")
    ] = "mlflow",
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 2,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(help="Accepted Host header (repeatable; default: loopback, mlflow, its IP)."),
    ] = None,
) -> None:
    """Start `mlflow server --app-name shuyu-auth` (replaces this process)."""
    serve(
        ServeOptions(
            host=host,
            port=port,
            backend_store_uri=backend_store_uri,
            artifacts_destination=artifacts_destination,
            state_dir=state_dir,
            user=user,
            workers=workers,
            allowed_hosts=tuple(allowed_host or ()),
        )
    )


def _first_secret(*candidates: Path) -> str:
    """The first readable secret; the error of the first candidate if none is."""
    first_error: ShuyuError | None = None
    for path in candidates:
        try:
            return read_secret(path)
        except ShuyuError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def _admin_password_from_ini(ini: Path) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(ini.read_text(encoding="utf-8"))
        return parser["mlflow"]["admin_password"].strip()
    except (OSError, KeyError, configparser.Error):
        return ""


@app.command("bootstrap")
def bootstrap_command(
    url: Annotated[
        str, typer.Option(help="MLflow server (default: $SHUYU_MLFLOW_BOOTSTRAP_URL).")
    ] = "",
    policies: Annotated[
        Path | None, typer.Option(help="Policy directory (default: $SHUYU_POLICIES).")
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="The server's state directory (fallback for secrets).")
    ] = DEFAULT_STATE_DIR,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for the server to answer.")
    ] = 180.0,
) -> None:
    """Create scenario experiments, the registry-gate account and partner grants."""
    options = ServeOptions(state_dir=state_dir)
    secrets = secrets_dir()
    try:
        admin_password = read_secret(secrets / MLFLOW_ADMIN_PASSWORD)
    except ShuyuError:
        # run as the service user (`compose exec`), the mounted secrets are not readable
        admin_password = _admin_password_from_ini(options.auth_ini)
        if not admin_password:
            raise
    gate_password = _first_secret(secrets / MLFLOW_GATE_PASSWORD, options.gate_password_copy)
    target = url or MlflowServerSettings.from_env().mlflow_bootstrap_url
    loaded = load_policies(policies)
    with MlflowAccounts(target, ADMIN_USERNAME, admin_password) as accounts:
        accounts.wait_until_up(wait)
        report = run_bootstrap(accounts, loaded, gate_password, dt.date.today())
    typer.echo(f"mlflow bootstrap: {report.summary()}")
