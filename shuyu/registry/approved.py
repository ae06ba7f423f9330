"""Loading a registered version: every file checked against the digests the gate
recorded, or nothing is loaded."""

from __future__ import annotations

from dataclasses import dataclass

from shuyu.errors import ShuyuError
from shuyu.registry.digests import DIGESTS_TAG, decode, sha256_bytes
from shuyu.tracking.store_client import MlflowStore, ModelVersion, artifact_path_of

APPROVED_ALIAS = "approved"


@dataclass(frozen=True)
class VerifiedModel:
    version: ModelVersion
    files: dict[str, bytes]

    def file(self, name: str) -> bytes:
        return self.files[name]


def load_verified(store: MlflowStore, version: ModelVersion) -> VerifiedModel:
    raw = version.tags.get(DIGESTS_TAG)
    if not raw:
        raise ShuyuError(
            f"{version.name} v{version.version} carries no digests: it was not registered "
            "by the registry gate and is not served"
        )
    try:
        expected = decode(raw)
    except ValueError:
        raise ShuyuError(f"{version.name} v{version.version}: its digest tag is damaged") from None
    root = artifact_path_of(version.source)
    present = {f.path for f in store.list_artifacts(root)}
    if present != set(expected):
        extra = sorted(present - set(expected))
        missing = sorted(set(expected) - present)
        raise ShuyuError(
            f"{version.name} v{version.version}: the registered files changed "
            f"(extra {extra}, missing {missing}); not loaded"
        )
    files: dict[str, bytes] = {}
    for rel, digest in sorted(expected.items()):
        data = store.download(f"{root}/{rel}")
        if sha256_bytes(data) != digest:
            raise ShuyuError(
                f"{version.name} v{version.version}: {rel} differs from what was approved "
                "(sha256 mismatch); not loaded"
            )
        files[rel] = data
    return VerifiedModel(version, files)


def load_approved(store: MlflowStore, name: str, alias: str = APPROVED_ALIAS) -> VerifiedModel:
    version = store.version_by_alias(name, alias)
    if version is None:
        raise ShuyuError(f"{name} has no version with alias {alias!r}")
    return load_verified(store, version)
