"""MLflow for a sandbox: a partner user's credentials, provisioned at each spawn.

The password is rotated at every spawn rather than created once: the hub then never
stores partner passwords, and the credentials inside a stopped (or leaked) sandbox die
the next time that partner starts one. Only the new sandbox receives the new password.
A sandbox serves one scenario, so the user holds EDIT on that scenario's experiment of
its partner and on nothing else: every other grant the user holds on the partner's
experiments is revoked at the same time (a lapsed scenario's grant goes at the latest
at the next spawn; the hub's periodic check revokes it as soon as the grant lapses).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from shuyu.audit.events import audit_event
from shuyu.errors import ShuyuError
from shuyu.secrets import HUB_MLFLOW_ADMIN_PASSWORD, read_secret
from shuyu.settings import PlatformSettings
from shuyu.tracking.admin_client import ADMIN_USERNAME, GATE_USERNAME, MlflowAccounts, Permission
from shuyu.tracking.experiments import (
    experiment_name,
    parse_experiment_name,
    partner_experiments_like,
)

_RESERVED = {ADMIN_USERNAME, GATE_USERNAME}


def hub_mlflow_admin(settings: PlatformSettings) -> MlflowAccounts:
    """The MLflow administrator's client, with the hub's copy of its password."""
    password = read_secret(settings.secrets_dir / HUB_MLFLOW_ADMIN_PASSWORD)
    return MlflowAccounts(settings.mlflow_url, ADMIN_USERNAME, password)


@dataclass(frozen=True)
class PartnerCredentials:
    """A partner user's next MLflow password and the experiment it may write.

    Made without any network call, so that the spawner can hand `env()` to the new
    container and run `provision()` (the slow part: every MLflow call checks a password
    hash) while the container starts; the sandbox is reported ready only after both.
    """

    settings: PlatformSettings
    username: str
    partner_id: str
    scenario_id: str
    password: str = field(repr=False)

    @property
    def experiment(self) -> str:
        return experiment_name(self.scenario_id, self.partner_id)

    def env(self) -> dict[str, str]:
        return {
            "MLFLOW_TRACKING_URI": self.settings.mlflow_url,
            "MLFLOW_TRACKING_USERNAME": self.username,
            "MLFLOW_TRACKING_PASSWORD": self.password,
            "MLFLOW_EXPERIMENT_NAME": self.experiment,
        }

    def provision(self) -> None:
        """Set the password on the server (creating the account at first spawn), grant
        EDIT on this scenario's experiment and revoke the user's other grants on the
        partner's experiments."""
        username, partner_id = self.username, self.partner_id
        revoked: list[str] = []
        try:
            with hub_mlflow_admin(self.settings) as accounts:
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
                known = accounts.experiment_ids(partner_experiments_like(partner_id))
                exp_id = known.get(self.experiment) or accounts.ensure_experiment(
                    self.experiment,
                    tags={"shuyu.scenario": self.scenario_id, "shuyu.partner": partner_id},
                )
                # a rotation finds the grant in place: one read instead of a refused
                # grant followed by a read
                if accounts.permission(username, exp_id) is not Permission.EDIT:
                    accounts.grant(username, exp_id, Permission.EDIT)
                if not created:
                    for name, other in sorted(known.items()):
                        if other != exp_id and accounts.permission(username, other) is not None:
                            accounts.revoke(username, other)
                            revoked.append(name)
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
            experiment=self.experiment,
            revoked=revoked,
            created=created,
            rotated=not created,
        )


def new_partner_credentials(
    settings: PlatformSettings, username: str, scenario_id: str, partner_id: str
) -> PartnerCredentials:
    """A fresh password for `username`; refuses the reserved accounts."""
    if username in _RESERVED:
        raise ShuyuError(f"MLflow account {username!r} is reserved and cannot be a partner user")
    return PartnerCredentials(
        settings, username, partner_id, scenario_id, secrets.token_urlsafe(24)
    )


def partner_mlflow_env(
    settings: PlatformSettings, username: str, scenario_id: str, partner_id: str
) -> dict[str, str]:
    """Rotate `username`'s MLflow password, grant EDIT on its partner's experiment of
    `scenario_id`, and return the environment that lets its sandbox log there."""
    credentials = new_partner_credentials(settings, username, scenario_id, partner_id)
    credentials.provision()
    return credentials.env()


def revoke_partner_grants(
    settings: PlatformSettings, username: str, partner_id: str, keep: set[str]
) -> list[str]:
    """Revoke `username`'s grants on its partner's experiments except those of the
    scenarios in `keep`; the experiment names revoked."""
    revoked: list[str] = []
    with hub_mlflow_admin(settings) as accounts:
        if accounts.get_user(username) is None:
            return revoked
        for name, exp_id in sorted(
            accounts.experiment_ids(partner_experiments_like(partner_id)).items()
        ):
            parsed = parse_experiment_name(name)
            if parsed is None or parsed[0] in keep:
                continue
            if accounts.permission(username, exp_id) is not None:
                accounts.revoke(username, exp_id)
                revoked.append(name)
    return revoked
