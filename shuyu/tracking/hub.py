"""The hub's side of MLflow: a partner's credentials, provisioned at each spawn.

The password is rotated at every spawn rather than created once: the hub then never
stores partner passwords, and the credentials inside a stopped (or leaked) sandbox die
the next time that partner starts one. Only the new sandbox receives the new password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from shuyu.audit.events import audit_event
from shuyu.errors import ShuyuError
from shuyu.sandbox.settings import PlatformSettings
from shuyu.tracking.accounts import ADMIN_USERNAME, GATE_USERNAME, MlflowAccounts, Permission
from shuyu.tracking.bootstrap import experiment_name
from shuyu.tracking.serve import read_secret

HUB_ADMIN_PASSWORD_FILE = "mlflow_admin_password"  # noqa: S105 - a file name
_RESERVED = {ADMIN_USERNAME, GATE_USERNAME}


@dataclass(frozen=True)
class PartnerCredentials:
    """A partner user's next MLflow password and where it may write.

    Made without any network call, so that the spawner can hand `env()` to the new
    container and run `provision()` (the slow part: every MLflow call checks a password
    hash) while the container starts; the sandbox is reported ready only after both.
    """

    settings: PlatformSettings
    username: str
    partner_id: str
    scenario_ids: tuple[str, ...]
    password: str = field(repr=False)

    @property
    def experiments(self) -> list[str]:
        return [experiment_name(s, self.partner_id) for s in self.scenario_ids]

    def env(self) -> dict[str, str]:
        names = self.experiments
        return {
            "MLFLOW_TRACKING_URI": self.settings.mlflow_url,
            "MLFLOW_TRACKING_USERNAME": self.username,
            "MLFLOW_TRACKING_PASSWORD": self.password,
            "MLFLOW_EXPERIMENT_NAME": names[0],
            "SHUYU_MLFLOW_EXPERIMENTS": ",".join(names),
        }

    def provision(self) -> None:
        """Set the password on the server (creating the account at first spawn) and grant
        EDIT on the partner's experiments of the authorised scenarios."""
        username, partner_id, names = self.username, self.partner_id, self.experiments
        admin_password = read_secret(self.settings.secrets_dir / HUB_ADMIN_PASSWORD_FILE)
        try:
            with MlflowAccounts(
                self.settings.mlflow_url, ADMIN_USERNAME, admin_password
            ) as accounts:
                current = accounts.get_user(username)
                if current is not None and current.is_admin:
                    raise ShuyuError(
                        f"MLflow account {username!r} is an administrator, not a partner"
                    )
                # each call costs the server a password-hash check: no call twice
                created = current is None
                if created:
                    accounts.create_user(username, self.password)
                else:
                    accounts.set_password(username, self.password)
                known = accounts.experiment_ids(f"shuyu/%/{partner_id}")
                for scenario_id, name in zip(self.scenario_ids, names, strict=True):
                    exp_id = known.get(name) or accounts.ensure_experiment(
                        name, tags={"shuyu.scenario": scenario_id, "shuyu.partner": partner_id}
                    )
                    # a rotation finds the grant in place: one read instead of a
                    # refused grant followed by a read
                    if accounts.permission(username, exp_id) is not Permission.EDIT:
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


def new_partner_credentials(
    settings: PlatformSettings, username: str, scenario_ids: list[str], partner_id: str
) -> PartnerCredentials:
    """A fresh password for `username`; refuses the reserved accounts and users with no
    authorised scenario."""
    if username in _RESERVED:
        raise ShuyuError(f"MLflow account {username!r} is reserved and cannot be a partner user")
    if not scenario_ids:
        raise ShuyuError(f"{username}: no authorised scenario, so no MLflow experiment to grant")
    return PartnerCredentials(
        settings, username, partner_id, tuple(scenario_ids), secrets.token_urlsafe(24)
    )


def partner_mlflow_env(
    settings: PlatformSettings, username: str, scenario_ids: list[str], partner_id: str
) -> dict[str, str]:
    """Rotate `username`'s MLflow password, grant EDIT on its partner's experiments of
    `scenario_ids`, and return the environment that lets its sandbox log there."""
    credentials = new_partner_credentials(settings, username, scenario_ids, partner_id)
    credentials.provision()
    return credentials.env()
