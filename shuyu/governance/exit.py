"""Exit (退出): a partner or a consumer leaves, and the platform proves what it deleted.

`ExitDesk.exit_partner` first revokes every access at once, before anything is deleted:
a freeze of the partner (`FreezeDesk`: the hub refuses its spawns and its watch stops
sandboxes), its users' sandbox containers removed now, their MLflow grants on the
partner's experiments revoked and their MLflow passwords replaced by random ones nobody
holds, their hub logins removed, its production jobs disabled. Then it deletes what is
not transferred: the users' workspace volumes; the MLflow runs and logged models of the
partner's experiments with their artifacts (hard-deleted: rows and files, not only
marked deleted); the registered versions of its models other than those given with
`transfer`, and the registry's copies of them; the outbox copies of its runs and its
jobs' files. Each item is read for its sha256 first and timed. A separate verification
pass then looks for each item again; the certificate
(`shuyu.governance.exit_certificate`) records both, and is stored with its sha256 for an
administrator other than the one who ran the exit to accept (验收) within 30 days
(`shuyu.governance.exit_store`).

`exit_consumer`: a freeze of the consumer, every API key revoked and its secret hash
erased, every agreement terminated; the certificate lists the keys.

The parts that delete are interfaces (`shuyu.governance.exit_parts`): the Docker engine,
MLflow as its administrator and its artifact store, the platform's files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from shuyu.audit.events import now_iso
from shuyu.errors import InputError
from shuyu.governance.exit_certificate import Certificate, Check, DeletedItem, ItemKind
from shuyu.governance.exit_certificate import record_sha256 as _sha
from shuyu.governance.exit_files import StateFiles
from shuyu.governance.exit_mlflow import artifact_prefix
from shuyu.governance.exit_parts import (
    ArtifactStore,
    HubLogins,
    Tracking,
    Workspaces,
    listing_digest,
)
from shuyu.governance.exit_states import ExitState
from shuyu.governance.exit_store import ExitRegister, ExitView, erase_key_secrets, key_records
from shuyu.governance.exit_store import require_admin as _require_admin
from shuyu.governance.freeze_desk import FreezeDesk
from shuyu.governance.freezes import FreezeKind, Scope
from shuyu.policy.models import Policies
from shuyu.products.accounts import ProductAccounts
from shuyu.review.service import NotFound, Principal


@dataclass(frozen=True)
class ExitParts:
    workspaces: Workspaces
    tracking: Tracking
    artifacts: ArtifactStore
    files: StateFiles
    logins: HubLogins | None = None  # None: the site's identity provider owns logins


@dataclass
class _Deletion:
    items: list[DeletedItem]
    artifact_prefixes: list[str]


def _item(
    kind: ItemKind, identifier: str, sha256: str, size: int = 0, detail: str = ""
) -> DeletedItem:
    return DeletedItem(kind=kind, identifier=identifier, sha256=sha256, size=size,
                       deleted_at=now_iso(), detail=detail)  # fmt: skip


class ExitDesk:
    def __init__(
        self,
        register: ExitRegister,
        freezes: FreezeDesk,
        policies: Callable[[], Policies],
        parts: ExitParts | None,
        accounts: ProductAccounts | None = None,
    ) -> None:
        self.register = register
        self.freezes = freezes
        self.policies = policies
        self.parts = parts  # None: consumers only (no Docker, no MLflow)
        self.accounts = accounts

    # ------------------------------------------------------------ checks before acting

    def _reason(self, reason: str) -> str:
        if len(reason.strip()) < 4:
            raise InputError("--reason", "say why (at least 4 characters): it is on the "
                             "certificate the bureau accepts", value=reason)  # fmt: skip
        return reason.strip()

    def _not_exited(self, kind: str, subject: str) -> None:
        for found in self.register.open_exits(kind, subject):
            raise InputError(kind, f"has exited already ({found.id}, {found.state.value})",
                             value=subject, hint=f"see `shuyu exit show {found.id}`")  # fmt: skip

    def _freeze(self, who: Principal, scope: Scope, reason: str) -> str:
        try:
            return self.freezes.apply(who, scope, f"退出 / exit: {reason}").id
        except InputError as exc:
            if "frozen already" in str(exc):
                return "already frozen"
            raise

    def _models(self, partner: str) -> list[str]:
        return sorted(
            f"{s.id}.{partner}" for s in self.policies().scenarios.values() if partner in s.partners
        )

    # ------------------------------------------------------------ partner

    def exit_partner(
        self, who: Principal, partner: str, reason: str, transfer: Sequence[str] = ()
    ) -> ExitView:
        _require_admin(who, "exit.revoke", f"partner:{partner}")
        reason = self._reason(reason)
        policies = self.policies()
        if partner not in policies.partners:
            raise InputError("partner", "is not in policies/partners.yaml", value=partner,
                             hint=f"known: {', '.join(sorted(policies.partners))}")  # fmt: skip
        parts = self._parts()
        models = self._models(partner)
        for model in transfer:
            if model not in models:
                raise InputError("--transfer", "is not one of the partner's registered models",
                                 value=model, hint=f"one of {', '.join(models)}")  # fmt: skip
        self._not_exited("partner", partner)
        users = [u.username for u in policies.partners[partner].users]

        # 1. every access at once, before anything is deleted
        frozen = self._freeze(who, Scope(FreezeKind.PARTNER, partner), reason)
        stopped: list[DeletedItem] = []
        for sandbox in parts.workspaces.sandboxes(users):
            parts.workspaces.remove_sandbox(sandbox.identifier)
            stopped.append(_item(ItemKind.CONTAINER, sandbox.identifier, _sha(sandbox.record),
                                 detail=str(sandbox.record.get("image", ""))))  # fmt: skip
        experiments = parts.tracking.experiments(partner)
        grants, logins = [], []
        for user in users:
            grants += [
                f"{user}@{e}"
                for e in parts.tracking.revoke_grants(user, list(experiments.values()))
            ]
            if parts.tracking.disable_login(user):
                logins.append(user)
        logins_ = parts.logins
        hub_logins = [u for u in users if logins_ is not None and logins_.remove_login(u)]
        jobs = self.register.disable_jobs(who, partner)
        view = self.register.open_exit(
            who,
            "partner",
            partner,
            reason=reason,
            revoked={
                "freeze": [frozen],
                "sandboxes": [s.identifier for s in stopped],
                "mlflow_grants": grants,
                "mlflow_logins": logins,
                "hub_logins": hub_logins,
                "production_jobs": jobs,
            },
            transferred=transfer,
        )
        return self._delete_partner(who, view, users, experiments, models=models, stopped=stopped)

    def _delete_partner(
        self,
        who: Principal,
        view: ExitView,
        users: list[str],
        experiments: dict[str, str],
        *,
        models: list[str],
        stopped: list[DeletedItem],
    ) -> ExitView:
        self.register.move(view.id, ExitState.DELETING)
        deleted = self._delete_workspaces(users)
        mlflow = self._delete_mlflow(experiments, [m for m in models if m not in view.transferred])
        files = self._delete_files(view.subject)
        items = stopped + deleted + mlflow.items + files
        return self._certify(who, view, items, self._verify(items, mlflow.artifact_prefixes))

    def _parts(self) -> ExitParts:
        if self.parts is None:
            raise InputError("exit", "a partner's exit needs Docker and MLflow: run it on "
                             "the host (`shuyu exit partner`)")  # fmt: skip
        return self.parts

    def _delete_workspaces(self, users: list[str]) -> list[DeletedItem]:
        """Each workspace volume listed read-only (its digest), then removed."""
        workspaces = self._parts().workspaces
        items = []
        for volume in workspaces.volumes(users):
            entries = workspaces.list_volume(volume)
            digest = listing_digest(entries)
            workspaces.remove_volume(volume)
            size = sum(max(e.size, 0) for e in entries)
            items.append(_item(ItemKind.VOLUME, volume, digest, size, f"{len(entries)} files"))
        return items

    def _delete_mlflow(self, experiments: dict[str, str], models: list[str]) -> _Deletion:
        """The partner's runs and logged models, and the registered versions of `models`
        with the registry's copies: listed in the artifact store first, then deleted
        softly through the API and hard in the store."""
        tracking, store = self._parts().tracking, self._parts().artifacts
        prefixes = sorted(experiments.values())
        versions = [(m, v) for m in models for v in tracking.versions(m)]
        registry_runs = [str(v.record.get("run_id") or "") for _m, v in versions]
        registry_runs = [r for r in registry_runs if r]
        for _model, version in versions:
            source = str(version.record.get("source") or "")
            if source.startswith("mlflow-artifacts:"):
                prefixes.append(artifact_prefix(source).split("/artifacts/")[0])
        runs = tracking.runs(list(experiments.values()))
        own = {r.identifier for r in runs}
        # a version registered straight from the partner's run is deleted once
        registry_runs = sorted(set(registry_runs) - own)
        logged = tracking.logged_models(list(experiments.values()))
        before = store.listing(prefixes)
        items = []
        for model, version in versions:
            tracking.delete_version(model, version.identifier)
            items.append(
                _item(
                    ItemKind.REGISTERED_VERSION,
                    f"{model}/{version.identifier}",
                    _sha(version.record),
                )
            )
        for model in sorted({m for m, _v in versions}):
            tracking.delete_registered_model(model)
        for run in runs:
            if run.record.get("lifecycle_stage") != "deleted":
                tracking.delete_run(run.identifier)
        for run_id in registry_runs:
            tracking.delete_run(run_id)
        for model_record in logged:
            tracking.delete_logged_model(model_record.identifier)
        store.purge([r.identifier for r in runs] + registry_runs, [m.identifier for m in logged])
        items += [_item(ItemKind.RUN, r.identifier, _sha(r.record)) for r in runs]
        items += [
            _item(ItemKind.RUN, r, _sha({"run_id": r, "registry": True})) for r in registry_runs
        ]
        items += [_item(ItemKind.LOGGED_MODEL, m.identifier, _sha(m.record)) for m in logged]
        items += [_item(ItemKind.ARTIFACT, e.path, e.sha256, e.size) for e in before]
        return _Deletion(items, prefixes)

    def _delete_files(self, partner: str) -> list[DeletedItem]:
        """The outbox copies of the partner's production runs and its jobs' files."""
        files = self._parts().files
        items: list[DeletedItem] = []
        for job_id, scenario, job_runs in self.register.partner_jobs(partner):
            outbox = [(ItemKind.OUTBOX_FILE, files.outbox_folder(scenario, r)) for r in job_runs]
            kept = [(ItemKind.JOB_FILE, f) for f in files.job_folders([job_id], job_runs)]
            for kind, folder in outbox + kept:
                entries = files.listing(folder)
                files.remove(folder)
                items += [_item(kind, e.path, e.sha256, e.size) for e in entries]
        return items

    # ------------------------------------------------------------ consumer

    def exit_consumer(self, who: Principal, consumer: str, reason: str) -> ExitView:
        _require_admin(who, "exit.revoke", f"consumer:{consumer}")
        reason = self._reason(reason)
        if self.accounts is None:
            raise InputError("exit", "a consumer's exit needs the product accounts")
        found = self.accounts.consumer(consumer)  # NotFound names it
        self._not_exited("consumer", consumer)
        frozen = self._freeze(who, Scope(FreezeKind.CONSUMER, consumer), reason)
        why = f"退出 / exit: {reason}"
        revoked = [k.id for k in found.keys if k.status != "revoked"]
        for key_id in revoked:
            self.accounts.revoke_key(who, key_id, why)
        terminated = [a.product for a in found.agreements if a.status != "terminated"]
        for product in terminated:
            self.accounts.terminate_agreement(who, consumer, product, why)
        view = self.register.open_exit(
            who,
            "consumer",
            consumer,
            reason=reason,
            revoked={"freeze": [frozen], "api_keys": revoked, "agreements": terminated},
        )
        self.register.move(view.id, ExitState.DELETING)
        records = key_records(self.register.db, consumer)
        erase_key_secrets(self.register.db, [r["id"] for r in records])
        items = [_item(ItemKind.API_KEY, str(r["id"]), _sha(r)) for r in records]
        return self._certify(who, view, items, self._verify(items, []))

    # ------------------------------------------------------------ verification

    def _verify(self, items: list[DeletedItem], prefixes: list[str]) -> list[Check]:
        """Look for every item again, each where it lived."""
        parts = self.parts
        remaining: set[str] = set()
        if parts is not None and prefixes:
            remaining = {e.path for e in parts.artifacts.listing(prefixes)}
        keys = {r["id"]: r for r in self._keys(items)}
        checks = []
        for item in items:
            absent, how = self._absent(item, remaining, keys)
            checks.append(Check(kind=item.kind, identifier=item.identifier, absent=absent,
                                how=how, checked_at=now_iso()))  # fmt: skip
        for prefix in prefixes:  # nothing at all is left under what went
            left = sorted(p for p in remaining if p == prefix or p.startswith(prefix + "/"))
            checks.append(Check(kind=ItemKind.ARTIFACT, identifier=f"{prefix}/", absent=not left,
                                how="artifact store listing: no file under the folder"
                                + (f" ({len(left)} left: {left[0]})" if left else ""),
                                checked_at=now_iso()))  # fmt: skip
        return checks

    def _keys(self, items: list[DeletedItem]) -> list[dict[str, object]]:
        from shuyu.products.tables import ApiKeyRow  # noqa: PLC0415

        wanted = [i.identifier for i in items if i.kind is ItemKind.API_KEY]
        if not wanted:
            return []
        with self.register.db.session() as session:
            rows = session.scalars(select(ApiKeyRow).where(ApiKeyRow.id.in_(wanted)))
            return [{"id": r.id, "status": r.status, "secret_hash": r.secret_hash} for r in rows]

    def _absent(  # noqa: PLR0911 - one answer per kind of item
        self, item: DeletedItem, remaining: set[str], keys: dict[object, dict[str, object]]
    ) -> tuple[bool, str]:
        kind, ident = item.kind, item.identifier
        if kind is ItemKind.API_KEY:
            key = keys.get(ident)
            gone = key is None or (key["status"] == "revoked" and not key["secret_hash"])
            return gone, "api key revoked and its secret hash erased"
        parts = self._parts()
        if kind is ItemKind.VOLUME:
            return not parts.workspaces.volume_exists(ident), "docker volume inspect"
        if kind is ItemKind.CONTAINER:
            return not parts.workspaces.sandbox_exists(ident), "docker container inspect"
        if kind is ItemKind.RUN:
            return not parts.tracking.run_exists(ident), "MLflow runs/get answers 404"
        if kind is ItemKind.LOGGED_MODEL:
            return not parts.tracking.logged_model_exists(ident), "MLflow logged-models/get 404"
        if kind is ItemKind.REGISTERED_VERSION:
            model, _, version = ident.rpartition("/")
            return not parts.tracking.version_exists(model, version), "model-versions/get 404"
        if kind is ItemKind.ARTIFACT:
            return ident not in remaining, "artifact store listing in the MLflow server"
        return not parts.files.exists(ident), "file system"

    def _certify(
        self, who: Principal, view: ExitView, items: list[DeletedItem], checks: list[Check]
    ) -> ExitView:
        subject_name = ""
        if view.kind == "partner":
            subject_name = self.policies().partners[view.subject].name
        elif self.accounts is not None:
            subject_name = self.accounts.consumer(view.subject).name
        certificate = Certificate(
            exit_id=view.id,
            kind=view.kind,
            subject=view.subject,
            subject_name=subject_name,
            reason=view.reason,
            exited_by=view.exited_by,
            exit_date=view.exit_date.isoformat(),
            deadline=view.deadline.isoformat(),
            revoked=view.revoked,
            transferred=view.transferred,
            items=items,
            checks=checks,
            verified_at=now_iso(),
        )
        return self.register.store_certificate(who, certificate)

    # ------------------------------------------------------------ a second pass

    def redo(self, who: Principal, exit_id: str) -> ExitView:
        """After a failed verification, or a deletion that stopped half-way: delete
        again what is still there, and verify. (What a stopped pass deleted before it
        stopped is not on the certificate; the audit log has the exit's start.)"""
        view = self.register.get(who, exit_id)
        again = {ExitState.VERIFICATION_FAILED, ExitState.DELETING, ExitState.REVOKED}
        if view.state not in again:
            raise InputError("exit", f"is {view.state.value}: only an unfinished deletion or "
                             "a failed verification is run again", value=exit_id)  # fmt: skip
        if view.kind == "consumer":
            raise NotFound("a consumer's exit has nothing left to delete again")
        partner = view.subject
        users = [u.username for u in self.policies().partners[partner].users]
        experiments = self._parts().tracking.experiments(partner)
        return self._delete_partner(
            who, view, users, experiments, models=self._models(partner), stopped=[]
        )
