"""The closed set of audit actions and outcomes: an event names one of these or is not
written (a typo must fail a test, not create a new kind of event nobody looks for)."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"


ACTIONS = frozenset(
    {
        # the hub: accounts, sessions, sandboxes
        "hub.login",
        "hub.signup",
        "hub.account",
        "hub.approval",
        "hub.sessions-ended",
        "sandbox.spawn",
        "sandbox.stop",
        "sandbox.quota",
        "sandbox.egress",
        # reported by a sandbox's own server: the sandbox's word
        "sandbox.download",
        "sandbox.upload",
        # the boundary
        "firewall.apply",
        "firewall.repair",
        "firewall.deny-all",
        "firewall.remove",
        "view.publish",
        # packages brought into the domain
        "package.request",
        "package.decide",
        "package.publish",
        "package.refuse",
        "package.install",  # a production run given approved wheels
        "airlock.upload",
        "airlock.decide",
        "airlock.place",
        # MLflow
        "mlflow.request",
        "mlflow.write",
        "mlflow.credentials",
        "mlflow.bootstrap",
        "mlflow.revoke",
        # the host's standing work (approved packages fetched, table imports placed)
        "host.worker",
        # runners
        "runner.warm",  # started ahead of its job, with nothing in it
        "runner.start",
        "runner.end",
        # submissions, the self-check, the review, the registry
        "submission.create",
        "submission.transition",
        "selfcheck.result",
        "review.vote",
        "registry.register",
        "registry.alias",
        # production: jobs, runs, the output check's quarantine decisions
        "production.job.create",
        "production.job.enable",
        "production.job.disable",
        "production.run.queue",
        "production.run.missed",
        "production.run.transition",
        "production.run.decide",
        "production.run.file",
        # data products by API: consumers, keys, agreements, consents, calls, 事中检查
        "product.consumer",
        "product.key",
        "product.agreement",
        "product.consent",
        "product.score",
        "product.block",
        "product.unblock",
        "product.case",
        "product.statement",
        "product.model.publish",
        "product.model.withdraw",
        # governance: the annual evaluation's manual figures and reports, the
        # authorisation lifecycle's renewal reminders and expiry
        "governance.annual.input",
        "governance.annual.report",
        "governance.lifecycle.reminder",
        "governance.lifecycle.expiry",
        # governance: filing records (登记备案), incident freezes (应急处置)
        "filing.create",
        "filing.refile",
        "filing.export",
        "freeze.apply",
        "freeze.lift",
        # governance: exit (退出) with its deletion certificate, accepted by the bureau
        "exit.revoke",
        "exit.delete",
        "exit.certificate",
        "exit.accept",
        "exit.overdue",
        # policy and the audit log itself
        "policy.change",
        "audit.export",
        "audit.verify",
    }
)
