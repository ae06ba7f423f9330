"""Loading a registered version: every file checked against the digests the gate
recorded, or nothing is loaded; for production, also against the signed approval
record (what the reviewers approved), which the version's own tags cannot fake."""

from __future__ import annotations

from dataclasses import dataclass

from shuyu.errors import ShuyuError
from shuyu.registry.approval import APPROVAL_TAG, SIGNATURE_TAG, ApprovalRecord, verify
from shuyu.registry.digests import DIGESTS_TAG, decode, sha256_bytes
from shuyu.tracking.store_client import MlflowStore, ModelVersion, artifact_path_of

APPROVED_ALIAS = "approved"


class NotApproved(ShuyuError):
    """No version behind the alias, or one without a verifiable approval record."""


class ModelChanged(ShuyuError):
    """The registered files differ from what the gate recorded or the reviewers approved."""


@dataclass(frozen=True)
class VerifiedModel:
    version: ModelVersion
    files: dict[str, bytes]

    def file(self, name: str) -> bytes:
        return self.files[name]


def load_verified(store: MlflowStore, version: ModelVersion) -> VerifiedModel:
    raw = version.tags.get(DIGESTS_TAG)
    if not raw:
        raise NotApproved(
            f"{version.name} v{version.version} carries no digests: it was not registered "
            "by the registry gate and is not served"
        )
    try:
        expected = decode(raw)
    except ValueError:
        raise ModelChanged(
            f"{version.name} v{version.version}: its digest tag is damaged"
        ) from None
    root = artifact_path_of(version.source)
    present = {f.path for f in store.list_artifacts(root)}
    if present != set(expected):
        extra = sorted(present - set(expected))
        missing = sorted(set(expected) - present)
        raise ModelChanged(
            f"{version.name} v{version.version}: the registered files changed "
            f"(extra {extra}, missing {missing}); not loaded"
        )
    files: dict[str, bytes] = {}
    for rel, digest in sorted(expected.items()):
        data = store.download(f"{root}/{rel}")
        if sha256_bytes(data) != digest:
            raise ModelChanged(
                f"{version.name} v{version.version}: {rel} differs from what was approved "
                "(sha256 mismatch); not loaded"
            )
        files[rel] = data
    return VerifiedModel(version, files)


def load_approved(store: MlflowStore, name: str, alias: str = APPROVED_ALIAS) -> VerifiedModel:
    version = store.version_by_alias(name, alias)
    if version is None:
        raise NotApproved(f"{name} has no version with alias {alias!r}")
    return load_verified(store, version)


@dataclass(frozen=True)
class ApprovedModel:
    model: VerifiedModel
    record: ApprovalRecord

    @property
    def onnx(self) -> tuple[str, bytes]:
        """The model's ONNX file: (relative path, bytes)."""
        found = sorted(p for p in self.model.files if p.endswith(".onnx"))
        if len(found) != 1:
            raise ModelChanged(
                f"{self.model.version.name} v{self.model.version.version}: expected one "
                f"ONNX file, found {found}"
            )
        return found[0], self.model.files[found[0]]


def load_approved_record(
    store: MlflowStore, name: str, key: bytes, alias: str = APPROVED_ALIAS
) -> ApprovedModel:
    """The version behind `alias`, its files verified twice: against the gate's digests
    and against the model digests of its approval record, whose signature (the approval
    key) must verify."""
    verified = load_approved(store, name, alias)
    tags = verified.version.tags
    label = f"{name} v{verified.version.version}"
    problem = verify(tags.get(APPROVAL_TAG), tags.get(SIGNATURE_TAG), key)
    if problem is not None:
        raise NotApproved(f"{label}: {problem}")
    record = ApprovalRecord.model_validate_json(tags[APPROVAL_TAG])
    if record.model_name != name:
        raise NotApproved(f"{label}: its approval record is for {record.model_name}")
    seen = {rel: sha256_bytes(data) for rel, data in verified.files.items()}
    if seen != record.model_digests:
        raise ModelChanged(f"{label}: the files differ from the ones the reviewers approved")
    return ApprovedModel(verified, record)


@dataclass(frozen=True)
class RegistryModels:
    """Approved models as production reads them: from the registry, through the gate's
    account (the only one that reads the registry copies), verified each time."""

    store: MlflowStore
    approval_key: bytes

    def approved(self, model_name: str) -> ApprovedModel:
        return load_approved_record(self.store, model_name, self.approval_key)
