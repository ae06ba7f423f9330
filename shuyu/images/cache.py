"""Where image inputs are cached on the host, and how their content is hashed.

Every cached artefact (rootfs tarball, wheelhouse, npm prefix) lives under a directory
named for the hash of what produced it, so that a cache hit is a lookup and a change in
any input is a new directory, never a stale one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from shuyu.settings import HostSettings


def cache_root() -> Path:
    """$SHUYU_CACHE, else ~/.cache/shuyu (XDG_CACHE_HOME respected)."""
    configured = HostSettings.from_env().cache
    if configured:
        return configured
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "shuyu"


def digest(parts: Iterable[tuple[str, bytes]]) -> str:
    """sha256 over named parts; names are included so that moving bytes between parts
    changes the hash."""
    h = hashlib.sha256()
    for name, data in parts:
        h.update(name.encode("utf-8") + b"\0")
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()
