"""`shuyu mlflow bootstrap`: experiments, the registry gate and grants, from the policies.

One experiment `shuyu/<scenario>/<partner>` per scenario and authorised partner, and
`shuyu/registry`, where the gate (EDIT) keeps the registered copies and no partner has
any grant. A partner's users get EDIT on their own partner's experiments of scenarios
valid today and nothing else; when an authorisation lapses their grant is revoked (the
runs stay). The `registry-gate` account gets EDIT on every experiment: it reads a run to
check and register its model, and attaches the self-check's report to the run (MLflow
grants artifact uploads with EDIT only; its password exists only in the service's
container, and every write it makes is audited by the guard). Partner accounts are
created by the hub at first spawn; bootstrap grants to those that exist. Safe to run any
number of times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from shuyu.audit.events import audit_event
from shuyu.policy.models import Policies
from shuyu.tracking.admin_client import ADMIN_USERNAME, GATE_USERNAME, MlflowAccounts, Permission
from shuyu.tracking.experiments import REGISTRY_EXPERIMENT, experiment_name


@dataclass
class BootstrapReport:
    experiments: dict[str, str] = field(default_factory=dict)  # name -> id
    granted: list[tuple[str, str]] = field(default_factory=list)  # (user, experiment name)
    revoked: list[tuple[str, str]] = field(default_factory=list)
    gate_created: bool = False

    def summary(self) -> str:
        return (
            f"{len(self.experiments)} experiments, {len(self.granted)} grants, "
            f"{len(self.revoked)} revocations, gate account "
            f"{'created' if self.gate_created else 'updated'}"
        )


def bootstrap(
    accounts: MlflowAccounts, policies: Policies, gate_password: str, today: dt.date
) -> BootstrapReport:
    report = BootstrapReport()
    report.gate_created = accounts.ensure_user(GATE_USERNAME, gate_password)
    # the registry's immutable copies: written by the gate, granted to no partner
    registry = accounts.ensure_experiment(REGISTRY_EXPERIMENT, tags={"shuyu.registry": "true"})
    accounts.grant(GATE_USERNAME, registry, Permission.EDIT)
    report.experiments[REGISTRY_EXPERIMENT] = registry
    for scenario in policies.scenarios.values():
        active = scenario.is_valid_on(today)
        for partner_id in scenario.partners:
            name = experiment_name(scenario.id, partner_id)
            if active:
                exp_id = accounts.ensure_experiment(
                    name, tags={"shuyu.scenario": scenario.id, "shuyu.partner": partner_id}
                )
            else:
                found = accounts.experiment_id(name)
                if found is None:
                    continue
                exp_id = found
            report.experiments[name] = exp_id
            accounts.grant(GATE_USERNAME, exp_id, Permission.EDIT)
            for user in policies.partners[partner_id].users:
                if accounts.get_user(user.username) is None:
                    continue
                if active:
                    accounts.grant(user.username, exp_id, Permission.EDIT)
                    report.granted.append((user.username, name))
                else:
                    accounts.revoke(user.username, exp_id)
                    report.revoked.append((user.username, name))
    audit_event(
        "mlflow.bootstrap",
        ADMIN_USERNAME,
        "allowed",
        experiments=sorted(report.experiments),
        granted=len(report.granted),
        revoked=len(report.revoked),
    )
    return report
