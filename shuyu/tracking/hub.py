"""The hub's side of MLflow: a partner's credentials, provisioned at each spawn.

The password is rotated at every spawn rather than created once: the hub then never
stores partner passwords, and the credentials inside a stopped (or leaked) sandbox die
the next time that partner starts one. Only the new sandbox receives the new password.
"""

from __future__ import annotations

import secrets

from shuyu.audit.events import audit_event
from shuyu.errors import ShuyuError
from shuyu.sandbox.settings import PlatformSettings
from shuyu.tracking.accounts import ADMIN_USERNAME, GATE_USERNAME, MlflowAccounts, Permission
from shuyu.tracking.bootstrap import experiment_name
from shuyu.tracking.serve import read_secret

HUB_ADMIN_PASSWORD_FILE = "mlflow_admin_password"  # noqa: S105 - a file name
_RESERVED = {ADMIN_USERNAME, GATE_USERNAME}


def partner_mlflow_env(
    settings: PlatformSettings, username: str, scenario_ids: list[str], partner_id: str
) -> dict[str, str]:
    """Rotate `username`'s MLflow password, grant EDIT on its partner's experiments of
    `scenario_ids`, and return the environment that lets its sandbox log there."""
    if username in _RESERVED:
        raise ShuyuError(f"MLflow account {username!r} is reserved and cannot be a partner user")
    if not scenario_ids:
        raise ShuyuError(f"{username}: no authorised scenario, so no MLflow experiment to grant")
    admin_password = read_secret(settings.secrets_dir / HUB_ADMIN_PASSWORD_FILE)
    password = secrets.token_urlsafe(24)
    names = [experiment_name(s, partner_id) for s in scenario_ids]
    try:
        with MlflowAccounts(settings.mlflow_url, ADMIN_USERNAME, admin_password) as accounts:
            current = accounts.get_user(username)
            if current is not None and current.is_admin:
                raise ShuyuError(f"MLflow account {username!r} is an administrator, not a partner")
            created = accounts.ensure_user(username, password)
            for scenario_id, name in zip(scenario_ids, names, strict=True):
                exp_id = accounts.ensure_experiment(
                    name, tags={"shuyu.scenario": scenario_id, "shuyu.partner": partner_id}
                )
                accounts.grant(username, exp_id, Permission.EDIT)
    except ShuyuError as exc:
        audit_event("mlflow.credentials", username, "error", partner=partner_id, error=str(exc))
        raise ShuyuError(
            f"MLflow 账号准备失败 / cannot provision MLflow for {username}: {exc}"
        ) from None
    audit_event(
        "mlflow.credentials",
        username,
        "allowed",
        partner=partner_id,
        experiments=names,
        created=created,
        rotated=not created,
    )
    return {
        "MLFLOW_TRACKING_URI": settings.mlflow_url,
        "MLFLOW_TRACKING_USERNAME": username,
        "MLFLOW_TRACKING_PASSWORD": password,
        "MLFLOW_EXPERIMENT_NAME": names[0],
        "SHUYU_MLFLOW_EXPERIMENTS": ",".join(names),
    }
