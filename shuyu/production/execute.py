"""`python -m shuyu.production.execute`: a production notebook run inside its runner.

Reads /input/run.json (the papermill parameters and timeouts), executes
/input/production.ipynb with papermill into /output/run.ipynb (the working folder is
/output, the one folder it may write) and renders /output/run.html with the code hidden.
The exit status says how it ended, so that the service can tell a failure of the code
from one of the environment (which it retries):
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from shuyu.notebooks import execute, import_papermill, kernel, to_html
from shuyu.production.states import FailureReason
from shuyu.runner.job import INPUTS_READY
from shuyu.sandbox_env import OUTPUT

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


def run(started: Any) -> int:
    """The run on /input: on the `started` kernel, or one of its own (None)."""
    spec = json.loads((INPUT / "run.json").read_text(encoding="utf-8"))
    notebook, html = (Path(OUTPUT) / name for name in RECORD_FILES)
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
