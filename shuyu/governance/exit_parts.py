"""What an exit deletes, behind three small interfaces, so that the exit's logic runs
against real parts anywhere: the Docker engine's sandboxes and workspace volumes
(`shuyu.governance.exit_docker`), MLflow as its administrator with its artifact store
(`shuyu.governance.exit_mlflow`), and the platform's own files
(`shuyu.governance.exit_files`).

`TREE_LISTING` is the one way a tree of files is listed for the certificate
(`shuyu.tree_listing`), as a script that runs where the files are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shuyu import tree_listing

TREE_LISTING = (
    Path(tree_listing.__file__).read_text(encoding="utf-8") + "\nimport sys\nmain(sys.argv[1:])\n"
)
"""`python3 -c TREE_LISTING <root> [<prefix>…]` prints `tree_listing.list_tree` as JSON."""


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


def parse_listing(text: str) -> list[FileEntry]:
    """`TREE_LISTING`'s output (its last line: tools may print before it)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    rows: list[list[Any]] = json.loads(lines[-1]) if lines else []
    return [FileEntry(str(p), int(s), str(d)) for p, s, d in rows]


def listing_digest(entries: Sequence[FileEntry]) -> str:
    """The sha256 of a sorted listing with sizes and per-file sha256: a volume's."""
    from shuyu.governance.exit_certificate import record_sha256  # noqa: PLC0415

    return record_sha256(sorted([e.path, e.size, e.sha256] for e in entries))


@dataclass(frozen=True)
class Record:
    """Something found to delete: its identifier and what it was (hashed for the
    certificate)."""

    identifier: str
    record: dict[str, Any]


class Workspaces(Protocol):
    """The partner users' sandboxes and workspace volumes."""

    def sandboxes(self, usernames: Sequence[str]) -> list[Record]: ...

    def remove_sandbox(self, name: str) -> None: ...

    def sandbox_exists(self, name: str) -> bool: ...

    def volumes(self, usernames: Sequence[str]) -> list[str]: ...

    def list_volume(self, volume: str) -> list[FileEntry]: ...

    def remove_volume(self, volume: str) -> None: ...

    def volume_exists(self, volume: str) -> bool: ...


class Tracking(Protocol):
    """MLflow as its administrator: accounts, grants, runs, logged models, registry."""

    def experiments(self, partner: str) -> dict[str, str]: ...

    def revoke_grants(self, username: str, experiment_ids: Sequence[str]) -> list[str]: ...

    def disable_login(self, username: str) -> bool: ...

    def runs(self, experiment_ids: Sequence[str]) -> list[Record]: ...

    def logged_models(self, experiment_ids: Sequence[str]) -> list[Record]: ...

    def versions(self, model_name: str) -> list[Record]: ...

    def delete_version(self, model_name: str, version: str) -> None: ...

    def delete_registered_model(self, model_name: str) -> None: ...

    def delete_run(self, run_id: str) -> None: ...

    def delete_logged_model(self, model_id: str) -> None: ...

    def run_exists(self, run_id: str) -> bool: ...

    def logged_model_exists(self, model_id: str) -> bool: ...

    def version_exists(self, model_name: str, version: str) -> bool: ...


class HubLogins(Protocol):
    """The hub's own logins (NativeAuthenticator's accounts)."""

    def remove_login(self, username: str) -> bool: ...


class ArtifactStore(Protocol):
    """MLflow's artifact store as the server sees it, and its hard deletion."""

    def listing(self, prefixes: Sequence[str]) -> list[FileEntry]: ...

    def purge(self, run_ids: Sequence[str], model_ids: Sequence[str]) -> str: ...
