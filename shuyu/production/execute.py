"""`python -m shuyu.production.execute`: a production notebook run inside its runner.

Reads /input/run.json (the papermill parameters and timeouts), executes
/input/production.ipynb with papermill into /output/run.ipynb (the working folder is
/output, the one folder it may write) and renders /output/run.html with the code hidden.
Approved wheels among the inputs (`shuyu.production.packages`) are installed first.
The exit status says how it ended, so that the service can tell a failure of the code
from one of the environment (which it retries):
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from shuyu.notebooks import execute, import_papermill, kernel, to_html
from shuyu.production.states import FailureReason
from shuyu.runner.job import INPUTS_READY
from shuyu.sandbox.pip_guide import workspace_prefix
from shuyu.sandbox_env import OUTPUT, WHEELS_ENV

INPUT = Path("/input")
RECORD_FILES: tuple[str, ...] = ("run.ipynb", "run.html")
"""What the platform itself writes beside the outputs: the executed notebook and its HTML
(code hidden). They are always checked (PII, type, size) and never need declaring. Here,
not with the output rules: this process imports no policy model (0.2 s of every run)."""
EXIT_CODES: dict[int, FailureReason] = {
    2: FailureReason.NOTEBOOK_ERROR,
    3: FailureReason.KERNEL_DIED,
    4: FailureReason.KERNEL_START_TIMEOUT,
    5: FailureReason.TIMED_OUT,
}
_CODE_OF = {reason: code for code, reason in EXIT_CODES.items()}


def _failure(exc: BaseException) -> FailureReason:
    # by class name: the runner's nbclient and papermill, not the service's
    name = type(exc).__name__
    if name == "DeadKernelError":
        return FailureReason.KERNEL_DIED
    if name == "CellTimeoutError":
        return FailureReason.TIMED_OUT
    if isinstance(exc, RuntimeError) and "Kernel didn't respond" in str(exc):
        return FailureReason.KERNEL_START_TIMEOUT
    return FailureReason.NOTEBOOK_ERROR


def main(argv: list[str] | None = None) -> int:
    if "--warm" not in (sys.argv[1:] if argv is None else argv):
        return run(None)
    import_papermill()
    import nbconvert.exporters.html  # noqa: F401, PLC0415 - imported while nothing waits

    with kernel(Path(OUTPUT)) as started:
        while not (INPUT / INPUTS_READY).exists():
            time.sleep(0.01)
        return run(started)


def install_wheels(folder: Path) -> str:
    """The approved wheels the service gave this run, installed offline where a
    sandbox installs them (before the kernel starts, so that it finds them); "" or why
    not."""
    wheels = sorted(str(p) for p in folder.glob("*.whl"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--quiet",
            "--prefix",
            str(workspace_prefix()),
            *wheels,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    if done.returncode == 0:
        return ""
    return " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])


def run(started: Any) -> int:
    """The run on /input: on the `started` kernel, or one of its own (None)."""
    spec = json.loads((INPUT / "run.json").read_text(encoding="utf-8"))
    notebook, html = (Path(OUTPUT) / name for name in RECORD_FILES)
    wheels = os.environ.get(WHEELS_ENV, "")
    if wheels and started is None:
        failed = install_wheels(Path(wheels))
        if failed:
            print(f"shuyu-production: the approved packages: {failed}", file=sys.stderr)
            return _CODE_OF[FailureReason.NOTEBOOK_ERROR]
    code = 0
    try:
        execute(
            INPUT / "production.ipynb",
            notebook,
            spec["parameters"],
            cwd=Path(OUTPUT),
            start_timeout=int(spec["start_timeout"]),
            execution_timeout=int(spec["execution_timeout"]),
            started=started,
        )
    except Exception as exc:
        reason = _failure(exc)
        print(f"shuyu-production: {reason.value}: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = _CODE_OF[reason]
    if notebook.is_file():  # papermill writes the notebook as far as it ran
        html.write_text(to_html(notebook, hide_code=True), encoding="utf-8")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
