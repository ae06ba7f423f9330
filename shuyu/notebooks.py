"""Executing and rendering notebooks: papermill and nbconvert, one way for every part
(the self-check's report, a reviewer's view of a partner's notebook, production runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


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
    import papermill  # noqa: PLC0415 - the runner image's

    papermill.execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters,
        kernel_name="python3",
        start_timeout=start_timeout,
        execution_timeout=execution_timeout,
        progress_bar=False,
        cwd=str(cwd),
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
