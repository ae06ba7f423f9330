"""数域 shuyu: a secure data sandbox for the authorised operation of public data.

原始数据不出域，数据可用不可见 — raw data never leaves the domain; partners use it
without seeing it.

From a notebook in a sandbox: `shuyu.submit(run_id, scenario, note, spec=None)` and
`shuyu.submission_status(submission_id)` (shuyu.submission_client).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def submit(*args: Any, **kwargs: Any) -> dict[str, Any]:
    from shuyu.submission_client import submit as _submit  # noqa: PLC0415 - needs requests

    return _submit(*args, **kwargs)


def submission_status(submission_id: str) -> dict[str, Any]:
    from shuyu.submission_client import submission_status as _status  # noqa: PLC0415

    return _status(submission_id)
