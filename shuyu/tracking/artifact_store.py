"""MLflow's artifact store as the platform reads and deletes it, beside MLflow's own use:
a local folder, or an S3-compatible bucket (with the credentials MLflow itself uses:
AWS_* and MLFLOW_S3_ENDPOINT_URL).

Two readers need it: the guard's per-experiment quota (how many bytes an experiment
holds) and an exit (every file of a run or logged model, with its sha256, then the
deletion, then a listing that finds none). Any other store is refused when the server
starts: a quota that cannot be measured would silently not apply, and a deletion that
cannot be verified would certify nothing."""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from shuyu.errors import InputError
from shuyu.tree_listing import list_tree

ArtifactUsage = Callable[[str], int]
"""experiment id -> bytes stored under it."""


def store_path(relative: str) -> str:
    """`relative` as a path inside the store; refuses one that would leave it."""
    path = posixpath.normpath(relative.strip("/"))
    if path in {"", "."} or path == ".." or path.startswith("../"):
        raise InputError("artifact path", "is not inside the artifact store", value=relative)
    return path


class ArtifactStore(Protocol):
    def usage(self, experiment_id: str) -> int: ...

    def files(self, prefixes: Sequence[str]) -> list[list[object]]:
        """`shuyu.tree_listing.list_tree`'s rows for the files under `prefixes`."""
        ...

    def delete(self, prefix: str) -> None:
        """Every file under `prefix`; nothing when there is none."""
        ...


class LocalArtifacts:
    def __init__(self, root: Path) -> None:
        self.root = root

    def usage(self, experiment_id: str) -> int:
        total = 0
        for folder, _dirs, files in os.walk(self.root / experiment_id):
            for name in files:
                try:
                    total += os.lstat(os.path.join(folder, name)).st_size
                except OSError:
                    continue
        return total

    def files(self, prefixes: Sequence[str]) -> list[list[object]]:
        # no prefix lists nothing, as in a bucket (list_tree would take the whole root)
        if not prefixes:
            return []
        return list_tree(str(self.root), [store_path(p) for p in prefixes])

    def delete(self, prefix: str) -> None:
        shutil.rmtree(self.root / store_path(prefix), ignore_errors=True)


class S3Artifacts:
    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.bucket = bucket
        self.base = prefix.strip("/")
        if client is None:
            import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - S3 stores only

            client = boto3.client(
                "s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None
            )
        self.client = client

    def _key(self, relative: str) -> str:
        return f"{self.base}/{relative}".lstrip("/")

    def _objects(self, prefix: str) -> list[dict[str, Any]]:
        # the folder's own keys only: `1/` must not take in `10/`
        key = self._key(prefix).rstrip("/") + "/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=key
        )
        return [item for page in pages for item in page.get("Contents", [])]

    def usage(self, experiment_id: str) -> int:
        return sum(int(item["Size"]) for item in self._objects(store_path(experiment_id)))

    def files(self, prefixes: Sequence[str]) -> list[list[object]]:
        found: list[list[object]] = []
        start = len(self._key("")) if self.base else 0
        for prefix in prefixes:
            for item in self._objects(store_path(prefix)):
                digest = hashlib.sha256()
                body = self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"]
                while chunk := body.read(1 << 20):
                    digest.update(chunk)
                found.append([item["Key"][start:], int(item["Size"]), digest.hexdigest()])
        return sorted(found)

    def delete(self, prefix: str) -> None:
        keys = [{"Key": item["Key"]} for item in self._objects(store_path(prefix))]
        for batch in range(0, len(keys), 1000):  # S3's limit per request
            done = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": keys[batch : batch + 1000], "Quiet": True}
            )
            if done.get("Errors"):
                first = done["Errors"][0]
                raise OSError(f"S3 refused to delete {first.get('Key')}: {first.get('Message')}")


def artifact_store(destination: str) -> ArtifactStore:
    """The store at `destination` (SHUYU_MLFLOW_ARTIFACTS_DESTINATION)."""
    if not destination:
        raise InputError(
            "SHUYU_MLFLOW_ARTIFACTS_DESTINATION",
            "is not set: the guard measures each experiment's artifacts there "
            "(`shuyu mlflow serve` sets it)",
        )
    parsed = urlparse(destination)
    if parsed.scheme in {"", "file"}:
        return LocalArtifacts(Path(parsed.path if parsed.scheme else destination))
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Artifacts(parsed.netloc, parsed.path)
    raise InputError(
        "SHUYU_MLFLOW_ARTIFACTS_DESTINATION",
        "must be a local folder or s3://bucket/prefix (an S3-compatible store): the "
        "per-experiment quota could not be measured nor an exit's deletion verified elsewhere",
        value=destination,
    )


def usage_for(destination: str) -> ArtifactUsage:
    """The guard's measure for `destination`."""
    return artifact_store(destination).usage


def is_local(destination: str) -> bool:
    return urlparse(destination).scheme in {"", "file"}
