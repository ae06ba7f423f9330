"""Looking into a running container as the partner (or as root) would."""

from __future__ import annotations

import json
import subprocess
from typing import Any


def inspect(name: str) -> dict[str, Any]:
    out = subprocess.run(["docker", "inspect", name], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]  # type: ignore[no-any-return]


def exec_in(
    container: str,
    *cmd: str,
    user: str | None = None,
    stdin: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` in the container (as its own user unless `user` is given)."""
    args = ["docker", "exec", *(["-i"] if stdin is not None else [])]
    args += ["--user", user] if user else []
    return subprocess.run(
        [*args, container, *cmd],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        input=stdin,
    )


def python_in(container: str, code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return exec_in(container, "python", "-c", code, timeout=timeout)
