"""Executing and rendering notebooks: papermill and nbconvert, one way for every part
(the self-check's report, a reviewer's view of a partner's notebook, production runs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

KERNEL = "python3"


def execute(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any],
    *,
    cwd: Path,
    start_timeout: int = 120,
    execution_timeout: int | None = None,
) -> None:
    """Run `notebook` with papermill (its `parameters` cell overridden) into `output`.
    A kernel that does not start within `start_timeout` seconds, or a cell over
    `execution_timeout`, fails the run instead of hanging it."""
    # jsonschema (imported by papermill's nbformat) compiles an IRI grammar at import,
    # 0.8 s of every run, for a format that no notebook schema uses: not in this process
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: not importable
    from jupyter_client.manager import AsyncKernelManager  # noqa: PLC0415
    from jupyter_core.utils import run_sync  # noqa: PLC0415

    # The kernel boots while papermill is imported; papermill waits for it to answer
    # within `start_timeout` as it would for a kernel of its own. nbclient's kind of
    # manager (async, on the thread's one event loop): with a blocking one it would
    # neither see a dead kernel nor time a cell out.
    kernel = AsyncKernelManager(kernel_name=KERNEL)
    run_sync(kernel.start_kernel)(cwd=str(cwd))
    try:
        import papermill  # noqa: PLC0415 - the runner image's

        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=parameters,
            kernel_name=KERNEL,
            start_timeout=start_timeout,
            execution_timeout=execution_timeout,
            progress_bar=False,
            cwd=str(cwd),
            km=kernel,
        )
    finally:
        if kernel.has_kernel:
            run_sync(kernel.shutdown_kernel)(now=True)


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
