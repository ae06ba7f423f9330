"""configurable-http-proxy for the hub image, installed offline from a host npm cache.

The version is pinned to the last release that supports Node 18 (Debian bookworm's
nodejs); the npm prefix is cached under the hash of the pin, and COPYed into the image.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.fsutil import staged_directory
from shuyu.images.cache import cache_root, digest
from shuyu.images.commands import run

CHP_VERSION = "5.1.0"
"""5.2 and later need Node 20; bookworm ships Node 18."""


def proxy_prefix(say: Callable[[str], None]) -> Path:
    """An npm prefix holding configurable-http-proxy and its dependencies."""
    key = digest([("package", f"configurable-http-proxy@{CHP_VERSION}".encode())])
    target = cache_root() / "npm" / key
    if (target / "node_modules" / "configurable-http-proxy").is_dir():
        say(f"configurable-http-proxy {CHP_VERSION}: cached ({key[:12]})")
        return target
    if shutil.which("npm") is None:
        raise ShuyuError(
            "npm is not installed on this host: `apt-get install npm` (the hub image's "
            "proxy is installed from a host npm cache)"
        )
    say(f"configurable-http-proxy {CHP_VERSION}: npm install …")
    with staged_directory(target) as staging:
        run(
            [
                "npm",
                "install",
                "--prefix",
                str(staging),
                "--omit=dev",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",  # nothing of the package runs on the host
                f"configurable-http-proxy@{CHP_VERSION}",
            ],
            what="npm install configurable-http-proxy",
        )
    return target
