"""Submitting a run for review from a notebook in the sandbox:

    import shuyu
    shuyu.submit(run_id, "bank_credit", note="DP MLP, 10 epochs")
    shuyu.submit(run_id, "bank_credit", spec="spec.yaml")   # certified: the platform trains
    shuyu.submission_status("20261201-ab12cd34")

(`shuyu.submit` and `shuyu.submission_status` call this module.)

The notebook itself goes with the submission (the self-check scans it statically and
reviewers read it): the running kernel's notebook (Jupyter's JPY_SESSION_NAME), or
`notebook=` a path in the workspace. Only `requests` and the standard library are used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import requests
import yaml

from shuyu.errors import InputError, ShuyuError
from shuyu.sandbox_env import SUBMIT_TOKEN_ENV, SUBMIT_URL_ENV


def _endpoint() -> tuple[str, dict[str, str]]:
    url, token = os.environ.get(SUBMIT_URL_ENV, ""), os.environ.get(SUBMIT_TOKEN_ENV, "")
    if not url or not token:
        raise ShuyuError(
            "this is not a sandbox that may submit (no submission endpoint in its "
            f"environment: {SUBMIT_URL_ENV}); submit from your sandbox, or on the service's page"
        )
    return url.rstrip("/"), {"Authorization": f"token {token}"}


def _read_spec(spec: str | Path | dict[str, Any] | None) -> dict[str, Any] | None:
    if spec is None or isinstance(spec, dict):
        return spec
    path = Path(spec)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(str(path), f"cannot read the spec ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise InputError(str(path), f"not YAML or JSON: {exc}") from None
    if not isinstance(loaded, dict):
        raise InputError(str(path), "a training spec is a mapping of settings")
    return loaded


def _notebook(notebook: str | Path | None) -> tuple[str, str | None]:
    chosen = notebook or os.environ.get("JPY_SESSION_NAME") or ""
    if not chosen:
        return "", None
    path = Path(chosen)
    if not path.is_absolute():
        path = Path.home() / path
    try:
        return path.name, path.read_text(encoding="utf-8")
    except OSError:
        return path.name, None


def submit(
    run_id: str,
    scenario: str,
    note: str = "",
    spec: str | Path | dict[str, Any] | None = None,
    *,
    notebook: str | Path | None = None,
) -> dict[str, Any]:
    """Submit `run_id` (with `spec`: for certified training by the platform) for the
    self-check and the review; returns the submission (id, state …)."""
    url, headers = _endpoint()
    name, text = _notebook(notebook)
    body = {
        "run_id": run_id,
        "scenario": scenario,
        "note": note,
        "spec": _read_spec(spec),
        "notebook_name": name,
        "notebook": text,
    }
    answer = requests.post(f"{url}/api/v1/submissions", json=body, headers=headers, timeout=60)
    if answer.status_code != 201:
        raise ShuyuError(f"submission refused ({answer.status_code}): {_detail(answer)}")
    made: dict[str, Any] = answer.json()
    print(f"已提交 / submitted: {made['id']} ({made['state']})")
    return made


def submission_status(submission_id: str) -> dict[str, Any]:
    url, headers = _endpoint()
    answer = requests.get(f"{url}/api/v1/submissions/{submission_id}", headers=headers, timeout=60)
    if answer.status_code != 200:
        raise ShuyuError(f"cannot read {submission_id} ({answer.status_code}): {_detail(answer)}")
    found: dict[str, Any] = answer.json()
    return found


def _detail(answer: requests.Response) -> str:
    try:
        return str(answer.json().get("detail", answer.text))[:500]
    except (ValueError, json.JSONDecodeError):
        return answer.text[:500]
