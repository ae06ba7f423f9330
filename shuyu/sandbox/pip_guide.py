"""`pip` in a sandbox (the terminal's `pip`, and the kernel's `%pip` through
`shuyu.sandbox.pip_magic`): pip itself, against the in-domain index, and one clear
sentence when it could not find a package — the index serves approved packages only,
and pip alone would say "No matching distribution found" as if the name were wrong.

pip runs as it is (`python -m pip`); its output is passed on as it comes. Installs go to
the partner's workspace (`~/.local`: the root is read-only, so pip defaults to a user
install), under the image's own pins as constraints (pip.conf): nothing installed can
replace what the platform's code was tested with.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

NOT_FOUND = re.compile(r"No matching distribution found for ([^\s;]+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # a kernel asks its children for colour
PAGE = "/services/shuyu/packages"
ELSEWHERE = ("--target", "-t", "--prefix", "--root")


def workspace_prefix() -> Path:
    """Where installs go: `~/.local`, whose site-packages the image's .pth puts on every
    Python's path after the image's own (a venv knows no user site: `--user` would be
    refused, so it becomes this prefix)."""
    return Path.home() / ".local"


def pip_args(args: Sequence[str]) -> list[str]:
    """`args` with an install sent to the workspace: `--user` dropped, the prefix added,
    unless the command names a place of its own."""
    command = next((i for i, a in enumerate(args) if not a.startswith("-")), None)
    if command is None or args[command] != "install":
        return list(args)
    rest = [a for a in args[command + 1 :] if a != "--user"]
    if any(a == flag or a.startswith(f"{flag}=") for a in rest for flag in ELSEWHERE):
        return [*args[: command + 1], *rest]
    return [*args[: command + 1], "--prefix", str(workspace_prefix()), *rest]


def guidance(missing: Sequence[str]) -> str:
    names = ", ".join(missing)
    return (
        f"shuyu: {names} 不在平台已批准的软件包中（或没有适用于本沙箱的 wheel）。"
        f"请在平台的软件包页面申请：{PAGE}\n"
        f"shuyu: {names} is not approved (or has no wheel for this sandbox); "
        f"request it on the packages page: {PAGE}\n"
    )


def run_pip(args: Sequence[str], write: Callable[[str], object]) -> int:
    """pip with `args`, every line of its output given to `write`; its exit status."""
    missing: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-m", "pip", *pip_args(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as pip:
        assert pip.stdout is not None
        for line in pip.stdout:
            write(line)
            found = NOT_FOUND.search(ANSI.sub("", line))
            if found:
                missing.append(found.group(1))
        code = pip.wait()
    if code != 0 and missing:
        write(guidance(missing))
    return code


def main() -> int:
    def echo(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    return run_pip(sys.argv[1:], echo)


if __name__ == "__main__":
    raise SystemExit(main())
