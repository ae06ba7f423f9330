"""`shuyu mlflow serve`'s preparation: private auth configuration and the server command."""

from __future__ import annotations

import configparser
import stat
from pathlib import Path

import pytest

from shuyu.errors import ShuyuError
from shuyu.tracking.serve import ServeOptions, prepare, server_command

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _config_from_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUYU_MLFLOW_CONFIG_DIR", str(REPO / "mlflow"))


def _options(tmp_path: Path, **kw: object) -> ServeOptions:
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "admin_password").write_text("admin-secret-123456\n")
    (secrets / "gate_password").write_text("gate-secret-123456\n")
    (secrets / "approval_key").write_text("approval-key-0123456789abcdef\n")
    return ServeOptions(state_dir=tmp_path / "srv", secrets=secrets, **kw)  # type: ignore[arg-type]


def test_the_auth_configuration_is_private_and_denies_by_default(tmp_path: Path) -> None:
    options = _options(tmp_path)
    env = prepare(options)
    assert env["MLFLOW_AUTH_CONFIG_PATH"] == str(options.auth_ini)
    assert env["MLFLOW_BASIC_AUTH_FAIL_CLOSED"] == "true"
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"  # no server-side jobs
    for private in (options.auth_ini, options.gate_password_copy, options.approval_key_copy):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(options.auth_dir.stat().st_mode) == 0o700
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(options.auth_ini)
    assert ini["mlflow"]["default_permission"] == "NO_PERMISSIONS"
    assert ini["mlflow"]["admin_username"] == "admin"
    assert ini["mlflow"]["admin_password"] == "admin-secret-123456"
    assert ini["mlflow"]["database_uri"].startswith(f"sqlite:///{options.auth_dir}")
    # the CSRF key survives a restart, so that workers and restarts agree
    assert (
        prepare(options)["MLFLOW_FLASK_SERVER_SECRET_KEY"] == env["MLFLOW_FLASK_SERVER_SECRET_KEY"]
    )


def test_a_missing_secret_is_a_clear_error(tmp_path: Path) -> None:
    options = _options(tmp_path)
    (options.secrets / "gate_password").unlink()
    with pytest.raises(ShuyuError, match="gate_password: secret file missing"):
        prepare(options)


def test_the_server_accepts_the_sandbox_address_and_the_service_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHUYU_MLFLOW_BACKEND_URI", raising=False)
    monkeypatch.setenv("SHUYU_SANDBOX_SUBNET", "10.213.0.0/24")
    command = server_command(_options(tmp_path))
    assert command[3:6] == ["server", "--app-name", "shuyu-auth"]
    assert "--serve-artifacts" in command
    hosts = command[command.index("--allowed-hosts") + 1].split(",")
    assert {"10.213.0.3:*", "mlflow:*", "127.0.0.1:*"} <= set(hosts)
    assert (
        command[command.index("--backend-store-uri") + 1] == f"sqlite:///{tmp_path}/srv/mlflow.db"
    )

    monkeypatch.setenv("SHUYU_MLFLOW_BACKEND_URI", "postgresql://mlflow@db/mlflow")
    command = server_command(_options(tmp_path))
    assert command[command.index("--backend-store-uri") + 1] == "postgresql://mlflow@db/mlflow"


def test_a_missing_configuration_template_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHUYU_MLFLOW_CONFIG_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ShuyuError, match="SHUYU_MLFLOW_CONFIG_DIR"):
        prepare(_options(tmp_path))
