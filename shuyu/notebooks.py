"""Executing and rendering notebooks: papermill and nbconvert, one way for every part
(the self-check's report, a reviewer's view of a partner's notebook, production runs)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

KERNEL = "python3"


def _spare_imports() -> None:
    """Keeps imports out of the process that drives papermill which it never uses there
    (the kernel, a process of its own, imports what the notebook asks for)."""
    # jsonschema (imported by papermill's nbformat) compiles an IRI grammar at import,
    # 0.8 s of every run, for a format that no notebook schema uses
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: not importable
    # papermill reaches HDFS through pyarrow.fs when pyarrow is installed (0.13 s); every
    # path papermill is given here is a local file
    sys.modules.setdefault("pyarrow.fs", None)  # type: ignore[arg-type]


@contextmanager
def kernel(cwd: Path) -> Iterator[Any]:
    """A started kernel with `cwd` as its folder, shut down (killed) on leaving. Started
    apart from papermill so that it boots while papermill is imported, or before a run's
    inputs arrive. nbclient's kind of manager (async, on the thread's one event loop):
    with a blocking one papermill would neither see a dead kernel nor time a cell out."""
    from jupyter_client.manager import AsyncKernelManager  # noqa: PLC0415
    from jupyter_core.utils import run_sync  # noqa: PLC0415

    manager = AsyncKernelManager(kernel_name=KERNEL)
    run_sync(manager.start_kernel)(cwd=str(cwd))
    try:
        yield manager
    finally:
        if manager.has_kernel:
            run_sync(manager.shutdown_kernel)(now=True)


def import_papermill() -> Any:
    _spare_imports()
    import papermill  # noqa: PLC0415 - the runner image's

    return papermill


def execute(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any],
    *,
    cwd: Path,
    start_timeout: int = 120,
    execution_timeout: int | None = None,
    started: Any = None,
) -> None:
    """Run `notebook` with papermill (its `parameters` cell overridden) into `output`, on
    the `started` kernel (from `kernel(cwd)`) or one of its own. A kernel that does not
    answer within `start_timeout` seconds, or a cell over `execution_timeout`, fails the
    run instead of hanging it."""
    if started is None:
        with kernel(cwd) as own:
            execute(
                notebook,
                output,
                parameters,
                cwd=cwd,
                start_timeout=start_timeout,
                execution_timeout=execution_timeout,
                started=own,
            )
        return
    import_papermill().execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters,
        kernel_name=KERNEL,
        start_timeout=start_timeout,
        execution_timeout=execution_timeout,
        progress_bar=False,
        # papermill writes the notebook once more when it ends, failed or not; a save
        # after every cell (0.1 s of a short run) only matters to a watcher of the file
        request_save_on_cell_execute=False,
        cwd=str(cwd),
        km=started,
    )


def to_html(notebook: Path, *, hide_code: bool) -> str:
    """The notebook as one HTML page; with `hide_code` only the outputs and the text
    (reports for people who should not need to read code)."""
    import nbformat  # noqa: PLC0415
    from nbconvert import HTMLExporter  # noqa: PLC0415

    node = nbformat.read(str(notebook), as_version=4)  # type: ignore[no-untyped-call]
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        exclude_input=hide_code, exclude_input_prompt=hide_code
    )
    body, _ = exporter.from_notebook_node(node)
    return str(body)
