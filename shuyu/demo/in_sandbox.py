"""Work done inside a partner's own sandbox container, as the partner's own user and
kernel: the scenario's `develop.ipynb` executed cell by cell (nbclient, as JupyterLab's
"run all" does, with its parameters cell overridden as papermill would), or a snippet.

The demo reaches the container with `docker exec` because it stands in for the person
at the keyboard; what runs is the partner's code with the partner's rights, in the
container that has no route out."""

from __future__ import annotations

import json
from typing import Any

from shuyu import docker_engine
from shuyu.errors import ShuyuError
from shuyu.settings import PlatformSettings

MARK = "SHUYU-DEMO "

# Runs in the sandbox: the executed copy is kept beside the notebook, as a partner's
# own run would be; the submission sends the notebook as saved (JPY_SESSION_NAME, as
# JupyterLab's kernel has it).
_RUN_NOTEBOOK = """
import json, os, pathlib, sys
import nbformat
from nbclient import NotebookClient
home = pathlib.Path.home()
source = home / "develop.ipynb"
nb = nbformat.read(source, as_version=4)
params = json.loads(sys.argv[1])
at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
injected = "\\n".join(f"{k} = {v!r}" for k, v in params.items())
tags = {"tags": ["injected-parameters"]}
nb.cells.insert(at + 1, nbformat.v4.new_code_cell(injected, metadata=tags))
nb.cells.append(nbformat.v4.new_code_cell(sys.argv[2]))
os.environ["JPY_SESSION_NAME"] = str(source)
where = {"metadata": {"path": str(home)}}
NotebookClient(nb, timeout=3600, kernel_name="python3", resources=where).execute()
nbformat.write(nb, home / "develop-demo.ipynb")
for cell in nb.cells:
    for out in cell.get("outputs", []):
        for line in str(out.get("text", "")).splitlines():
            if line.startswith("MARK"):
                print(line)
""".replace("MARK", MARK)


def sandbox_container(settings: PlatformSettings, username: str) -> Any:
    found = docker_engine.client().containers.list(
        filters={
            "label": [
                "org.shuyu.role=sandbox",
                f"org.shuyu.project={settings.project}",
                f"org.shuyu.user={username}",
            ]
        }
    )
    if not found:
        raise ShuyuError(f"{username} has no running sandbox")
    return found[0]


def _marked(container: Any, command: list[str]) -> dict[str, Any]:
    code, (out, err) = container.exec_run(command, demux=True)
    stdout, stderr = (out or b"").decode(), (err or b"").decode()
    if code != 0:
        raise ShuyuError(f"exit {code} in {container.name}: {stderr.strip()[-1500:]}")
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            found: dict[str, Any] = json.loads(line.removeprefix(MARK))
            return found
    raise ShuyuError(f"no result printed in {container.name}: {stdout[-500:]}")


def run_develop_notebook(container: Any, parameters: dict[str, Any], report: str) -> dict[str, Any]:
    """Execute the workspace's develop.ipynb with `parameters`; `report` is one more
    cell at the end whose printed `MARK + json` line is returned."""
    return _marked(container, ["python", "-c", _RUN_NOTEBOOK, json.dumps(parameters), report])


def run_snippet(container: Any, code: str) -> dict[str, Any]:
    """Run `code` with the sandbox's python; it prints `MARK + json` last."""
    return _marked(container, ["python", "-c", code])
