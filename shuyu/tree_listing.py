"""The one way a tree of files is listed for a deletion certificate: every regular file
under the given folders, relative path, size and sha256, sorted; links are named, never
followed.

Standard library only, because `shuyu.governance.exit_parts.TREE_LISTING` (this module's
source and a call to `main`) runs where the files are: in a short-lived helper container
over a volume mounted read-only, or here over a local folder; inside the MLflow container
`shuyu.tracking.artifact_store` calls `list_tree` itself."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence


def list_tree(root: str, prefixes: Sequence[str] = ()) -> list[list[object]]:
    """[[relative path, size (-1 for a link or special file), sha256 or 'link:<target>']]"""
    found: list[list[object]] = []
    for prefix in list(prefixes) or [""]:
        top = os.path.join(root, prefix) if prefix else root
        for folder, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, root)
                if os.path.islink(path) or not os.path.isfile(path):
                    target = os.readlink(path) if os.path.islink(path) else ""
                    found.append([rel, -1, "link:" + target])
                    continue
                digest = hashlib.sha256()
                with open(path, "rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(chunk)
                found.append([rel, os.path.getsize(path), digest.hexdigest()])
    return sorted(found)


def main(argv: Sequence[str]) -> None:
    print(json.dumps(list_tree(argv[0], argv[1:])))
