"""Digests of a model's files: what the self-check saw and the registry holds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from shuyu.fsutil import file_sha256

DIGESTS_TAG = "shuyu.artifact_digests"
"""Version tag: JSON {relative path: sha256} of every file of the registered copy."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def directory_digests(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under `root`."""
    return {
        str(p.relative_to(root)): file_sha256(p) for p in sorted(root.rglob("*")) if p.is_file()
    }


def encode(digests: dict[str, str]) -> str:
    return json.dumps(dict(sorted(digests.items())), separators=(",", ":"))


def decode(text: str) -> dict[str, str]:
    parsed = json.loads(text)
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ValueError("not a {path: sha256} object")
    return parsed
