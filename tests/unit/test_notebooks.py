"""Executing a notebook (`shuyu.notebooks.execute`, papermill with the kernel started
before papermill is imported): a kernel that dies or a cell over its time ends the run
with an error, never a hang, and no kernel outlives the run.

On a real local kernel (ipykernel); the runner image runs the same code
(tests/integration/test_production_runs.py kills a kernel inside a real runner)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import nbformat
import pytest

from shuyu.notebooks import execute

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _notebook(path: Path, *sources: str) -> Path:
    node = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    parameters = nbformat.v4.new_code_cell("greeting = 'hi'")  # type: ignore[no-untyped-call]
    parameters.metadata["tags"] = ["parameters"]
    cells = [nbformat.v4.new_code_cell(s) for s in sources]  # type: ignore[no-untyped-call]
    node.cells = [parameters, *cells]
    node.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nbformat.write(node, str(path))  # type: ignore[no-untyped-call]
    return path


def _run(tmp_path: Path, notebook: Path, **kw: object) -> BaseException | None:
    """Runs `execute` in a thread; what it raised, or None. Fails if it hangs."""
    raised: list[BaseException | None] = []

    def target() -> None:
        try:
            execute(notebook, tmp_path / "out.ipynb", {"greeting": "你好"}, cwd=tmp_path, **kw)  # type: ignore[arg-type]
            raised.append(None)
        except BaseException as exc:  # handed to the test
            raised.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the run hung"
    return raised[0]


def _kernel_pid_file(tmp_path: Path) -> str:
    return f"open({str(tmp_path / 'kernel.pid')!r}, 'w').write(str(__import__('os').getpid()))"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers until it is reaped: read its state
    state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    return state == "Z"


def test_a_notebook_runs_with_its_parameters_in_its_folder_and_leaves_no_kernel(
    tmp_path: Path,
) -> None:
    notebook = _notebook(
        tmp_path / "nb.ipynb",
        _kernel_pid_file(tmp_path),
        "import os; print(greeting, os.getcwd())",
    )
    assert _run(tmp_path, notebook) is None
    ran = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)  # type: ignore[no-untyped-call]
    printed = ran.cells[-1].outputs[0]["text"]
    assert printed.strip() == f"你好 {tmp_path}"
    assert _gone(int((tmp_path / "kernel.pid").read_text()))


def test_a_kernel_that_dies_mid_run_fails_the_run_instead_of_hanging_it(tmp_path: Path) -> None:
    notebook = _notebook(
        tmp_path / "nb.ipynb",
        _kernel_pid_file(tmp_path),
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
        "print('never')",
    )
    raised = _run(tmp_path, notebook)
    assert type(raised).__name__ == "DeadKernelError"  # shuyu.production.execute's exit 3


def test_a_cell_over_its_time_fails_the_run_and_its_kernel_is_stopped(tmp_path: Path) -> None:
    notebook = _notebook(
        tmp_path / "nb.ipynb", _kernel_pid_file(tmp_path), "import time; time.sleep(60)"
    )
    raised = _run(tmp_path, notebook, execution_timeout=2)
    assert type(raised).__name__ == "CellTimeoutError"  # exit 5
    assert _gone(int((tmp_path / "kernel.pid").read_text()))
