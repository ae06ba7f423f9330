"""The kernel's `%pip` in a sandbox: `shuyu.sandbox.pip_guide` in place of IPython's own
(loaded by the image's kernel configuration), and a package installed to the workspace
is importable at once, without restarting the kernel."""

from __future__ import annotations

import importlib
import shlex
from typing import Any

from shuyu.sandbox.pip_guide import run_pip


def pip(line: str) -> None:
    code = run_pip(shlex.split(line), lambda text: print(text, end="", flush=True))
    if code == 0:
        # the workspace's packages folder is on the path from the start (the image's
        # .pth), but an import that missed it before it existed was remembered
        importlib.invalidate_caches()


def load_ipython_extension(shell: Any) -> None:
    shell.register_magic_function(pip, "line", "pip")
